"""Hand-computed examples for every feature family, the roster and community rules, and the API."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import make_advocates, make_events, utc

from engagement_score.config import FeatureSpec
from engagement_score.contract import ContractError
from engagement_score.features import (
    build_features,
    build_features_partition,
    feature_columns,
    feature_descriptions,
)

T = utc("2026-01-01")
SPEC = FeatureSpec.load()


@pytest.fixture(scope="module")
def program() -> tuple[pd.DataFrame, pd.DataFrame]:
    advocates = make_advocates(
        [
            ("a", "2025-01-01", "2025-06-01"),
            ("b", "2025-12-01"),  # never connected, yet has a community event
            ("c", "2025-12-31"),  # new, no events
            ("d", "2026-01-02"),  # joins after T: no row as of T
            ("e", "2025-01-01", "2026-01-01"),  # connected exactly at T: still unknown
        ]
    )
    events = make_events(
        [
            ("a", "2025-12-31T23:59:59.999999", "login", "portal", 1.0),
            ("a", "2025-12-31T10:00:00", "review_written", "portal", 10.0),
            ("a", "2025-12-29T08:00:00", "reply_created", "community"),
            ("a", "2025-12-10T00:00:00", "like_given", "community"),
            ("a", "2025-11-15T12:00:00", "challenge_completed", "portal", 5.0),
            ("a", "2025-06-15T00:00:00", "mystery_type", "portal"),
            ("a", "2024-06-01T00:00:00", "referral_submitted", "portal", 100.0),
            ("a", "2026-01-01T00:00:00", "login", "portal", 1000.0),  # exactly at T: not used
            ("a", "2026-01-05T00:00:00", "review_written", "portal", 1000.0),  # after T
            ("b", "2025-12-20T00:00:00", "login", "portal"),
            ("b", "2025-12-21T00:00:00", "post_created", "community"),
            ("e", "2025-12-30T00:00:00", "reply_created", "community"),
        ]
    )
    return events, advocates


@pytest.fixture(scope="module")
def rows(program: tuple[pd.DataFrame, pd.DataFrame]) -> pd.DataFrame:
    events, advocates = program
    return build_features(events, advocates, T).set_index("advocate_id")


def test_output_shape_order_and_types(rows: pd.DataFrame) -> None:
    assert list(rows.index) == ["a", "b", "c", "e"]  # d joined after T
    assert list(rows.columns) == ["as_of", *feature_columns(SPEC)]
    assert str(rows["as_of"].dtype) == "datetime64[us, UTC]"
    assert (rows["as_of"] == T).all()
    assert all(rows[c].dtype == np.float32 for c in feature_columns(SPEC))


def test_counts_per_window_category_and_source(rows: pd.DataFrame) -> None:
    a = rows.loc["a"]
    expected = {
        "events_7d": 3,
        "events_30d": 4,
        "events_90d": 5,
        "events_180d": 5,
        "events_365d": 6,
        "events_total": 7,
        "high_value_7d": 2,
        "high_value_365d": 2,
        "light_touch_30d": 2,
        "participation_90d": 1,
        "other_90d": 0,
        "other_365d": 1,
        "portal_events_30d": 2,
        "portal_events_365d": 4,
        "community_events_7d": 1,
        "community_events_30d": 2,
    }
    for name, value in expected.items():
        assert a[name] == value, name


def test_active_days(rows: pd.DataFrame) -> None:
    a = rows.loc["a"]
    assert a["active_days_7d"] == 2  # two events on Dec 31 count once
    assert a["active_days_30d"] == 3
    assert a["active_days_365d"] == 5
    assert a["portal_active_days_30d"] == 1
    assert a["community_active_days_30d"] == 2


def test_recency_tenure_and_points(rows: pd.DataFrame) -> None:
    a = rows.loc["a"]
    assert a["days_since_last_event"] == 1
    assert a["days_since_last_high_value"] == 1
    assert a["days_since_last_portal"] == 1
    assert a["days_since_last_community"] == 3
    assert a["tenure_days"] == 365
    assert a["community_connected_days"] == 214
    assert a["points_7d"] == 11
    assert a["points_365d"] == 16
    assert a["points_total"] == 116


def test_momentum(rows: pd.DataFrame) -> None:
    a = rows.loc["a"]
    # last 30 days: 4 events; the 60 before: 1, i.e. 0.5 per 30 days.
    assert a["momentum_30d_vs_60d"] == pytest.approx((4 - 0.5) / (4 + 0.5), rel=1e-6)
    # last 7 days: 3; the 28 before: 1 (Dec 10), i.e. 0.25 per 7 days.
    assert a["momentum_7d_vs_28d"] == pytest.approx((3 - 0.25) / (3 + 0.25), rel=1e-6)
    assert rows.loc["c", "momentum_30d_vs_60d"] == 0


def test_regularity(rows: pd.DataFrame) -> None:
    a = rows.loc["a"]
    # Active weeks (0 = the 7 days before T): 0 (Dec 29, 31), 3 (Dec 10), 6 (Nov 15).
    assert a["active_weeks_share_12w"] == pytest.approx(3 / 12)
    assert a["current_streak_weeks"] == 1
    assert a["longest_streak_weeks_52w"] == 1
    weekly = np.zeros(12)
    weekly[[0, 3, 6]] = [2, 1, 1]
    slope = np.polyfit(np.arange(12), weekly[::-1], 1)[0]
    assert a["weekly_active_days_slope_12w"] == pytest.approx(slope, rel=1e-5)
    # Active days in the last 180 days: T-47, T-22, T-3, T-1 -> gaps 25, 19, 2.
    assert a["gap_std_days_180d"] == pytest.approx(np.std([25, 19, 2]), rel=1e-6)
    assert np.isnan(rows.loc["b", "gap_std_days_180d"])  # one gap only


def test_streaks() -> None:
    advocates = make_advocates([("s", "2024-01-01")])
    # Active in weeks 0, 1, 2 (current streak 3), gap in week 3, active in weeks 4..8 (5 in a row).
    weeks = [0, 1, 2, 4, 5, 6, 7, 8]
    events = make_events(
        [("s", T - pd.Timedelta(days=7 * w + 2), "login", "portal") for w in weeks]
    )
    row = build_features(events, advocates, T).iloc[0]
    assert row["current_streak_weeks"] == 3
    assert row["longest_streak_weeks_52w"] == 5
    assert row["active_weeks_share_12w"] == pytest.approx(8 / 12)


def test_breadth(rows: pd.DataFrame) -> None:
    a = rows.loc["a"]
    assert a["distinct_event_types_30d"] == 4  # login, review_written, reply_created, like_given
    assert a["distinct_event_types_90d"] == 5  # + challenge_completed
    assert a["high_value_share_90d"] == pytest.approx(2 / 5)
    assert np.isnan(rows.loc["c", "high_value_share_90d"])


def test_community_missing_before_connection(rows: pd.DataFrame) -> None:
    community = [c for c in feature_columns(SPEC) if c.startswith("community_")]
    community.append("days_since_last_community")
    for who in ("b", "c", "e"):  # never connected, or connected exactly at T
        assert rows.loc[who, community].isna().all(), who
    assert rows.loc["a", community].notna().all()
    # Totals over all sources still count what was recorded.
    assert rows.loc["b", "events_30d"] == 2
    assert rows.loc["e", "events_30d"] == 1


def test_community_becomes_known_after_connection(
    program: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    events, advocates = program
    later = T + pd.Timedelta(days=1)
    both = build_features(events, advocates, [T, later]).set_index(["advocate_id", "as_of"])
    assert np.isnan(both.loc[("e", T), "community_events_30d"])
    assert both.loc[("e", later), "community_events_30d"] == 1
    assert both.loc[("e", later), "community_connected_days"] == 1


def test_new_advocate_gets_a_row_of_zeros(rows: pd.DataFrame) -> None:
    c = rows.loc["c"]
    assert c["tenure_days"] == 1
    assert c["events_365d"] == 0 and c["active_days_30d"] == 0 and c["points_total"] == 0
    assert np.isnan(c["days_since_last_event"]) and np.isnan(c["days_since_last_high_value"])


def test_no_events_at_all_still_gives_every_row() -> None:
    advocates = make_advocates([("x", "2025-01-01"), ("y", "2025-02-01")])
    out = build_features(make_events([]), advocates, [T, T + pd.Timedelta(days=1)])
    assert len(out) == 4
    assert (out["events_total"] == 0).all()


def test_non_midnight_as_of_is_exact() -> None:
    t = utc("2026-01-01T12:00:00")
    advocates = make_advocates([("a", "2025-01-01")])
    events = make_events(
        [
            ("a", "2026-01-01T11:59:59", "login", "portal"),  # in, same calendar day as T
            ("a", "2026-01-01T12:00:00", "login", "portal"),  # at T: out
            ("a", "2025-12-25T12:00:00", "login", "portal"),  # first instant of the 7-day window
            ("a", "2025-12-25T11:59:59", "login", "portal"),  # just before it
        ]
    )
    row = build_features(events, advocates, t).iloc[0]
    assert row["events_7d"] == 2
    assert row["events_30d"] == 3
    assert row["days_since_last_event"] == 1  # the 24 hours before T count as "1 day ago"


def test_as_of_times_must_share_a_time_of_day() -> None:
    advocates = make_advocates([("a", "2025-01-01")])
    with pytest.raises(ContractError, match="time of day"):
        build_features(make_events([]), advocates, [T, T + pd.Timedelta(hours=3)])


def test_naive_as_of_means_utc_and_duplicates_collapse(
    program: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    events, advocates = program
    out = build_features(events, advocates, [pd.Timestamp("2026-01-01"), T])
    pd.testing.assert_frame_equal(out, build_features(events, advocates, T))


def test_partition_equals_build(program: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    events, advocates = program
    dates = [T - pd.Timedelta(days=k) for k in range(0, 40, 3)]
    full = build_features(events, advocates, dates, chunk_size=2)
    part = build_features_partition(events, advocates, dates, SPEC)
    pd.testing.assert_frame_equal(full, part)
    assert list(full.columns[:2]) == ["advocate_id", "as_of"]
    keys = list(zip(full["advocate_id"], full["as_of"], strict=True))
    assert keys == sorted(keys)


def test_inputs_are_not_mutated(program: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    events, advocates = program
    before_e, before_a = events.copy(), advocates.copy()
    build_features(events, advocates, T, chunk_size=1)
    pd.testing.assert_frame_equal(events, before_e)
    pd.testing.assert_frame_equal(advocates, before_a)


def test_on_chunk_reports_every_advocate(program: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    events, advocates = program
    seen: list[int] = []
    build_features(events, advocates, T, chunk_size=2, on_chunk=seen.append)
    assert seen == [2, 2]  # four advocates on the roster as of T
    seen.clear()
    build_features(events, advocates, T, chunk_size=1, on_chunk=seen.append, n_jobs=2)
    assert seen == [1, 1, 1, 1]  # with threads too, in order


def test_descriptions_cover_every_feature() -> None:
    descriptions = feature_descriptions(SPEC)
    assert list(descriptions) == feature_columns(SPEC)
    for name, d in descriptions.items():
        assert d.description and "<" not in d.description, name
        assert "<" not in d.template and "{value" in d.template, name
        assert d.unit, name
    assert descriptions["active_days_30d"].render(9) == "9 active days in the last 30 days"
    assert descriptions["active_days_30d"].render(1) == "1 active day in the last 30 days"
    assert descriptions["high_value_30d"].render(3) == (
        "3 high-value contributions in the last 30 days"
    )
    assert descriptions["community_events_30d"].render(float("nan")) == (
        "community activity unknown (not connected)"
    )
    assert descriptions["days_since_last_event"].render(np.nan) == "no activity yet"


def test_unknown_types_land_in_other() -> None:
    advocates = make_advocates([("a", "2025-01-01")])
    events = make_events([("a", "2025-12-30", "brand_new_thing", "portal")])
    row = build_features(events, advocates, T).iloc[0]
    assert row["other_7d"] == 1 and row["events_7d"] == 1 and row["active_days_7d"] == 1


def test_readme_catalogue_lists_every_feature() -> None:
    from pathlib import Path

    readme = Path(__file__).resolve().parents[2] / "features" / "README.md"
    if not readme.is_file():
        pytest.skip("no source checkout")
    text = readme.read_text(encoding="utf-8")
    missing = [name for name in feature_columns(SPEC) if f"`{name}`" not in text]
    assert not missing


def test_many_dates_cut_chunks_further_without_changing_rows(
    program: tuple[pd.DataFrame, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    from engagement_score.features import build

    events, advocates = program
    dates = [T - pd.Timedelta(days=k) for k in range(5)]
    expected = build_features(events, advocates, dates, SPEC)
    monkeypatch.setattr(build, "MAX_ROWS_PER_BLOCK", 10)  # 2 advocates x 5 dates per block
    seen: list[int] = []
    got = build_features(events, advocates, dates, SPEC, on_chunk=seen.append)
    pd.testing.assert_frame_equal(got, expected)
    assert seen == [2, 2] and build.n_chunks(advocates, dates) == 2
