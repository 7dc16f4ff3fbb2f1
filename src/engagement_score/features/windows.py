"""Vectorised day-grid primitives behind the point-in-time features.

Time is cut into *days* that end exactly at the as-of times: with ``phase`` the time of day of the
as-of times, day number ``d(x) = floor((x - phase) / 1 day)``. Every as-of time ``T`` then sits on a
day boundary, ``t = d(T)`` exactly, and ``occurred_at < T`` holds exactly when
``d(occurred_at) < t``.
For midnight-UTC as-of dates (the common case) days are calendar days in UTC; for as-of times at,
say, 12:00 UTC they are the 24-hour periods from noon to noon. All as-of times of one call must
share one time of day (a :class:`ContractError` says so otherwise), which the daily trend (the same
time on consecutive days) always does.

Every window feature is a difference of *cumulative* sums: ``count in [t - w, t) = C(t) - C(t - w)``
with ``C(p)`` the count of rows on days before ``p``. Cumulative sums are evaluated only at the
positions the requested as-of dates and windows need, so the work is one pass over the events plus
``advocates x positions``, whatever the number of as-of dates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engagement_score.contract import TIMESTAMP_DTYPE, ContractError

DAY_US: int = 86_400_000_000
#: Sentinel "no such day" for int64 day numbers (far enough from the int64 edge to subtract).
NO_DAY: int = np.iinfo(np.int64).min // 4


@dataclass(frozen=True)
class AsOfGrid:
    """Sorted, unique as-of times and their day numbers on the shared day grid."""

    stamps: pd.DatetimeIndex  # UTC, microseconds, ascending, unique
    phase_us: int  # time of day of every as-of time, in microseconds
    days: np.ndarray  # int64 day number of each as-of time (``d(T)``)

    @property
    def stamps_us(self) -> np.ndarray:
        return self.stamps.asi8


def to_us(values: pd.Series | pd.DatetimeIndex | Sequence[pd.Timestamp]) -> np.ndarray:
    """UTC timestamps as int64 microseconds since the epoch (NaT becomes ``NO_DAY``-like iNaT)."""
    index = pd.DatetimeIndex(values)
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    out = index.as_unit("us").asi8.copy()
    out[index.isna()] = np.iinfo(np.int64).min
    return out


def as_of_grid(as_of: pd.Timestamp | str | Sequence[pd.Timestamp | str]) -> AsOfGrid:
    """Normalise one or many as-of times (naive means UTC) onto the day grid.

    Raises :class:`ContractError` when there is none, one is missing, or they do not share one
    time of day (windows would then not be whole days for all of them).
    """
    if isinstance(as_of, str | pd.Timestamp) or not isinstance(as_of, Sequence | pd.Index):
        as_of = [as_of]  # type: ignore[list-item]
    if len(as_of) == 0:
        raise ContractError("at least one as-of date is needed")
    stamps = []
    for value in as_of:
        try:
            stamp = pd.Timestamp(value)
        except (ValueError, TypeError) as exc:
            raise ContractError(f"as-of dates must be timestamps ({exc})") from None
        if pd.isna(stamp):
            raise ContractError("as-of dates must not be missing (NaT)")
        stamps.append(stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC"))
    index = pd.DatetimeIndex(stamps).as_unit("us").unique().sort_values()
    us = index.asi8
    phases = np.unique(us % DAY_US)
    if len(phases) > 1:
        raise ContractError(
            "all as-of times of one call must share one time of day (e.g. all at midnight UTC); "
            f"got {len(phases)} different times of day"
        )
    phase = int(phases[0])
    days = (us - phase) // DAY_US
    return AsOfGrid(
        stamps=pd.DatetimeIndex(index, dtype=TIMESTAMP_DTYPE), phase_us=phase, days=days
    )


def day_number(us: np.ndarray, phase_us: int) -> np.ndarray:
    """Day number ``floor((x - phase) / 1 day)`` of int64 microsecond timestamps."""
    return (us - phase_us) // DAY_US


def cumulative_at(
    rows: np.ndarray,
    days: np.ndarray,
    n: int,
    positions: np.ndarray,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """``out[i, j]``: total ``weights`` (or count) of entity ``i``'s rows on days < positions[j].

    ``positions`` must be sorted ascending. One ``bincount`` over (entity, bin) and a cumulative sum
    along the bins: linear in rows plus ``n x len(positions)``.
    """
    m = len(positions)
    bins = np.searchsorted(positions, days, side="right")
    flat = rows.astype(np.int64) * (m + 1) + bins
    hist = np.bincount(flat, weights=weights, minlength=n * (m + 1)).reshape(n, m + 1)
    return np.cumsum(hist[:, :m], axis=1)


def cumulative_bins(
    rows: np.ndarray,
    bins: np.ndarray,
    n: int,
    m: int,
    weights: np.ndarray | None = None,
    dtype: type | None = None,
) -> np.ndarray:
    """As :func:`cumulative_at` with each row's bin precomputed (``bins`` in ``[0, m]``).

    ``dtype`` sets the cumulative sums' type (e.g. int32 for counts: half the memory traffic).
    """
    flat = rows.astype(np.int64) * (m + 1) + bins
    hist = np.bincount(flat, weights=weights, minlength=n * (m + 1)).reshape(n, m + 1)
    return np.cumsum(hist[:, :m], axis=1, dtype=dtype)


def unique_ints(keys: np.ndarray, upper: int, dense_limit: int = 1 << 28) -> np.ndarray:
    """Sorted unique values of non-negative int64 ``keys`` below ``upper``.

    A boolean flag array when ``upper`` is small enough (linear time), else a sort.
    """
    if upper <= dense_limit:
        flags = np.zeros(upper, dtype=bool)
        flags[keys] = True
        return np.flatnonzero(flags)
    keys = np.sort(keys)
    keep = np.ones(len(keys), dtype=bool)
    keep[1:] = keys[1:] != keys[:-1]
    return keys[keep]


def dense_presence(rows: np.ndarray, rel_days: np.ndarray, n: int, n_days: int) -> np.ndarray:
    """Boolean ``(n, n_days)`` array: entity ``i`` had at least one row on relative day ``d``."""
    out = np.zeros(n * n_days, dtype=bool)
    out[rows.astype(np.int64) * n_days + rel_days] = True
    return out.reshape(n, n_days)


def cumsum0(presence: np.ndarray) -> np.ndarray:
    """Cumulative sum along days with a leading zero column: ``out[:, p]`` sums days ``< p``."""
    n, n_days = presence.shape
    dtype = np.int16 if n_days < np.iinfo(np.int16).max else np.int32
    out = np.zeros((n, n_days + 1), dtype=dtype)
    np.cumsum(presence, axis=1, dtype=dtype, out=out[:, 1:])
    return out


def running_last(presence: np.ndarray) -> np.ndarray:
    """``out[i, d]`` = the last day ``<= d`` on which ``presence[i]`` is true, else -1."""
    n_days = presence.shape[1]
    dtype = np.int16 if n_days < np.iinfo(np.int16).max else np.int32
    marks = np.where(presence, np.arange(n_days, dtype=dtype), dtype(-1)).astype(dtype)
    return np.maximum.accumulate(marks, axis=1)


def running_next(presence: np.ndarray) -> np.ndarray:
    """``out[i, d]`` = the first day ``>= d`` on which ``presence[i]`` is true, else ``n_days``."""
    n_days = presence.shape[1]
    dtype = np.int16 if n_days < np.iinfo(np.int16).max else np.int32
    marks = np.where(presence, np.arange(n_days, dtype=dtype), dtype(n_days)).astype(dtype)
    return np.minimum.accumulate(marks[:, ::-1], axis=1)[:, ::-1]


def streaks(active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Current and longest run of ``True`` along the last axis (index 0 = the most recent period).

    Returns ``(current, longest)``: the run that includes period 0 (0 when period 0 is inactive)
    and the longest run anywhere along the axis.
    """
    k = active.shape[-1]
    inactive = ~active
    current = np.where(inactive.any(axis=-1), inactive.argmax(axis=-1), k)
    run = np.zeros(active.shape[:-1], dtype=np.int16)
    longest = np.zeros(active.shape[:-1], dtype=np.int16)
    for i in range(k):
        run = np.where(active[..., i], run + 1, 0).astype(np.int16)
        np.maximum(longest, run, out=longest)
    return current, longest


def slope_newest_first(values: np.ndarray) -> np.ndarray:
    """Least-squares slope per period of ``values`` along the last axis (index 0 = most recent)."""
    k = values.shape[-1]
    x = np.arange(k - 1, -1, -1, dtype=np.float64)  # oldest period has x = 0
    xc = x - x.mean()
    denom = float((xc**2).sum())
    if denom == 0.0:
        return np.zeros(values.shape[:-1])
    return (values.astype(np.float64) * xc).sum(axis=-1) / denom
