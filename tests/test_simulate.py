"""The simulator: determinism, the contract of its output, realism, and a calibrated oracle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from engagement_score import io
from engagement_score import simulate as sim
from engagement_score.contract import TIMESTAMP_DTYPE, ContractError

LIGHT_TOUCH = {"login", "points_redeemed", "like_given"}
DAY = pd.Timedelta(days=1)


@pytest.fixture(scope="module")
def config() -> sim.SimulationConfig:
    return sim.SimulationConfig(n_advocates=2000, n_days=400, seed=3)


@pytest.fixture(scope="module")
def program(config: sim.SimulationConfig) -> sim.SimulatedChunk:
    return sim.simulate_program(config)


def engaged_label(events: pd.DataFrame, ids: pd.Series, as_of: pd.Timestamp) -> np.ndarray:
    window = events[
        (events["occurred_at"] >= as_of)
        & (events["occurred_at"] < as_of + 30 * DAY)
        & (events["event_type"] != "login")
    ]
    return ids.isin(window["advocate_id"]).to_numpy()


# ----------------------------------------------------------------------------- shape and contract


def test_frames_have_canonical_columns_and_types(program: sim.SimulatedChunk) -> None:
    events, advocates, truth = program.events, program.advocates, program.truth
    assert list(events.columns) == [
        "advocate_id",
        "occurred_at",
        "event_type",
        "source",
        "value",
        "event_id",
    ]
    assert events["occurred_at"].dtype == TIMESTAMP_DTYPE
    assert events["value"].dtype == "float64"
    assert events["event_id"].is_unique
    assert set(events["source"]) == {"portal", "community"}
    assert set(events["event_type"]) == set(sim.TYPE_NAMES)
    assert advocates["advocate_id"].is_unique
    assert advocates["advocate_id"].str.fullmatch(r"A\d{6}").all()
    assert advocates["joined_at"].dtype == TIMESTAMP_DTYPE
    assert advocates["community_connected_at"].dtype == TIMESTAMP_DTYPE
    assert {"region", "account_tier"} <= set(advocates.columns)
    assert {"advocate_id", "date", "archetype", "regime", "qualifying_rate"} <= set(truth.columns)
    assert set(truth["regime"]) == set(sim.REGIME_NAMES)


def test_events_sorted_and_within_period_and_membership(
    config: sim.SimulationConfig, program: sim.SimulatedChunk
) -> None:
    events, advocates = program.events, program.advocates
    key = events[["advocate_id", "occurred_at"]]
    assert key.equals(key.sort_values(["advocate_id", "occurred_at"], ignore_index=True))
    assert events["occurred_at"].min() >= config.start
    assert events["occurred_at"].max() < config.end
    merged = events.merge(advocates, on="advocate_id", how="left", validate="many_to_one")
    assert (merged["occurred_at"] >= merged["joined_at"]).all()
    community = merged[merged["source"] == "community"]
    assert community["community_connected_at"].notna().all()
    assert (community["occurred_at"] >= community["community_connected_at"]).all()


def test_joins_spread_over_period_and_about_half_connect(
    config: sim.SimulationConfig, program: sim.SimulatedChunk
) -> None:
    advocates = program.advocates
    in_period = advocates["joined_at"] >= config.start
    assert 0.65 < in_period.mean() < 0.85  # a quarter joined before the exported period
    joined_days = (advocates.loc[in_period, "joined_at"] - config.start) / DAY
    quarters = np.histogram(joined_days, bins=4, range=(0, config.n_days))[0]
    assert quarters.min() > 0.15 * in_period.sum()  # joins all along the period
    connected = advocates["community_connected_at"].notna()
    assert 0.35 < connected.mean() < 0.55
    delays = advocates["community_connected_at"] - advocates["joined_at"]
    assert (delays[connected] >= pd.Timedelta(0)).all()
    assert (delays[connected] > 7 * DAY).mean() > 0.4  # connected from dates of their own


def test_event_mix_is_realistic(program: sim.SimulatedChunk) -> None:
    share = program.events["event_type"].value_counts(normalize=True)
    assert share["login"] == share.max()
    assert 0.3 < share["login"] < 0.7
    assert share["referral_submitted"] > share["case_study_published"]
    points = program.events.groupby("event_type")["value"]
    assert (points.max()["points_redeemed"]) < 0  # redemptions spend points
    assert points.min()["case_study_published"] > points.max()["content_shared"]


# ----------------------------------------------------------------------------- determinism


def test_same_seed_same_program_and_other_seed_differs() -> None:
    config = sim.SimulationConfig(n_advocates=300, n_days=120, seed=11)
    first, again = sim.simulate_program(config), sim.simulate_program(config)
    for name in ("events", "advocates", "truth"):
        pd.testing.assert_frame_equal(getattr(first, name), getattr(again, name))
    other = sim.simulate_program(sim.SimulationConfig(n_advocates=300, n_days=120, seed=12))
    assert not first.advocates.equals(other.advocates)
    assert len(first.events) != len(other.events) or not first.events.equals(other.events)


def test_chunk_size_does_not_change_the_program() -> None:
    small = sim.SimulationConfig(n_advocates=2300, n_days=90, seed=5, chunk_size=1000)
    large = sim.SimulationConfig(n_advocates=2300, n_days=90, seed=5, chunk_size=50_000)
    assert (small.n_chunks, large.n_chunks) == (3, 1)
    a, b = sim.simulate_program(small), sim.simulate_program(large)
    for name in ("events", "advocates", "truth"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    middle = sim.simulate_chunk(small, 1)
    ids = middle.advocates["advocate_id"]
    assert ids.iloc[0] == "A001000" and ids.iloc[-1] == "A001999"
    expected = b.events[b.events["advocate_id"].isin(ids)].reset_index(drop=True)
    pd.testing.assert_frame_equal(middle.events, expected)


@settings(max_examples=8, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=40),
    days=st.integers(min_value=60, max_value=120),
    seed=st.integers(min_value=0, max_value=2**31),
)
def test_any_small_program_keeps_the_invariants(n: int, days: int, seed: int) -> None:
    config = sim.SimulationConfig(n_advocates=n, n_days=days, seed=seed)
    program = sim.simulate_program(config)
    events, advocates = program.events, program.advocates
    assert len(advocates) == n
    assert events["event_id"].is_unique
    assert events["advocate_id"].isin(advocates["advocate_id"]).all()
    assert ((events["occurred_at"] >= config.start) & (events["occurred_at"] < config.end)).all()


# ----------------------------------------------------------------------------- writing


def test_write_program_streams_files_that_pass_the_contract(tmp_path: Path) -> None:
    config = sim.SimulationConfig(n_advocates=1500, n_days=90, seed=2, chunk_size=1000)
    calls: list[int] = []
    paths = sim.write_program(tmp_path / "out", config, on_chunk=calls.append)
    assert [p.name for p in paths] == ["events.parquet", "advocates.parquet", "truth.parquet"]
    assert calls == [1] * config.n_chunks == [1, 1]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in paths)
    inputs = io.load_inputs(paths[0], paths[1])
    assert inputs.report.n_orphan_events == 0
    assert inputs.report.n_duplicate_events == 0
    expected = sim.simulate_program(config)
    assert len(inputs.events) == len(expected.events)
    pd.testing.assert_frame_equal(inputs.advocates, expected.advocates, check_dtype=False)
    truth = io.read_parquet(paths[2])
    assert len(truth) == len(expected.truth)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ContractError, match="n_advocates"):
        sim.SimulationConfig(n_advocates=0)
    with pytest.raises(ContractError, match="community_share"):
        sim.SimulationConfig(community_share=1.5)
    config = sim.SimulationConfig(n_advocates=10, n_days=60)
    with pytest.raises(ContractError, match="outside the simulated period"):
        sim.true_engagement_probability(config, config.end + DAY)


# ----------------------------------------------------------------------------- realism


def test_weekend_dip(program: sim.SimulatedChunk) -> None:
    days = program.events["occurred_at"].dt.floor("D")
    per_day = days.value_counts().sort_index()
    weekend = per_day.index.day_of_week >= 5
    not_december = per_day.index.month != 12
    ratio = per_day[weekend & not_december].mean() / per_day[~weekend & not_december].mean()
    assert 0.25 < ratio < 0.6


def test_late_december_holiday_dip(program: sim.SimulatedChunk) -> None:
    days = program.events["occurred_at"].dt.floor("D")
    per_day = days.value_counts().sort_index()
    holiday = (per_day.index.month == 12) & (per_day.index.day >= 24)
    before = (per_day.index.month == 12) & (per_day.index.day.isin(range(3, 17)))
    assert holiday.sum() >= 5
    assert per_day[holiday].mean() < 0.6 * per_day[before].mean()


def test_campaigns_raise_activity(
    config: sim.SimulationConfig, program: sim.SimulatedChunk
) -> None:
    events, advocates = program.events, program.advocates
    valuable = events[~events["event_type"].isin(LIGHT_TOUCH)]
    per_day = valuable["occurred_at"].dt.floor("D").value_counts()
    dates = pd.date_range(config.start, config.end - DAY, freq="D")
    per_day = per_day.reindex(dates, fill_value=0)
    roster = np.searchsorted(np.sort(advocates["joined_at"].to_numpy()), dates.to_numpy(), "right")
    rate = per_day.to_numpy() / np.maximum(roster, 1)
    campaigns = sim.campaign_calendar(config)
    assert 3 <= len(campaigns) <= 8
    ratios = []
    for row in campaigns.itertuples():
        during = (dates >= row.start) & (dates < row.end)
        before = (dates >= row.start - 28 * DAY) & (dates < row.start)
        if during.sum() >= 7 and before.sum() == 28:
            ratios.append(rate[during].mean() / rate[before].mean())
    assert len(ratios) >= 2
    assert np.median(ratios) > 1.25


def test_slow_faders_keep_logging_in_while_valuable_actions_dry_up(
    config: sim.SimulationConfig, program: sim.SimulatedChunk
) -> None:
    truth = program.truth.sort_values(["advocate_id", "date"], ignore_index=True)
    truth["previous"] = truth.groupby("advocate_id")["regime"].shift()
    onsets = truth[(truth["regime"] == "fading") & (truth["previous"] == "active")]
    events = program.events
    joined = program.advocates.set_index("advocate_id")["joined_at"]
    totals = np.zeros((2, 2))  # rows: before, after; columns: logins, valuable
    n_faders = 0
    for advocate, onset in zip(onsets["advocate_id"], onsets["date"], strict=True):
        before = (onset - 42 * DAY, onset - 7 * DAY)  # as long as the window after
        after = (onset + 21 * DAY, onset + 56 * DAY)  # faders often lapse soon after
        if before[0] < config.start or after[1] > config.end:
            continue
        if joined[advocate] > before[0] - 60 * DAY:  # onboarding burst would confound
            continue
        history = truth[(truth["advocate_id"] == advocate)]
        span = history[(history["date"] >= before[0]) & (history["date"] < onset)]
        later = history[(history["date"] >= onset) & (history["date"] < after[1])]
        if (span["regime"] != "active").any() or (later["regime"] != "fading").any():
            continue
        mine = events[events["advocate_id"] == advocate]
        for row, (lo, hi) in enumerate((before, after)):
            window = mine[(mine["occurred_at"] >= lo) & (mine["occurred_at"] < hi)]
            totals[row, 0] += (window["event_type"] == "login").sum()
            totals[row, 1] += (~window["event_type"].isin(LIGHT_TOUCH)).sum()
        n_faders += 1
    assert n_faders >= 30
    login_ratio = totals[1, 0] / totals[0, 0]
    valuable_ratio = totals[1, 1] / totals[0, 1]
    assert 0.7 < login_ratio < 1.4
    assert valuable_ratio < 0.5
    share_before = totals[0, 1] / totals[0].sum()
    share_after = totals[1, 1] / totals[1].sum()
    assert share_after < 0.6 * share_before


# ----------------------------------------------------------------------------- the oracle


def test_oracle_is_calibrated_sharp_and_beats_recent_activity(
    config: sim.SimulationConfig, program: sim.SimulatedChunk
) -> None:
    as_of = [config.start + 200 * DAY, config.start + 320 * DAY]
    oracle = sim.true_engagement_probability(config, as_of, n_paths=100)
    events = program.events
    for stamp in as_of:
        rows = oracle[oracle["as_of"] == stamp]
        roster = program.advocates[program.advocates["joined_at"] <= stamp]
        assert set(rows["advocate_id"]) == set(roster["advocate_id"])
        assert rows["true_probability"].between(0, 1).all()
        label = engaged_label(events, rows["advocate_id"], stamp)
        assert abs(rows["true_probability"].mean() - label.mean()) < 0.04
        assert roc_auc_score(label, rows["true_probability"]) > 0.82
        recent = engaged_label(events, rows["advocate_id"], stamp - 30 * DAY)
        # Recent activity alone is a much weaker predictor: many active advocates lapse.
        assert roc_auc_score(label, recent) < roc_auc_score(label, rows["true_probability"]) - 0.08
        assert (~label[recent]).mean() > 0.08


def test_oracle_for_chosen_advocates_matches_the_full_roster(
    config: sim.SimulationConfig,
) -> None:
    stamp = config.start + 250 * DAY
    full = sim.true_engagement_probability(config, stamp, n_paths=50)
    chosen = ["A000007", "A001500", "A001999", "not-an-id"]
    some = sim.true_engagement_probability(config, stamp, n_paths=50, advocate_ids=chosen)
    expected = full[full["advocate_id"].isin(chosen)].reset_index(drop=True)
    pd.testing.assert_frame_equal(some, expected)
