"""Time splits: disjoint roles, honest gaps, the refit window and too-short histories."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engagement_score.config import SplitConfig
from engagement_score.contract import ContractError
from engagement_score.training.split import ROLES, make_split

START = pd.Timestamp("2024-01-01", tz="UTC")


def weekly(n: int, step: int = 7) -> list[pd.Timestamp]:
    return [START + pd.Timedelta(days=step * i) for i in range(n)]


def test_roles_are_disjoint_ordered_and_gapped() -> None:
    dates = weekly(80)
    split = make_split(dates, SplitConfig(train_lookback_days=None), horizon_days=30)
    sets = {role: set(split.dates(role)) for role in ROLES}
    for i, a in enumerate(ROLES):
        for b in ROLES[i + 1 :]:
            assert not sets[a] & sets[b]
            # every label window of the earlier role closes before the later role starts
            assert max(sets[a]) + pd.Timedelta(days=30) <= min(sets[b])
    assert split.test == tuple(dates[-4:])  # the latest complete window
    assert split.gap_days == 30
    assert split.train[0] == dates[0]


def test_refit_uses_everything_up_to_the_calibration_window() -> None:
    dates = weekly(80)
    split = make_split(dates, SplitConfig(train_lookback_days=None), horizon_days=30)
    assert set(split.train) | set(split.tune) <= set(split.refit)
    assert max(split.refit) + pd.Timedelta(days=30) <= min(split.calibration)
    assert not set(split.refit) & (set(split.calibration) | set(split.test))
    # the gap dates between train and tune are honest training data for the refit
    assert len(split.refit) > len(split.train) + len(split.tune)


def test_lookback_and_explicit_gap() -> None:
    dates = weekly(120)
    split = make_split(dates, SplitConfig(gap_days=42, train_lookback_days=180), 30)
    assert split.tune[0] - split.train[0] <= pd.Timedelta(days=42 + 180)
    assert split.test[0] - split.calibration[-1] >= pd.Timedelta(days=42)
    with pytest.raises(ContractError, match="shorter than the label horizon"):
        make_split(dates, SplitConfig(gap_days=10), 30)


def test_too_short_a_history_is_refused() -> None:
    with pytest.raises(ContractError, match="too short"):
        make_split(weekly(12), SplitConfig(), 30)


def test_role_of_and_masks() -> None:
    dates = weekly(60)
    split = make_split(dates, SplitConfig(), 30)
    as_of = pd.Series(dates)
    roles = split.role_of(as_of)
    assert roles.iloc[-1] == "test"
    assert split.mask(as_of, "test").sum() == 4
    assert roles.isna().sum() > 0  # gap dates belong to no role


@settings(max_examples=50, deadline=None)
@given(
    n=st.integers(min_value=30, max_value=150),
    step=st.sampled_from([1, 7, 14]),
    horizon=st.sampled_from([7, 30]),
    sizes=st.tuples(*(st.integers(1, 6),) * 3),
)
def test_property_disjoint_and_gapped(
    n: int, step: int, horizon: int, sizes: tuple[int, int, int]
) -> None:
    dates = weekly(n, step)
    config = SplitConfig(sizes[0], sizes[1], sizes[2], train_lookback_days=None)
    try:
        split = make_split(dates, config, horizon)
    except ContractError:
        return
    order = [split.dates(r) for r in ROLES]
    for earlier, later in zip(order, order[1:], strict=False):
        assert earlier[-1] + pd.Timedelta(days=horizon) <= later[0]
    assert len(split.test) == sizes[0] and len(split.calibration) == sizes[1]
    assert max(split.refit) + pd.Timedelta(days=horizon) <= split.calibration[0]
