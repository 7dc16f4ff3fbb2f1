"""Labels: was an advocate engaged in the horizon after an as-of date T?

``engaged`` at T means at least ``min_events`` *qualifying* events in ``[T, T + horizon)``
(by default every event except ``login``; see :class:`engagement_score.config.LabelConfig`).
``active`` at T uses the same rule on the window before T, ``[T - horizon, T)``, so
*disengagement* is exactly "active before T and not engaged after T".

Rows exist for the advocates on the roster as of T (``joined_at <= T``). A label at T is only
honest when the whole horizon after T has been observed; :func:`snapshot_dates` picks as-of dates
that satisfy that. Everything is vectorised: events are sorted by time once, and each window is a
slice of that sorted array counted with ``np.bincount``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from engagement_score.config import FeatureSpec, LabelConfig, SnapshotConfig
from engagement_score.features.windows import to_us

DAY = pd.Timedelta(days=1)


def _as_timestamps(as_of: pd.Timestamp | Sequence[pd.Timestamp]) -> list[pd.Timestamp]:
    values = [as_of] if isinstance(as_of, pd.Timestamp | str) else list(as_of)
    stamps = []
    for v in values:
        t = pd.Timestamp(v)
        stamps.append(t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC"))
    return sorted(set(stamps))


def observation_end(events: pd.DataFrame) -> pd.Timestamp:
    """The end of the observed period: midnight of the day of the last event (conservative).

    Events of that last day may be incomplete, so the observed period is taken to end at its start.
    """
    if events.empty:
        raise ValueError("no events: the observed period is empty")
    return events["occurred_at"].max().floor("D")


def snapshot_dates(
    first_event: pd.Timestamp,
    data_end: pd.Timestamp,
    config: SnapshotConfig,
    horizon_days: int,
) -> list[pd.Timestamp]:
    """As-of dates every ``step_days`` whose full label horizon lies before ``data_end``.

    The grid is anchored at the latest complete date (``data_end - horizon``, at midnight), so the
    test window is always the latest complete one, and runs back to ``min_history_days`` after the
    first event. Returned oldest first.
    """
    last = (data_end - pd.Timedelta(days=horizon_days)).floor("D")
    first = first_event.floor("D") + pd.Timedelta(days=config.min_history_days)
    if last < first:
        return []
    n = int((last - first) // pd.Timedelta(days=config.step_days)) + 1
    return [last - pd.Timedelta(days=config.step_days * k) for k in range(n)][::-1]


def _roster_rows(advocates: pd.DataFrame, dates: list[pd.Timestamp]) -> pd.DataFrame:
    """(advocate_id, as_of, code) for every advocate with ``joined_at <= T``, ordered by T, id."""
    ids = advocates["advocate_id"].to_numpy()
    joined = to_us(advocates["joined_at"])
    frames = []
    for t in dates:
        codes = np.flatnonzero((joined <= _us(t)) & (joined != np.iinfo(np.int64).min))
        frames.append(
            pd.DataFrame(
                {
                    "advocate_id": ids[codes],
                    "as_of": pd.Series([t] * len(codes), dtype="datetime64[us, UTC]"),
                    "_code": codes,
                }
            )
        )
    if not frames:
        return pd.DataFrame(
            {
                "advocate_id": pd.Series([], dtype=advocates["advocate_id"].dtype),
                "as_of": pd.Series([], dtype="datetime64[us, UTC]"),
                "_code": np.array([], dtype=np.int64),
            }
        )
    return pd.concat(frames, ignore_index=True)


def _date_bounds(rows: pd.DataFrame, dates: list[pd.Timestamp]) -> list[tuple[int, int]]:
    """Row ranges of each as-of date in a frame from :func:`_roster_rows` (ordered by date)."""
    stamps = to_us(rows["as_of"])
    keys = np.array([_us(t) for t in dates], dtype=np.int64)
    lo = np.searchsorted(stamps, keys, side="left")
    hi = np.searchsorted(stamps, keys, side="right")
    return list(zip(lo.tolist(), hi.tolist(), strict=True))


def _sorted_events(
    events: pd.DataFrame, advocates: pd.DataFrame, mask: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Event times (int64 microseconds, ascending) and roster codes, optionally masked."""
    frame = events if mask is None else events.loc[mask]
    codes = pd.Index(advocates["advocate_id"]).get_indexer(frame["advocate_id"])
    times = to_us(frame["occurred_at"])
    keep = codes >= 0
    codes, times = codes[keep], times[keep]
    order = np.argsort(times, kind="stable")
    return times[order], codes[order]


