"""Tiers with hysteresis, momentum against noise, points that add up, and reason sentences."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from engagement_score.serving.scoring import (
    ScoringConfig,
    Tier,
    allocate_points,
    daily_noise,
    momentum_labels,
    momentum_threshold,
    sparkline,
    tier_index,
    tiers_with_hysteresis,
    top_reasons,
)

TIERS = (Tier("high", 70), Tier("mid", 40), Tier("low", 0))


def test_default_config_loads_and_round_trips() -> None:
    config = ScoringConfig.load()
    assert [t.min_score for t in config.tiers] == sorted(
        (t.min_score for t in config.tiers), reverse=True
    )
    assert config.tiers[-1].min_score == 0
    assert ScoringConfig.from_dict(config.to_dict()) == config


def test_tier_index_bands() -> None:
    assert tier_index(np.array([100, 70, 69, 40, 39, 0]), TIERS).tolist() == [0, 0, 1, 1, 2, 2]


def test_promotion_is_immediate_demotion_waits() -> None:
    days = np.array(
        [
            [50, 50, 75],  # promoted on the last day
            [75, 60, 60],  # two days below: not yet demoted with demotion_days=3
            [75, 60, 60, 60],  # three days below: demoted
            [75, 60, 75, 60],  # a dip interrupted by a return resets the count
        ],
        dtype=object,
    )
    rows = [np.array(r, dtype=float) for r in days]
    got = [int(tiers_with_hysteresis(r[None, :], TIERS, demotion_days=3)[0]) for r in rows]
    assert got == [0, 0, 1, 0]


def test_demotion_lands_in_the_band_of_that_day() -> None:
    series = np.array([[80, 10, 10]], dtype=float)
    assert tiers_with_hysteresis(series, TIERS, demotion_days=2).tolist() == [2]


def test_nan_days_before_joining_are_ignored() -> None:
    series = np.array([[np.nan, np.nan, 45.0]])
    assert tiers_with_hysteresis(series, TIERS, demotion_days=7).tolist() == [1]


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(float, st.tuples(st.integers(1, 6), st.integers(1, 20)), elements=st.floats(0, 100))
)
def test_hysteresis_never_below_plain_band(series: np.ndarray) -> None:
    """Hysteresis only delays demotions: the tier is never lower than today's band."""
    with_h = tiers_with_hysteresis(series, TIERS, demotion_days=4)
    plain = tier_index(series[:, -1], TIERS)
    assert (with_h <= plain).all()
    assert (tiers_with_hysteresis(series, TIERS, demotion_days=1) == plain).all()


def test_momentum_threshold_tracks_noise_not_trend() -> None:
    rng = np.random.default_rng(0)
    days = np.arange(31)
    trend = rng.normal(0, 1.0, size=(2000, 1)) * days  # real trends, about 1 pt a day
    quiet = 50 + trend + rng.normal(0, 1.0, size=(2000, 31))
    noisy = 50 + trend + rng.normal(0, 4.0, size=(2000, 31))
    t_quiet = momentum_threshold(*map(np.sum, daily_noise(quiet, cap=100)), 2.0, 0)
    t_noisy = momentum_threshold(*map(np.sum, daily_noise(noisy, cap=100)), 2.0, 0)
    # the trends are not mistaken for noise: threshold = 2 x sqrt(2) x sigma
    assert t_quiet == pytest.approx(2 * np.sqrt(2) * 1.0, rel=0.05)
    assert t_noisy == pytest.approx(2 * np.sqrt(2) * 4.0, rel=0.05)
    # without a trend, about 5% of advocates cross the threshold by noise alone
    flat = 50 + rng.normal(0, 4.0, size=(4000, 31))
    threshold = momentum_threshold(*map(np.sum, daily_noise(flat, cap=100)), 2.0, 0)
    share = np.mean(np.abs(flat[:, -1] - flat[:, 0]) > threshold)
    assert 0.03 < share < 0.07
    constant = daily_noise(np.full((3, 31), 40.0), cap=20)
    assert momentum_threshold(constant[0].sum(), constant[1].sum(), 2.0, 5) == 5
    assert momentum_threshold(0.0, 0, 2.0, 5) == 5


def test_daily_noise_combines_across_partitions() -> None:
    rng = np.random.default_rng(1)
    series = rng.uniform(0, 100, size=(40, 31))
    series[:5, :10] = np.nan  # advocates who joined during the window
    series[5, :29] = np.nan  # two known days: no noise estimate from this one
    whole = daily_noise(series, cap=20)
    parts = [daily_noise(series[i : i + 7], cap=20) for i in range(0, 40, 7)]
    assert np.isclose(whole[0].sum(), sum(p[0].sum() for p in parts))
    assert whole[1].sum() == sum(p[1].sum() for p in parts) == 34 * 29 + 5 * 19
    assert whole[1][5] == 0 and whole[0][5] == 0
    assert (whole[0] <= whole[1] * 20**2 + 1e-9).all()


def test_momentum_labels() -> None:
    labels = momentum_labels(np.array([10, -10, 3, np.nan]), threshold=5)
    assert labels.tolist() == ["gaining", "slipping", "steady", "steady"]


@settings(max_examples=100, deadline=None)
@given(
    contrib=hnp.arrays(
        float, st.tuples(st.integers(1, 5), st.integers(1, 8)), elements=st.floats(-3, 3)
    ),
    data=st.data(),
)
def test_points_add_up_to_distance(contrib: np.ndarray, data: st.DataObject) -> None:
    n = contrib.shape[0]
    distance = np.array(data.draw(st.lists(st.integers(-60, 60), min_size=n, max_size=n)))
    # calibration is monotone: the distance has the sign of the summed contributions (or is 0)
    total = contrib.sum(axis=1)
    distance = np.where(np.abs(total) > 1e-9, np.abs(distance) * np.sign(total), 0)
    points = allocate_points(contrib, distance)
    assert points.dtype.kind == "i"
    assert (points.sum(axis=1) == distance).all()
    # a feature's points never point against its own contribution by more than rounding
    assert (points * np.sign(contrib) >= -1).all()


def test_top_reasons_strongest_first_both_directions() -> None:
    points = np.array([[12, -8, 1, 0, -3]])
    values = np.array([[9, 45, 2, 0, 1]], dtype=float)
    names = ["active_days_30", "days_since_community", "logins", "x", "y"]

    def describe(name: str, value: float) -> str:
        return f"{name}={value:.0f}"

    reasons = top_reasons(points, values, names, describe, count=3)
    assert reasons == [
        ["+12 pts: active_days_30=9", "-8 pts: days_since_community=45", "-3 pts: y=1"]
    ]
    assert top_reasons(np.zeros((1, 5), int), values, names, describe, count=3) == [[]]


def test_sparkline() -> None:
    line = sparkline([0, 50, 100, float("nan")])
    assert len(line) == 4 and line[0] == "▁" and line[2] == "█" and line[3] == " "
