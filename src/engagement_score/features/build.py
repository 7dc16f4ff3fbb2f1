"""Point-in-time per-advocate activity features (issue 3).

``build_features(events, advocates, as_of)`` returns one row per (advocate on the roster as of T,
T): ``advocate_id``, ``as_of`` and the numeric features of :func:`feature_columns`, sorted by
``(advocate_id, as_of)``. Only events with ``occurred_at < T`` and roster rows with
``joined_at <= T`` are used. The catalogue of every feature is ``features/README.md``; the plain
texts behind it come from ``features/feature_spec.yaml`` via :func:`feature_descriptions`.

How it stays fast for many as-of dates: the events of a chunk of advocates are turned once into
arrays of (advocate, day, channel); every window of every as-of date is then a difference of
cumulative sums evaluated on a small grid of day positions (see :mod:`.windows`). The per-chunk
function :func:`build_features_partition` depends only on its arguments, so Spark's
``applyInPandas`` can call it unchanged per group of advocates.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from engagement_score.config import FeatureSpec
from engagement_score.contract import TIMESTAMP_DTYPE, ContractError
from engagement_score.features.windows import (
    DAY_US,
    NO_DAY,
    AsOfGrid,
    as_of_grid,
    cumsum0,
    cumulative_at,
    cumulative_bins,
    day_number,
    dense_presence,
    slope_newest_first,
    streaks,
    to_us,
    unique_ints,
)
from engagement_score.parallel import bounded_map

COMMUNITY = "community"
FEATURE_DTYPE = np.float32
#: At most this many (advocate, as-of) rows are computed at once: a chunk is cut further when
#: many as-of dates would make its arrays large. Small blocks keep every temporary array of a
#: block under the allocator's reuse limit (tens of MB), so blocks reuse memory instead of
#: faulting in fresh pages: 31 daily dates ran 1.7x faster with 25,000 rows than with 1,000,000.
MAX_ROWS_PER_BLOCK = 25_000
AsOf = pd.Timestamp | str | Sequence[pd.Timestamp | str]

# --------------------------------------------------------------------------- the feature plan


@dataclass(frozen=True)
class _Planned:
    name: str
    family: str
    params: dict[str, object] = field(default_factory=dict)


def _plan(spec: FeatureSpec) -> list[_Planned]:
    """Every feature in output order, with the family and parameters its text is made from."""
    ws = spec.windows
    hv = spec.high_value_category
    out: list[_Planned] = [
        _Planned("tenure_days", "tenure_days"),
        _Planned("community_connected_days", "community_connected_days"),
        _Planned("events_total", "events_total"),
        _Planned("points_total", "points_total"),
    ]
    out += [_Planned(f"events_{w}d", "events", {"window": w}) for w in ws]
    out += [
        _Planned(f"{c.name}_{w}d", "category", {"window": w, "category": c.name})
        for c in spec.categories
        for w in ws
    ]
    out += [
        _Planned(f"{s}_events_{w}d", "source_events", {"window": w, "source": s})
        for s in spec.sources
        for w in ws
    ]
    out += [_Planned(f"active_days_{w}d", "active_days", {"window": w}) for w in ws]
    out += [
        _Planned(f"{s}_active_days_{w}d", "source_active_days", {"window": w, "source": s})
        for s in spec.sources
        for w in ws
    ]
    out += [_Planned(f"points_{w}d", "points", {"window": w}) for w in ws]
    out += [
        _Planned("days_since_last_event", "days_since_last_event"),
        _Planned(f"days_since_last_{hv}", "days_since_last_high_value", {"category": hv}),
    ]
    out += [
        _Planned(f"days_since_last_{s}", "days_since_last_source", {"source": s})
        for s in spec.sources
    ]
    out += [
        _Planned(f"momentum_{a}d_vs_{b}d", "momentum", {"window": a, "prior": b})
        for a, b in spec.momentum_pairs
    ]
    r, k, g = spec.regularity_weeks, spec.streak_weeks, spec.gap_window
    out += [
        _Planned(f"weekly_active_days_slope_{r}w", "weekly_active_days_slope", {"weeks": r}),
        _Planned(f"active_weeks_share_{r}w", "active_weeks_share", {"weeks": r}),
        _Planned("current_streak_weeks", "current_streak_weeks", {"weeks": k}),
        _Planned(f"longest_streak_weeks_{k}w", "longest_streak_weeks", {"weeks": k}),
        _Planned(f"gap_std_days_{g}d", "gap_std_days", {"window": g}),
    ]
    out += [
        _Planned(f"distinct_event_types_{w}d", "distinct_event_types", {"window": w})
        for w in spec.distinct_type_windows
    ]
    out.append(
        _Planned(
            f"{hv}_share_{spec.share_window}d",
            "high_value_share",
            {"window": spec.share_window, "category": hv},
        )
    )
    names = [p.name for p in out]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ContractError(f"feature names collide ({dup}); rename a category or source")
    return out


def feature_columns(spec: FeatureSpec | None = None) -> list[str]:
    """Names of the feature columns in output order (after ``advocate_id`` and ``as_of``)."""
    return [p.name for p in _plan(spec or FeatureSpec.load())]


# --------------------------------------------------------------------------- descriptions


@dataclass(frozen=True)
class FeatureDescription:
    """Plain-language text of one feature, used for the catalogue and for reasons.

    ``render(value)`` gives e.g. ``"9 active days in the last 30 days"``; ``template`` is a Python
    format string with the placeholder ``value``.
    """

    name: str
    family: str
    description: str
    template: str
    unit: str
    template_one: str = ""
    missing: str = ""
    source: str | None = None
    window_days: int | None = None

    def render(self, value: float | None) -> str:
        """The feature's value as a phrase for a reason."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return self.missing or f"{self.name} unknown"
        v = float(value)
        if self.template_one and round(v) == 1 and abs(v - 1) < 0.5:
            return self.template_one.format(value=v)
        return self.template.format(value=v)


