"""Hypothesis properties of the point-in-time features, and agreement with a slow reference."""

from __future__ import annotations

import numpy as np
import pandas as pd
from conftest import make_advocates, make_events
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import reference_features

from engagement_score.config import FeatureSpec
from engagement_score.features import build_features, build_features_partition, feature_columns

SPEC = FeatureSpec.load()
T0 = pd.Timestamp("2026-01-01", tz="UTC")
DAY = pd.Timedelta(days=1)
US = pd.Timedelta(microseconds=1)
IDS = ["a1", "b2", "c3", "d4"]
TYPES = ["login", "review_written", "reply_created", "like_given", "post_created", "odd_type"]
SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def moments(draw: st.DrawFn) -> pd.Timestamp:
    """Times around T0: exactly on as-of dates, a microsecond before, or anywhere in ~400 days."""
    kind = draw(st.sampled_from(["exact", "just_before", "any"]))
    days = draw(st.integers(-400, 6))
    if kind == "exact":
        return T0 + days * DAY
    if kind == "just_before":
        return T0 + days * DAY - US
    return T0 + days * DAY + draw(st.integers(0, 86_399)) * pd.Timedelta(seconds=1)


@st.composite
def programs(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.DataFrame]:
    n = draw(st.integers(1, len(IDS)))
    roster = []
    for i in range(n):
        joined = T0 + draw(st.integers(-500, 3)) * DAY
        connected = draw(st.one_of(st.none(), st.integers(-400, 5)))
        roster.append(
            (IDS[i], str(joined), None if connected is None else str(T0 + connected * DAY))
        )
    rows = draw(
        st.lists(
            st.tuples(
                st.sampled_from(IDS[:n]),
                moments(),
                st.sampled_from(TYPES),
                st.sampled_from(["portal", "community"]),
                st.one_of(st.just(float("nan")), st.integers(0, 50).map(float)),
            ),
            max_size=40,
        )
    )
    return make_events(rows), make_advocates(roster)


as_of_lists = st.lists(st.integers(-5, 5), min_size=1, max_size=3, unique=True).map(
    lambda ks: [T0 + k * DAY for k in ks]
)


@SETTINGS
@given(programs(), st.integers(-5, 5), st.data())
def test_events_at_or_after_t_never_change_features(program, k, data) -> None:
    events, advocates = program
    t = T0 + k * DAY
    before = events[events["occurred_at"] < t]
    extra = data.draw(
        st.lists(
            st.tuples(st.sampled_from(list(advocates["advocate_id"])), st.integers(0, 30)),
            max_size=5,
        )
    )
    added = make_events([(a, t + d * DAY, "review_written", "portal", 9.0) for a, d in extra])
    changed = pd.concat([before, added], ignore_index=True)
    pd.testing.assert_frame_equal(
        build_features(events, advocates, t, SPEC), build_features(changed, advocates, t, SPEC)
    )


@SETTINGS
@given(programs(), as_of_lists, st.data())
def test_any_split_of_the_roster_gives_identical_rows(program, dates, data) -> None:
    events, advocates = program
    full = build_features(events, advocates, dates, SPEC)
    groups = data.draw(
        st.lists(st.integers(0, 2), min_size=len(advocates), max_size=len(advocates))
    )
    parts = []
    for g in sorted(set(groups)):
        mine = advocates[[x == g for x in groups]]
        ev = events[events["advocate_id"].isin(mine["advocate_id"])]
        parts.append(build_features_partition(ev, mine, dates, SPEC))
    # A group also gets the other advocates' events: they must be ignored.
    parts.append(build_features_partition(events, advocates.iloc[:1], dates, SPEC))
    joined = pd.concat(parts[:-1], ignore_index=True)
    joined = joined.sort_values(["advocate_id", "as_of"], kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(full, joined)
    first = full[full["advocate_id"] == advocates["advocate_id"].iloc[0]].reset_index(drop=True)
    pd.testing.assert_frame_equal(first, parts[-1])


@SETTINGS
@given(programs(), as_of_lists)
def test_many_as_of_dates_equal_one_at_a_time(program, dates) -> None:
    events, advocates = program
    together = build_features(events, advocates, dates, SPEC)
    alone = pd.concat(
        [build_features(events, advocates, d, SPEC) for d in dates], ignore_index=True
    )
    alone = alone.sort_values(["advocate_id", "as_of"], kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(together, alone)


@SETTINGS
@given(programs(), as_of_lists, st.integers(1, 3), st.integers(1, 3))
def test_chunked_equals_unchunked(program, dates, chunk, threads) -> None:
    events, advocates = program
    pd.testing.assert_frame_equal(
        build_features(events, advocates, dates, SPEC, chunk_size=chunk, n_jobs=threads),
        build_features(events, advocates, dates, SPEC, chunk_size=10_000),
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(), as_of_lists)
def test_matches_the_slow_reference(program, dates) -> None:
    events, advocates = program
    fast = build_features(events, advocates, dates, SPEC)
    slow = reference_features(events, advocates, dates, SPEC)
    assert len(fast) == len(slow)
    if slow.empty:
        return
    assert list(fast["advocate_id"]) == list(slow["advocate_id"])
    for name in feature_columns(SPEC):
        np.testing.assert_allclose(
            fast[name].to_numpy(np.float64),
            slow[name].to_numpy(np.float64),
            rtol=1e-5,
            atol=1e-5,
            err_msg=name,
        )