def _us(t: pd.Timestamp) -> int:
    return int(t.value // 1000)


def window_counts(
    times: np.ndarray, codes: np.ndarray, n_codes: int, start: pd.Timestamp, end: pd.Timestamp
) -> np.ndarray:
    """Events per advocate code in ``[start, end)`` from time-sorted arrays."""
    lo, hi = np.searchsorted(times, [_us(start), _us(end)], side="left")
    return np.bincount(codes[lo:hi], minlength=n_codes)


def build_labels(
    events: pd.DataFrame,
    advocates: pd.DataFrame,
    as_of: pd.Timestamp | Sequence[pd.Timestamp],
    config: LabelConfig | None = None,
    spec: FeatureSpec | None = None,
) -> pd.DataFrame:
    """Labels per (advocate on the roster as of T, T).

    Columns: ``advocate_id``, ``as_of``, ``n_qualifying`` (qualifying events in the horizon),
    ``engaged`` (bool), ``active`` (engaged by the same rule in the horizon *before* T) and
    ``disengaged`` (active and not engaged). The caller is responsible for only asking about dates
    whose horizon has been observed (see :func:`snapshot_dates`).
    """
    config = config or LabelConfig()
    spec = spec or FeatureSpec.load()
    dates = _as_timestamps(as_of)
    horizon = pd.Timedelta(days=config.horizon_days)
    mask = config.qualifying_types_mask(events["event_type"], spec)
    times, codes = _sorted_events(events, advocates, mask)
    n = len(advocates)
    rows = _roster_rows(advocates, dates)
    after = np.zeros(len(rows), dtype=np.int64)
    before = np.zeros(len(rows), dtype=np.int64)
    code_col = rows["_code"].to_numpy()
    for t, (start, stop) in zip(dates, _date_bounds(rows, dates), strict=True):
        idx = code_col[start:stop]
        after[start:stop] = window_counts(times, codes, n, t, t + horizon)[idx]
        before[start:stop] = window_counts(times, codes, n, t - horizon, t)[idx]
    out = rows.drop(columns="_code")
    out["n_qualifying"] = after
    out["engaged"] = after >= config.min_events
    out["active"] = before >= config.min_events
    out["disengaged"] = out["active"] & ~out["engaged"]
    return out


def activity_summary(
    events: pd.DataFrame,
    advocates: pd.DataFrame,
    as_of: pd.Timestamp | Sequence[pd.Timestamp],
    window_days: int = 30,
) -> pd.DataFrame:
    """Inputs of the simple baselines, from *all* events before T (logins included).

    Columns: ``advocate_id``, ``as_of``, ``tally`` (events in ``[T - window_days, T)``) and
    ``days_since_last`` (days from the last event before T to T; NaN when there is none).
    Incremental over ascending dates, so the cost is one pass over the events.
    """
    dates = _as_timestamps(as_of)
    times, codes = _sorted_events(events, advocates)
    n = len(advocates)
    rows = _roster_rows(advocates, dates)
    tally = np.zeros(len(rows), dtype=np.int64)
    since = np.full(len(rows), np.nan)
    last = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
    consumed = 0
    code_col = rows["_code"].to_numpy()
    for t, (start, stop) in zip(dates, _date_bounds(rows, dates), strict=True):
        idx = code_col[start:stop]
        upto = int(np.searchsorted(times, _us(t), side="left"))
        np.maximum.at(last, codes[consumed:upto], times[consumed:upto])
        consumed = upto
        window = pd.Timedelta(days=window_days)
        tally[start:stop] = window_counts(times, codes, n, t - window, t)[idx]
        seen = last[idx] > np.iinfo(np.int64).min
        gap_us = _us(t) - last[idx]
        since[start:stop] = np.where(seen, gap_us / 86_400e6, np.nan)
    out = rows.drop(columns="_code")
    out["tally"] = tally
    out["days_since_last"] = since
    return out