def _fill(text: str, params: dict[str, str]) -> str:
    for key, val in params.items():
        text = text.replace(f"<{key}>", val)
    return text


def feature_descriptions(spec: FeatureSpec | None = None) -> dict[str, FeatureDescription]:
    """Every feature's plain-language description, template and unit, in output order."""
    spec = spec or FeatureSpec.load()
    categories = {c.name: c for c in spec.categories}
    hv = categories.get(spec.high_value_category)
    out: dict[str, FeatureDescription] = {}
    for p in _plan(spec):
        texts = spec.texts.get(p.family, {})
        category = categories.get(str(p.params.get("category", "")), hv)
        params = {
            "window": str(p.params.get("window", "")),
            "prior": str(p.params.get("prior", "")),
            "weeks": str(p.params.get("weeks", "")),
            "source": str(p.params.get("source", "")),
            "category": category.name if category else "",
            "noun": category.noun_one if category else "",
            "nouns": category.noun_many if category else "",
        }
        out[p.name] = FeatureDescription(
            name=p.name,
            family=p.family,
            description=_fill(texts.get("description", p.name.replace("_", " ")), params),
            template=_fill(texts.get("template", p.name + " = {value:.3g}"), params),
            template_one=_fill(texts.get("template_one", ""), params),
            unit=_fill(texts.get("unit", ""), params),
            missing=_fill(texts.get("missing", ""), params),
            source=str(p.params["source"]) if "source" in p.params else None,
            window_days=int(p.params["window"]) if "window" in p.params else None,  # type: ignore[call-overload]
        )
    return out


# --------------------------------------------------------------------------- preparing arrays


@dataclass
class _Arrays:
    """Events and roster of a set of advocates as plain arrays (row code = roster position).

    Arrays made by :meth:`take` (what :func:`_compute` gets) are in advocate order.

    Event arrays may include rows no as-of date can use (``adv == -1``: not on this roster;
    ``day >= last as-of day``, including missing times); :meth:`take` drops them per chunk, so the
    full-size arrays can stay views of the input frame's columns.
    """

    ids: np.ndarray  # roster advocate ids, sorted
    joined_us: np.ndarray  # (n,) int64
    connected_us: np.ndarray  # (n,) int64, iNaT when not connected
    adv: np.ndarray  # (E,) int32 roster position of each event (-1: not on the roster)
    day: np.ndarray  # (E,) int32 day number (never used at or after ``last_day``)
    source: np.ndarray  # (E,) int8 index into spec.sources
    category: np.ndarray  # (E,) int8 index into spec.categories
    etype: np.ndarray  # (E,) int16/int32 event type code
    value: np.ndarray  # (E,) float64 (NaN and infinities count as 0)
    last_day: int = np.iinfo(np.int32).max

    def take(self, lo: int, hi: int, rows: np.ndarray | slice) -> _Arrays:
        """The advocates ``lo:hi`` of the roster and their usable events among ``rows``."""
        adv, day = self.adv[rows], self.day[rows]
        use = (day < self.last_day) & (adv >= lo) & (adv < hi)
        keep = None if use.all() else np.flatnonzero(use)

        def pick(arr: np.ndarray) -> np.ndarray:
            arr = arr[rows]
            return arr if keep is None else arr[keep]

        value = pick(self.value)
        out = _Arrays(
            ids=self.ids[lo:hi],
            joined_us=self.joined_us[lo:hi],
            connected_us=self.connected_us[lo:hi],
            adv=(adv if keep is None else adv[keep]) - np.int32(lo),
            day=day if keep is None else day[keep],
            source=pick(self.source),
            category=pick(self.category),
            etype=pick(self.etype),
            value=np.where(np.isfinite(value), value, 0.0),
        )
        if len(out.adv) > 1 and not bool((out.adv[1:] >= out.adv[:-1]).all()):
            order = np.argsort(out.adv, kind="stable")  # :func:`_compute` wants advocate order
            for name in ("adv", "day", "source", "category", "etype", "value"):
                setattr(out, name, getattr(out, name)[order])
        return out


