"""Time-based splits of the as-of dates: train, tune, calibration, test (oldest to newest).

Roles are whole as-of dates, so no (advocate, as-of) row is in two roles. Between the last date of
one role and the first date of the next lie at least ``gap_days`` (default: the label horizon): the
label window ``[T, T + horizon)`` of every row of an earlier role ends before the first as-of date
of the later role, so no label of one role uses events that a later role treats as the future.

The model that ships is refit on the *refit* dates: every date from the first training date whose
label window closes before the first calibration date (train, the train-tune gap and tune). It is
then calibrated on the calibration window and judged on the test window, the latest complete one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engagement_score.config import SplitConfig
from engagement_score.contract import ContractError

ROLES: tuple[str, ...] = ("train", "tune", "calibration", "test")


@dataclass(frozen=True)
class TimeSplit:
    """As-of dates per role plus the refit window; all tuples oldest first."""

    train: tuple[pd.Timestamp, ...]
    tune: tuple[pd.Timestamp, ...]
    calibration: tuple[pd.Timestamp, ...]
    test: tuple[pd.Timestamp, ...]
    refit: tuple[pd.Timestamp, ...]
    gap_days: int

    def dates(self, role: str) -> tuple[pd.Timestamp, ...]:
        """The as-of dates of a role (``train``, ``tune``, ``calibration``, ``test``, ``refit``)."""
        return getattr(self, role)

    def mask(self, as_of: pd.Series, role: str) -> np.ndarray:
        """Boolean mask of the rows whose as-of date belongs to ``role``."""
        return as_of.isin(list(self.dates(role))).to_numpy()

    def role_of(self, as_of: pd.Series) -> pd.Series:
        """The role of each row (``None`` for dates in a gap or outside every window)."""
        lookup = {t: role for role in ROLES for t in self.dates(role)}
        return as_of.map(lookup)

    def describe(self) -> dict[str, str | int]:
        """Flat summary for MLflow parameters and the model card."""
        out: dict[str, str | int] = {"split.gap_days": self.gap_days}
        for role in (*ROLES, "refit"):
            dates = self.dates(role)
            out[f"split.{role}.n_dates"] = len(dates)
            out[f"split.{role}.first"] = dates[0].date().isoformat() if dates else ""
            out[f"split.{role}.last"] = dates[-1].date().isoformat() if dates else ""
        return out


def make_split(dates: Sequence[pd.Timestamp], config: SplitConfig, horizon_days: int) -> TimeSplit:
    """Assign as-of dates to roles, newest first: test, calibration, tune, then train.

    Raises :class:`ContractError` when the history is too short for every role to get its dates.
    """
    gap_days = config.gap_days if config.gap_days is not None else horizon_days
    if gap_days < horizon_days:
        raise ContractError(
            f"split gap_days ({gap_days}) is shorter than the label horizon ({horizon_days}): "
            "labels of one role would overlap the next",
            file="params.yaml",
        )
    gap = pd.Timedelta(days=gap_days)
    remaining = sorted(set(dates))
    needed = {
        "test": config.test_dates,
        "calibration": config.calibration_dates,
        "tune": config.tune_dates,
    }
    chosen: dict[str, list[pd.Timestamp]] = {}
    for role in ("test", "calibration", "tune"):
        take = remaining[-needed[role] :] if needed[role] > 0 else []
        if len(take) < needed[role] or needed[role] <= 0:
            raise ContractError(
                f"the history is too short to train: {len(dates)} complete as-of dates, not enough "
                f"for {needed[role]} {role} dates plus gaps of {gap_days} days "
                "(simulate or collect more days, or lower the split sizes in params.yaml)"
            )
        chosen[role] = take
        remaining = [t for t in remaining if t + gap <= take[0]]
    first_tune = chosen["tune"][0]
    train = remaining
    if config.train_lookback_days is not None:
        earliest = first_tune - gap - pd.Timedelta(days=config.train_lookback_days)
        train = [t for t in train if t >= earliest]
    if not train:
        raise ContractError(
            f"the history is too short to train: {len(dates)} complete as-of dates leave none for "
            f"training after the test, calibration and tune windows and gaps of {gap_days} days"
        )
    first_cal = chosen["calibration"][0]
    refit = [t for t in sorted(set(dates)) if train[0] <= t and t + gap <= first_cal]
    return TimeSplit(
        train=tuple(train),
        tune=tuple(chosen["tune"]),
        calibration=tuple(chosen["calibration"]),
        test=tuple(chosen["test"]),
        refit=tuple(refit),
        gap_days=gap_days,
    )
