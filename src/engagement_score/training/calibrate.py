"""Calibration on the calibration window: isotonic or Platt, stored as a monotone table.

Both methods become a :class:`~engagement_score.serving.model.Calibration` (knots of raw probability
and the calibrated probability at each), so the shipped model carries data, not a fitted object.
Which method ships is decided by the out-of-fold Brier score on the calibration window (folds by
advocate): isotonic always wins *in sample*, so an in-sample comparison would be no choice at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from engagement_score.serving.model import Calibration

EPS = 1e-6
PLATT_KNOTS = 401
METHODS: tuple[str, ...] = ("isotonic", "platt")


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), EPS, 1 - EPS)
    return np.log(p / (1 - p))


def _with_ends(raw: np.ndarray, cal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Extend a table to cover [0, 1] with its end values (np.interp holds them anyway)."""
    if raw[0] > 0.0:
        raw, cal = np.r_[0.0, raw], np.r_[cal[0], cal]
    if raw[-1] < 1.0:
        raw, cal = np.r_[raw, 1.0], np.r_[cal, cal[-1]]
    return raw, np.maximum.accumulate(np.clip(cal, 0.0, 1.0))


def fit_isotonic(p_raw: np.ndarray, y: np.ndarray) -> Calibration:
    """Isotonic regression of the outcome on the raw probability, as its table of knots."""
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
    iso.fit(np.asarray(p_raw, dtype=float), np.asarray(y, dtype=float))
    raw = np.asarray(iso.X_thresholds_, dtype=float)
    cal = np.asarray(iso.y_thresholds_, dtype=float)
    keep = np.r_[True, np.diff(raw) > 0]
    raw, cal = raw[keep], cal[keep]
    if len(raw) == 1:  # constant input: a flat table
        raw, cal = np.array([0.0, 1.0]), np.array([cal[0], cal[0]])
    raw, cal = _with_ends(raw, cal)
    return Calibration(raw=raw, calibrated=cal, method="isotonic")


def fit_platt(p_raw: np.ndarray, y: np.ndarray) -> Calibration:
    """Platt scaling on the logit of the raw probability, tabulated on a dense logit grid."""
    lr = LogisticRegression(C=1e6, solver="lbfgs", max_iter=1000)
    lr.fit(_logit(p_raw).reshape(-1, 1), np.asarray(y, dtype=int))
    z = np.linspace(_logit(np.array([EPS]))[0], _logit(np.array([1 - EPS]))[0], PLATT_KNOTS)
    raw = 1.0 / (1.0 + np.exp(-z))
    cal = 1.0 / (1.0 + np.exp(-(lr.coef_[0, 0] * z + lr.intercept_[0])))
    raw, cal = _with_ends(raw, cal)
    return Calibration(raw=raw, calibrated=cal, method="platt")


FITTERS = {"isotonic": fit_isotonic, "platt": fit_platt}


@dataclass(frozen=True)
class CalibrationChoice:
    """The calibration that ships and the out-of-fold Brier score of each method."""

    calibration: Calibration
    brier: dict[str, float]


def choose_calibration(
    p_raw: np.ndarray, y: np.ndarray, groups: np.ndarray, folds: int = 5
) -> CalibrationChoice:
    """Fit both methods; keep the one with the lower out-of-fold Brier score, refit on all rows.

    Folds are by ``groups`` (advocate ids), so no advocate is in both sides of a fold. Ties go to
    isotonic (listed first). Deterministic: GroupKFold has no randomness.
    """
    p_raw = np.asarray(p_raw, dtype=float)
    y = np.asarray(y, dtype=float)
    n_groups = len(np.unique(groups))
    k = max(2, min(folds, n_groups))
    brier: dict[str, float] = {}
    for method in METHODS:
        oof = np.empty_like(p_raw)
        for fit_idx, val_idx in GroupKFold(n_splits=k).split(p_raw, y, groups):
            if len(np.unique(y[fit_idx])) < 2:
                oof[val_idx] = y[fit_idx].mean()
                continue
            oof[val_idx] = FITTERS[method](p_raw[fit_idx], y[fit_idx]).transform(p_raw[val_idx])
        brier[method] = float(np.mean((oof - y) ** 2))
    best = min(METHODS, key=lambda m: brier[m])
    if len(np.unique(y)) < 2:
        flat = float(y.mean()) if len(y) else 0.0
        table = Calibration(np.array([0.0, 1.0]), np.array([flat, flat]), method=best)
    else:
        table = FITTERS[best](p_raw, y)
    return CalibrationChoice(calibration=table, brier=brier)