def _roster(advocates: pd.DataFrame, grid: AsOfGrid) -> pd.DataFrame:
    missing = [c for c in ("advocate_id", "joined_at") if c not in advocates.columns]
    if missing:
        raise ContractError("is missing", file="advocates", column=missing[0])
    joined = to_us(advocates["joined_at"])
    keep = joined <= grid.stamps_us[-1]
    roster = advocates.loc[keep, ["advocate_id", "joined_at"]].copy()
    if "community_connected_at" in advocates.columns:
        roster["community_connected_at"] = advocates.loc[keep, "community_connected_at"]
    else:
        roster["community_connected_at"] = pd.Series(
            pd.NaT, index=roster.index, dtype=TIMESTAMP_DTYPE
        )
    roster["advocate_id"] = roster["advocate_id"].astype("str")
    if roster["advocate_id"].duplicated().any():
        raise ContractError(
            "has repeated values where each must be unique", file="advocates", column="advocate_id"
        )
    return roster.sort_values("advocate_id", kind="stable").reset_index(drop=True)


def _arrow_text(values: pd.Series) -> pa.Array | pa.ChunkedArray:
    """A text column as an Arrow string array (zero-copy for Arrow-backed pandas strings)."""
    arr = pa.array(values, from_pandas=True)
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = pc.cast(arr, pa.string())
    return arr


def _index_in(arr: pa.Array | pa.ChunkedArray, vocabulary: Sequence[str]) -> np.ndarray:
    """Position of each value in ``vocabulary`` (hash lookup in Arrow), -1 when absent."""
    found = pc.index_in(arr, value_set=pa.array(list(vocabulary), type=arr.type))
    return np.asarray(pc.fill_null(found, -1).to_numpy(), dtype=np.int32)


