"""Labels against hand-made histories: the engaged/active/disengaged definitions and the horizon."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engagement_score.config import FeatureSpec, LabelConfig, SnapshotConfig
from engagement_score.features.labels import (
    activity_summary,
    build_labels,
    observation_end,
    snapshot_dates,
)

UTC = "UTC"
T = pd.Timestamp("2025-06-01", tz=UTC)


def ts(value: str) -> pd.Timestamp:
    return pd.Timestamp(value, tz=UTC)


def make_events(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "advocate_id": pd.Series([r[0] for r in rows], dtype="str"),
            "occurred_at": pd.Series([ts(r[1]) for r in rows], dtype="datetime64[us, UTC]"),
            "event_type": pd.Series([r[2] for r in rows], dtype="str"),
            "source": "portal",
            "value": np.nan,
            "event_id": pd.NA,
        }
    )


def make_advocates(rows: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "advocate_id": pd.Series([r[0] for r in rows], dtype="str"),
            "joined_at": pd.Series([ts(r[1]) for r in rows], dtype="datetime64[us, UTC]"),
            "community_connected_at": pd.Series([pd.NaT] * len(rows), dtype="datetime64[us, UTC]"),
        }
    )


@pytest.fixture(scope="module")
def spec() -> FeatureSpec:
    return FeatureSpec.load()


ROSTER = make_advocates(
    [
        ("steady", "2024-01-01"),
        ("login_only", "2024-01-01"),
        ("fading", "2024-01-01"),
        ("edge", "2024-01-01"),
        ("late_joiner", "2025-07-01"),
        ("returner", "2024-01-01"),
    ]
)
HISTORY = make_events(
    [
        ("steady", "2025-05-20", "challenge_completed"),
        ("steady", "2025-06-10", "review_written"),
        ("login_only", "2025-05-25", "login"),
        ("login_only", "2025-06-05", "login"),
        ("login_only", "2025-06-06", "login"),
        ("fading", "2025-05-15", "referral_submitted"),
        ("fading", "2025-06-03", "login"),
        # exactly at T counts for the horizon [T, T+30d); exactly at T+30d does not
        ("edge", "2025-06-01 00:00:00", "post_created"),
        ("edge", "2025-07-01 00:00:00", "post_created"),
        ("returner", "2025-06-30 23:59:59", "like_given"),
    ]
)


def test_labels_of_hand_made_histories(spec: FeatureSpec) -> None:
    out = build_labels(HISTORY, ROSTER, T, LabelConfig(), spec).set_index("advocate_id")
    assert "late_joiner" not in out.index  # not on the roster as of T
    assert out.loc["steady", ["engaged", "active", "disengaged"]].tolist() == [True, True, False]
    # logins alone are not engagement: neither before nor after
    assert out.loc["login_only", ["engaged", "active"]].tolist() == [False, False]
    # active before T, only a login after T: disengaged
    assert out.loc["fading", ["engaged", "active", "disengaged"]].tolist() == [False, True, True]
    assert out.loc["edge", "n_qualifying"] == 1
    assert bool(out.loc["edge", "engaged"]) and not bool(out.loc["edge", "active"])
    assert bool(out.loc["returner", "engaged"])  # a like qualifies by default
    assert out["as_of"].dtype == "datetime64[us, UTC]"


def test_configurable_categories_count_and_horizon(spec: FeatureSpec) -> None:
    strict = LabelConfig(qualifying_categories=("high_value",))
    out = build_labels(HISTORY, ROSTER, T, strict, spec).set_index("advocate_id")
    assert bool(out.loc["steady", "engaged"])  # review_written is high value
    assert not bool(out.loc["steady", "active"])  # challenge_completed is not
    assert not bool(out.loc["returner", "engaged"])  # like_given is light touch
    two = build_labels(HISTORY, ROSTER, T, LabelConfig(min_events=2), spec).set_index("advocate_id")
    assert not bool(two.loc["steady", "engaged"])
    short = build_labels(HISTORY, ROSTER, T, LabelConfig(horizon_days=7), spec)
    short = short.set_index("advocate_id")
    assert not bool(short.loc["steady", "engaged"])  # 2025-06-10 is 9 days after T
    with_logins = LabelConfig(exclude_event_types=())
    out = build_labels(HISTORY, ROSTER, T, with_logins, spec).set_index("advocate_id")
    assert bool(out.loc["login_only", "engaged"])


def test_labels_for_many_dates_match_one_at_a_time(spec: FeatureSpec) -> None:
    dates = [ts("2025-05-01"), T, ts("2025-07-15")]
    together = build_labels(HISTORY, ROSTER, dates, LabelConfig(), spec)
    apart = pd.concat(
        [build_labels(HISTORY, ROSTER, d, LabelConfig(), spec) for d in dates], ignore_index=True
    )
    pd.testing.assert_frame_equal(together, apart)
    assert (together["as_of"] == ts("2025-07-15")).sum() == len(ROSTER)  # late joiner included


def test_activity_summary_counts_all_events_before_t() -> None:
    out = activity_summary(HISTORY, ROSTER, T).set_index("advocate_id")
    assert out.loc["login_only", "tally"] == 1  # logins count for the tally baseline
    assert out.loc["fading", "tally"] == 1  # 2025-05-15 is within 30 days; 06-03 is after T
    assert out.loc["steady", "days_since_last"] == pytest.approx(12.0)
    assert np.isnan(out.loc["edge", "days_since_last"])  # nothing before T
    later = activity_summary(HISTORY, ROSTER, [T, ts("2025-07-02")])
    edge = later[later["advocate_id"] == "edge"].set_index("as_of")
    assert edge.loc[ts("2025-07-02"), "days_since_last"] == pytest.approx(1.0)


def test_snapshot_dates_only_where_the_horizon_is_observed() -> None:
    events = make_events([("a", "2024-01-01", "login"), ("a", "2025-06-30 12:00", "login")])
    end = observation_end(events)
    assert end == ts("2025-06-30")
    dates = snapshot_dates(events["occurred_at"].min(), end, SnapshotConfig(7, 60), 30)
    assert dates[-1] == ts("2025-05-31")  # the latest complete date: end - horizon
    assert all(d + pd.Timedelta(days=30) <= end for d in dates)
    assert dates[0] >= ts("2024-01-01") + pd.Timedelta(days=60)
    assert set(np.diff([d.value for d in dates])) == {7 * 86_400 * 10**9}


@settings(max_examples=40, deadline=None)
@given(
    offsets=st.lists(st.integers(min_value=-90 * 24, max_value=90 * 24), max_size=30),
    logins=st.lists(st.booleans(), max_size=30),
)
def test_label_is_a_count_of_qualifying_events_in_the_window(
    offsets: list[int], logins: list[bool]
) -> None:
    spec = FeatureSpec.load()
    n = min(len(offsets), len(logins))
    rows = [
        ("x", str(T + pd.Timedelta(hours=h)), "login" if is_login else "post_created")
        for h, is_login in zip(offsets[:n], logins[:n], strict=True)
    ]
    events = make_events(rows) if rows else make_events([("x", "2020-01-01", "login")])
    roster = make_advocates([("x", "2020-01-01")])
    out = build_labels(events, roster, T, LabelConfig(), spec).iloc[0]
    after = sum(0 <= h < 30 * 24 and not lg for h, lg in zip(offsets[:n], logins[:n], strict=True))
    before = sum(
        -30 * 24 <= h < 0 and not lg for h, lg in zip(offsets[:n], logins[:n], strict=True)
    )
    assert out["n_qualifying"] == after
    assert bool(out["engaged"]) == (after >= 1)
    assert bool(out["disengaged"]) == (before >= 1 and after == 0)


def test_qualifying_mask_same_for_categorical_and_text() -> None:
    from engagement_score.config import FeatureSpec, LabelConfig

    spec = FeatureSpec.load()
    types = pd.Series(["login", "review_written", "login", "mystery", "like_given"])
    for config in (
        LabelConfig(),
        LabelConfig(qualifying_categories=("high_value",)),
        LabelConfig(exclude_event_types=()),
    ):
        text = config.qualifying_types_mask(types, spec)
        coded = config.qualifying_types_mask(types.astype("category"), spec)
        assert text.tolist() == coded.tolist()
    assert LabelConfig().qualifying_types_mask(types, spec).tolist() == [
        False,
        True,
        False,
        True,
        True,
    ]