def _codes(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Integer codes of a text column and the distinct texts they index (-1: missing).

    A ``category`` column (as :func:`engagement_score.io.load_inputs` gives) is used as is: its
    codes, no per-event work. Other text is dictionary-encoded by Arrow.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        return np.asarray(values.cat.codes), values.cat.categories.astype(str).tolist()
    arr = _arrow_text(values)
    uniques = [str(t) for t in pc.unique(arr).drop_null().to_pylist()]
    return (_index_in(arr, uniques) if uniques else np.full(len(arr), -1, np.int32)), uniques


def _remap(codes: np.ndarray, table: np.ndarray) -> np.ndarray:
    """``table[codes]`` with code -1 (missing) mapped to -1, in the smallest integer type."""
    lut = np.append(table, -1).astype(table.dtype)
    return lut[codes]


def _event_us(values: pd.Series) -> np.ndarray:
    """Event times as int64 microseconds, a view (no copy) for canonical UTC columns."""
    if str(values.dtype) == TIMESTAMP_DTYPE:
        return values.array.asi8  # NaT is the int64 minimum
    return to_us(values)


def _day_numbers(us: np.ndarray, phase_us: int, last_day: int, step: int = 1 << 23) -> np.ndarray:
    """int32 day numbers, computed in slices so no int64 temporary of every event exists.

    Missing times and times at or after ``last_day`` get ``last_day`` (never used).
    """
    out = np.empty(len(us), dtype=np.int32)
    nat = np.iinfo(np.int64).min
    for lo in range(0, len(us), step):
        part = us[lo : lo + step]
        d = day_number(part, phase_us)
        d[(part == nat) | (d > last_day)] = last_day
        out[lo : lo + step] = d
    return out


def _prepare(
    events: pd.DataFrame, advocates: pd.DataFrame, grid: AsOfGrid, spec: FeatureSpec
) -> _Arrays:
    """Map the frames to arrays once: roster codes, day numbers, source/category/type codes.

    Events at or after the latest as-of time and events of advocates not on this roster are
    marked here (day past the last as-of day, roster code -1) and dropped chunk by chunk, so
    nothing later can see them. Category columns are used through their codes; other text
    columns are matched with Arrow hash lookups, without converting strings to Python objects.
    """
    roster = _roster(advocates, grid)
    missing = [c for c in ("advocate_id", "occurred_at", "event_type", "source") if c not in events]
    if missing:
        raise ContractError("is missing", file="events", column=missing[0])
    ids = roster["advocate_id"].to_numpy(dtype=object)
    last_day = int(grid.days[-1])
    day = _day_numbers(_event_us(events["occurred_at"]), grid.phase_us, last_day)

    adv_codes, adv_names = _codes(events["advocate_id"])
    adv_pos = _index_in(pa.array(adv_names, type=pa.string()), list(ids))
    adv = _remap(adv_codes, adv_pos.astype(np.int32))

    type_codes, type_names = _codes(events["event_type"])
    cat_index = {c.name: i for i, c in enumerate(spec.categories)}
    cat_of_type = np.array(
        [cat_index.get(spec.category_of(t), cat_index["other"]) for t in type_names],
        dtype=np.int8,
    )
    category = _remap(type_codes, cat_of_type)
    etype = type_codes.astype(np.int16 if len(type_names) < 2**15 else np.int32, copy=False)

    src_codes, src_names = _codes(events["source"])
    src_pos = np.array(
        [spec.sources.index(s) if s in spec.sources else -1 for s in src_names], dtype=np.int8
    )
    source = _remap(src_codes, src_pos)
    bad = (source < 0) & (adv >= 0) & (day < last_day)
    if bad.any():
        raise ContractError(
            f"has values outside {list(spec.sources)} "
            f"(e.g. {events['source'].iloc[int(np.flatnonzero(bad)[0])]!r})",
            file="events",
            column="source",
        )
    if "value" in events.columns:
        value = events["value"]
        if value.dtype != np.float64:
            value = pd.to_numeric(value, errors="coerce")
        value = value.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        value = np.zeros(len(events))
    return _Arrays(
        ids=ids,
        joined_us=to_us(roster["joined_at"]),
        connected_us=to_us(roster["community_connected_at"]),
        adv=adv,
        day=day,
        source=source,
        category=category,
        etype=etype,
        value=value,
        last_day=last_day,
    )


# --------------------------------------------------------------------------- the computation


def _compute(a: _Arrays, grid: AsOfGrid, spec: FeatureSpec) -> dict[str, np.ndarray]:
    """All features as ``(n_advocates, n_as_of)`` float arrays. Pure function of its inputs."""
    n, n_t = len(a.ids), len(grid.days)
    t = grid.days  # (nT,) absolute day numbers of the as-of times
    start = int(t[0]) - spec.lookback_days  # first day any window reaches
    n_days = int(t[-1]) - start
    t_rel = (t - start).astype(np.int64)  # (nT,) in [lookback_days, n_days]
    n_src, n_cat = len(spec.sources), len(spec.categories)
    hv = next(i for i, c in enumerate(spec.categories) if c.name == spec.high_value_category)
    row_base = np.arange(n, dtype=np.int64)[:, None] * n_days  # (n, 1) key offset per advocate
    f: dict[str, np.ndarray] = {}

    # Roster and connection facts.
    stamps = grid.stamps_us[None, :]
    f["tenure_days"] = (stamps - a.joined_us[:, None]) / DAY_US
    connected = (a.connected_us[:, None] < stamps) & (
        a.connected_us[:, None] != np.iinfo(np.int64).min
    )
    f["community_connected_days"] = np.where(
        connected, (stamps - a.connected_us[:, None]) / DAY_US, np.nan
    )

    # Rows older than every window: they only feed recency and lifetime totals.
    pre = a.day < start
    pre_count = np.bincount(a.adv[pre], minlength=n)
    pre_points = np.bincount(a.adv[pre], weights=a.value[pre], minlength=n)

    def pre_last(mask: np.ndarray) -> np.ndarray:
        """Last day per advocate among rows ``mask`` (rows are in advocate order)."""
        out = np.full(n, NO_DAY, dtype=np.int64)
        sel = np.flatnonzero(mask)
        if len(sel):
            who, days = a.adv[sel], a.day[sel]
            first = np.flatnonzero(np.concatenate([[True], who[1:] != who[:-1]]))
            out[who[first]] = np.maximum.reduceat(days, first)
        return out

    pre_last_any = pre_last(pre)
    pre_last_hv = pre_last(pre & (a.category == hv))
    pre_last_src = [pre_last(pre & (a.source == s)) for s in range(n_src)]

    ir = np.flatnonzero(~pre)
    adv, rel = a.adv[ir], (a.day[ir] - start).astype(np.int32)
    src, cat, val = a.source[ir], a.category[ir], a.value[ir]

    # ---- counts and points: cumulative sums on the grid of day positions the windows need.
    offsets = sorted(
        {0, *spec.windows, spec.share_window}.union(*({r, r + p} for r, p in spec.momentum_pairs))
    )
    k_of = {k: i for i, k in enumerate(offsets)}
    positions = np.unique((t_rel[None, :] - np.array(offsets)[:, None]).ravel())
    cols = np.searchsorted(positions, t_rel[None, :] - np.array(offsets)[:, None])  # (nK, nT)
    bins = np.searchsorted(positions, np.arange(n_days), side="right")[rel]
    m = len(positions)

    def counts_on_grid(rows: np.ndarray | None = None) -> np.ndarray:
        """Cumulative counts of the rows (all when None) at the grid, ``(n, nK, nT)`` int32."""
        if rows is None:
            return cumulative_bins(adv, bins, n, m, dtype=np.int32)[:, cols]
        return cumulative_bins(adv[rows], bins[rows], n, m, dtype=np.int32)[:, cols]

    # One pass per source and per category (each a bincount over its own rows) rather than per
    # (source, category) channel and summing dense grids afterwards.
    total = counts_on_grid()
    by_src = [counts_on_grid(np.flatnonzero(src == s)) for s in range(n_src)]
    by_cat = [counts_on_grid(np.flatnonzero(cat == c)) for c in range(n_cat)]
    points = cumulative_bins(adv, bins, n, m, weights=val)[:, cols]  # (n, nK, nT) float64

    def window(cum: np.ndarray, w: int, end: int = 0) -> np.ndarray:
        """Count (or points) in ``[T - end - w, T - end)`` as float32 (counts are exact)."""
        return (cum[..., k_of[end], :] - cum[..., k_of[end + w], :]).astype(FEATURE_DTYPE)

    f["events_total"] = pre_count[:, None] + total[:, k_of[0], :].astype(np.float64)
    f["points_total"] = pre_points[:, None] + points[:, k_of[0], :]

    # ---- daily presence: active days (dense cumulative sums), recency and gaps (sparse lists).
    pres_src = [dense_presence(adv[src == s], rel[src == s], n, n_days) for s in range(n_src)]
    pres_all = np.logical_or.reduce(pres_src) if n_src else np.zeros((n, n_days), bool)
    pres_hv = dense_presence(adv[cat == hv], rel[cat == hv], n, n_days)
    act_all = cumsum0(pres_all)

    def active_window(act: np.ndarray, w: int) -> np.ndarray:
        return (act[:, t_rel] - act[:, t_rel - w]).astype(FEATURE_DTYPE)

    def last_before(pres: np.ndarray, pre_last_abs: np.ndarray) -> np.ndarray:
        """Days since the last active day before each as-of date (NaN: never)."""
        r, d = np.nonzero(pres)  # sorted by advocate, then day
        keys = r.astype(np.int64) * n_days + d
        i = np.searchsorted(keys, row_base + t_rel[None, :]) - 1
        i_c = np.maximum(i, 0)
        ok = (i >= 0) & (r[i_c] == np.arange(n)[:, None]) if len(r) else np.zeros((n, n_t), bool)
        last = np.where(ok, d[i_c] + start if len(d) else 0, pre_last_abs[:, None])
        return np.where(last > NO_DAY, (t[None, :] - last).astype(np.float64), np.nan)

    recency: dict[object, np.ndarray] = {"hv": last_before(pres_hv, pre_last_hv)}
    del pres_hv
    for s in range(n_src):
        recency[s] = last_before(pres_src[s], pre_last_src[s])

    # Weekly active days, index 0 = the 7 days just before T: W7[p - 7] = active days in [p-7, p).
    n_weeks = max(spec.regularity_weeks, spec.streak_weeks)
    w7 = act_all[:, 7:] - act_all[:, :-7]
    weekly = w7[:, t_rel[:, None] - 7 * np.arange(n_weeks)[None, :] - 7]  # (n, nT, K)
    del w7
    recent = weekly[..., : spec.regularity_weeks]
    current, longest = streaks(weekly[..., : spec.streak_weeks] > 0)

    # Active days as a sparse sorted list: recency, and gaps between consecutive active days.
    r, d = np.nonzero(pres_all)
    keys = r.astype(np.int64) * n_days + d
    same = np.zeros(len(r), dtype=bool)
    same[1:] = r[1:] == r[:-1]
    prev_abs = np.where(same, np.concatenate([[0], d[:-1]]) + start, pre_last_any[r])
    gap = np.where(prev_abs > NO_DAY, d + start - prev_abs, 0)
    gap = np.minimum(gap, n_days + 1)  # only a window's first gap can be longer; it is dropped
    gap2 = (gap * gap).astype(np.float64)
    gap2_cum = np.concatenate([[0.0], np.cumsum(gap2)])
    del gap, prev_abs, same
    g_win = spec.gap_window
    i_hi = np.searchsorted(keys, row_base + t_rel[None, :])  # first key at or after T
    i_lo = np.searchsorted(keys, row_base + (t_rel - g_win)[None, :])
    n_in = i_hi - i_lo
    last_i = np.maximum(i_hi - 1, 0)
    has_last = (
        (i_hi > 0) & (r[last_i] == np.arange(n)[:, None]) if len(r) else np.zeros((n, n_t), bool)
    )
    last_any = np.where(
        has_last, d[last_i].astype(np.int64) + start if len(d) else 0, pre_last_any[:, None]
    )
    recency["any"] = np.where(last_any > NO_DAY, (t[None, :] - last_any).astype(np.float64), np.nan)
    first_i = np.minimum(i_lo, max(len(r) - 1, 0))
    n_gaps = n_in - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        if len(r):
            sum_g = (d[last_i] - d[first_i]).astype(np.float64)
            sum_g2 = gap2_cum[i_hi] - gap2_cum[i_lo] - np.where(n_in > 0, gap2[first_i], 0.0)
        else:
            sum_g = sum_g2 = np.zeros((n, n_t))
        mean_g = sum_g / n_gaps
        var_g = np.maximum(sum_g2 / n_gaps - mean_g * mean_g, 0.0)
    gap_std = np.where(n_gaps >= 2, np.sqrt(var_g), np.nan)
    del r, d, keys, gap2, gap2_cum

    # Distinct event types: an (advocate, type, day) row is the type's last occurrence before t
    # for t in (day, next occurrence]; it is within window w while also t <= day + w.
    distinct: dict[int, np.ndarray] = {}
    if spec.distinct_type_windows:
        w_max = max(spec.distinct_type_windows)
        base = int(t_rel[0]) - w_max
        near = np.flatnonzero(rel >= base)
        n_types = int(a.etype.max()) + 1 if len(a.etype) else 1
        span = n_days - base
        key = (adv[near].astype(np.int64) * n_types + a.etype[ir][near]) * span + (rel[near] - base)
        key = unique_ints(key, n * n_types * span)
        pair, d_rel = np.divmod(key, span)
        nxt = np.full(len(key), np.iinfo(np.int64).max // 2, dtype=np.int64)
        same_pair = pair[1:] == pair[:-1]
        nxt[:-1][same_pair] = d_rel[1:][same_pair]
        owner = pair // n_types
        t_pos = t_rel - base
        started = cumulative_at(owner, d_rel, n, t_pos)
        for w in spec.distinct_type_windows:
            ended = cumulative_at(owner, np.minimum(nxt, d_rel + w), n, t_pos)
            distinct[w] = (started - ended).astype(np.float64)

    # ---- assemble, in plan order.
    hv_name = spec.high_value_category
    for w in spec.windows:
        f[f"events_{w}d"] = window(total, w)
    for c, category in enumerate(spec.categories):
        for w in spec.windows:
            f[f"{category.name}_{w}d"] = window(by_cat[c], w)
    for s, source in enumerate(spec.sources):
        for w in spec.windows:
            f[f"{source}_events_{w}d"] = window(by_src[s], w)
    for w in spec.windows:
        f[f"active_days_{w}d"] = active_window(act_all, w)
    for s, source in enumerate(spec.sources):
        act = cumsum0(pres_src[s])
        for w in spec.windows:
            f[f"{source}_active_days_{w}d"] = active_window(act, w)
    for w in spec.windows:
        f[f"points_{w}d"] = window(points, w)
    f["days_since_last_event"] = recency["any"]
    f[f"days_since_last_{hv_name}"] = recency["hv"]
    for s, source in enumerate(spec.sources):
        f[f"days_since_last_{source}"] = recency[s]
    for r_w, p_w in spec.momentum_pairs:
        now = window(total, r_w).astype(np.float64)
        before = window(total, p_w, end=r_w).astype(np.float64) * (r_w / p_w)
        with np.errstate(invalid="ignore", divide="ignore"):
            f[f"momentum_{r_w}d_vs_{p_w}d"] = np.where(
                now + before > 0, (now - before) / (now + before), 0.0
            )
    rw, kw = spec.regularity_weeks, spec.streak_weeks
    f[f"weekly_active_days_slope_{rw}w"] = slope_newest_first(recent)
    f[f"active_weeks_share_{rw}w"] = (recent > 0).mean(axis=-1)
    f["current_streak_weeks"] = current.astype(np.float64)
    f[f"longest_streak_weeks_{kw}w"] = longest.astype(np.float64)
    f[f"gap_std_days_{g_win}d"] = gap_std
    for w in spec.distinct_type_windows:
        f[f"distinct_event_types_{w}d"] = distinct[w]
    share_all = window(total, spec.share_window).astype(np.float64)
    share_hv = window(by_cat[hv], spec.share_window).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        f[f"{hv_name}_share_{spec.share_window}d"] = np.where(
            share_all > 0, share_hv / share_all, np.nan
        )

    # Community features are unknown (NaN), not zero, before the community is connected.
    if COMMUNITY in spec.sources:
        names = [f"{COMMUNITY}_events_{w}d" for w in spec.windows]
        names += [f"{COMMUNITY}_active_days_{w}d" for w in spec.windows]
        names.append(f"days_since_last_{COMMUNITY}")
        for name in names:
            f[name] = np.where(connected, f[name], np.nan)
    return f


def _rows_per_advocate(a: _Arrays, grid: AsOfGrid) -> np.ndarray:
    """How many as-of dates each advocate is on the roster for (``joined_at <= T``)."""
    return (a.joined_us[:, None] <= grid.stamps_us[None, :]).sum(axis=1)


def _block_values(
    a: _Arrays, grid: AsOfGrid, spec: FeatureSpec, out: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One block's feature matrix (rows x features, float32) and each row's advocate and date.

    Rows are (advocate, T) with ``joined_at <= T`` in (advocate, T) order. The matrix is written
    into ``out`` when given (a slice of the whole result, so no concatenation is needed later).
    """
    n, n_t = len(a.ids), len(grid.days)
    on_roster = (a.joined_us[:, None] <= grid.stamps_us[None, :]).ravel()
    everyone = bool(on_roster.all())
    names = feature_columns(spec)
    n_rows = int(on_roster.sum())
    values = np.empty((n_rows, len(names)), FEATURE_DTYPE, order="F") if out is None else out
    adv_idx = np.repeat(np.arange(n), n_t)
    t_idx = np.tile(np.arange(n_t), n)
    if n == 0:
        return values, adv_idx, t_idx
    feats = _compute(a, grid, spec)
    keep = None if everyone else np.flatnonzero(on_roster)
    for i, name in enumerate(names):
        flat = feats.pop(name).reshape(-1)
        values[:, i] = flat if keep is None else flat.take(keep)
    if not everyone:
        adv_idx, t_idx = adv_idx[on_roster], t_idx[on_roster]
    return values, adv_idx, t_idx


def _assemble(
    ids: np.ndarray,
    adv_idx: np.ndarray,
    t_idx: np.ndarray,
    grid: AsOfGrid,
    values: np.ndarray,
    spec: FeatureSpec,
) -> pd.DataFrame:
    """The output frame: ``advocate_id``, ``as_of`` and the feature columns (no copy of values)."""
    keys = pd.DataFrame(
        {
            "advocate_id": pd.array(ids[adv_idx], dtype="str"),
            "as_of": pd.DatetimeIndex(grid.stamps[t_idx], dtype=TIMESTAMP_DTYPE),
        }
    )
    features = pd.DataFrame(values, columns=feature_columns(spec), copy=False)
    return pd.concat([keys, features], axis=1)


def _empty(spec: FeatureSpec) -> pd.DataFrame:
    data: dict[str, object] = {
        "advocate_id": pd.array([], dtype="str"),
        "as_of": pd.DatetimeIndex([], dtype=TIMESTAMP_DTYPE),
    }
    for name in feature_columns(spec):
        data[name] = np.zeros(0, dtype=FEATURE_DTYPE)
    return pd.DataFrame(data)


def _block(a: _Arrays, grid: AsOfGrid, spec: FeatureSpec) -> pd.DataFrame:
    if len(a.ids) == 0:
        return _empty(spec)
    values, adv_idx, t_idx = _block_values(a, grid, spec)
    return _assemble(a.ids, adv_idx, t_idx, grid, values, spec)


def _collect(
    arrays: _Arrays,
    grid: AsOfGrid,
    spec: FeatureSpec,
    chunk_size: int,
    on_chunk: Callable[[int], None] | None = None,
    n_jobs: int = 1,
) -> pd.DataFrame:
    """Every block written into one preallocated matrix, then one frame (no concatenation).

    With ``n_jobs > 1`` blocks are computed by that many threads (NumPy releases the GIL in its
    array work), each writing its own rows of the matrix; at most two blocks per thread are in
    flight, so memory stays bounded. The result is identical to one thread's.
    """
    per_advocate = _rows_per_advocate(arrays, grid)
    total = int(per_advocate.sum())
    if total == 0:
        return _empty(spec)
    values = np.empty((total, len(feature_columns(spec))), FEATURE_DTYPE, order="F")
    adv_all = np.empty(total, dtype=np.int64)
    t_all = np.empty(total, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(per_advocate)])

    def one(lo: int, block: _Arrays) -> int:
        part = slice(int(starts[lo]), int(starts[lo + len(block.ids)]))
        _, adv_idx, t_idx = _block_values(block, grid, spec, out=values[part])
        adv_all[part], t_all[part] = adv_idx + lo, t_idx
        return len(block.ids)

    def done(n: int) -> None:
        if on_chunk is not None:
            on_chunk(n)

    if n_jobs <= 1:
        for lo, block in _blocks(arrays, grid, chunk_size):
            done(one(lo, block))
    else:
        with ThreadPoolExecutor(max_workers=n_jobs, thread_name_prefix="features") as pool:
            for n in bounded_map(pool, one, _blocks(arrays, grid, chunk_size), 2 * n_jobs):
                done(n)
    return _assemble(arrays.ids, adv_all, t_all, grid, values, spec)


# --------------------------------------------------------------------------- public API


def build_features_partition(
    events: pd.DataFrame,
    advocates: pd.DataFrame,
    as_of_dates: AsOf,
    spec: FeatureSpec | None = None,
) -> pd.DataFrame:
    """Features of the given advocates (one chunk, or one Spark group) as of every date.

    Pure: depends only on its arguments. Events of advocates not in ``advocates`` are ignored.
    Output columns and order as :func:`build_features`.
    """
    spec = spec or FeatureSpec.load()
    grid = as_of_grid(as_of_dates)
    arrays = _prepare(events, advocates, grid, spec)
    return _collect(arrays, grid, spec, len(arrays.ids))


def iter_features(
    events: pd.DataFrame,
    advocates: pd.DataFrame,
    as_of: AsOf,
    spec: FeatureSpec | None = None,
    chunk_size: int = 50_000,
) -> Iterator[pd.DataFrame]:
    """The rows of :func:`build_features`, one frame per chunk of advocates, in output order.

    For outputs larger than memory (a million advocates x 31 dates): write each frame as it
    comes. Events are mapped to arrays once; each chunk is computed by the same code as
    :func:`build_features_partition`.
    """
    if chunk_size < 1:
        raise ContractError("chunk size must be at least 1")
    spec = spec or FeatureSpec.load()
    grid = as_of_grid(as_of)
    arrays = _prepare(events, advocates, grid, spec)
    yield from _iter_blocks(arrays, grid, spec, chunk_size)


def _iter_blocks(
    arrays: _Arrays, grid: AsOfGrid, spec: FeatureSpec, chunk_size: int
) -> Iterator[pd.DataFrame]:
    """Feature frames of consecutive blocks of advocates (see :func:`_blocks`)."""
    if len(arrays.ids) == 0:
        yield _empty(spec)
        return
    for _, block in _blocks(arrays, grid, chunk_size):
        yield _block(block, grid, spec)


def _blocks(arrays: _Arrays, grid: AsOfGrid, chunk_size: int) -> Iterator[tuple[int, _Arrays]]:
    """Consecutive blocks of at most ``chunk_size`` advocates (fewer when there are many as-of
    dates, see :func:`_block_size`) with their events: ``(first roster position, arrays)``."""
    n = len(arrays.ids)
    if n == 0:
        return
    chunk_size = _block_size(max(chunk_size, 1), len(grid.days))
    n_chunks = -(-n // chunk_size)
    adv = arrays.adv
    if len(adv) == 0 or bool((adv[1:] >= adv[:-1]).all()):
        # Events grouped by advocate in roster order (as simulated or exported): chunks are
        # contiguous slices, no sort and no copy of the event arrays.
        order = None
        cuts = np.searchsorted(adv, np.arange(0, n_chunks + 1) * chunk_size)
    else:
        order = np.argsort(adv, kind="stable")  # by advocate: each chunk is then a slice of it
        cuts = np.searchsorted(adv[order], np.arange(0, n_chunks + 1) * chunk_size)
    for i in range(n_chunks):
        lo, hi = i * chunk_size, min((i + 1) * chunk_size, n)
        rows = slice(cuts[i], cuts[i + 1]) if order is None else order[cuts[i] : cuts[i + 1]]
        yield lo, arrays.take(lo, hi, rows)


def build_features(
    events: pd.DataFrame,
    advocates: pd.DataFrame,
    as_of: AsOf,
    spec: FeatureSpec | None = None,
    chunk_size: int = 50_000,
    on_chunk: Callable[[int], None] | None = None,
    n_jobs: int = 1,
) -> pd.DataFrame:
    """One row per (advocate on the roster as of T, T): ``advocate_id``, ``as_of``, features.

    Rows are sorted by ``(advocate_id, as_of)``; ``as_of`` is ``datetime64[us, UTC]``; features are
    float32 with NaN where unknown. The roster (sorted by id) is cut into chunks of ``chunk_size``
    advocates and each chunk is computed by the same code as :func:`build_features_partition`;
    ``on_chunk(n_advocates)`` is called after each chunk (for progress bars). ``n_jobs`` threads
    compute chunks at once (the same result).
    """
    if chunk_size < 1:
        raise ContractError("chunk size must be at least 1")
    spec = spec or FeatureSpec.load()
    grid = as_of_grid(as_of)
    arrays = _prepare(events, advocates, grid, spec)
    return _collect(arrays, grid, spec, chunk_size, on_chunk, n_jobs)


def _block_size(chunk_size: int, n_dates: int) -> int:
    """Advocates per block: ``chunk_size``, fewer when many as-of dates would make it large."""
    return max(1, min(chunk_size, MAX_ROWS_PER_BLOCK // max(n_dates, 1)))


def n_chunks(advocates: pd.DataFrame, as_of: AsOf, chunk_size: int = 50_000) -> int:
    """How many chunks :func:`build_features` will use (for a progress bar's total)."""
    grid = as_of_grid(as_of)
    n = int((to_us(advocates["joined_at"]) <= grid.stamps_us[-1]).sum())
    return max(1, -(-n // _block_size(chunk_size, len(grid.days))))
