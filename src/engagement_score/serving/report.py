"""The program manager's report: one self-contained HTML file, no requests to anywhere.

Two pure functions. :func:`activity_summary` turns the event log into each advocate's recent
activity by source (weekly counts, last 30 days, last event), point in time. :func:`build_report`
turns a score frame (``score_program(..., keep_history=True).scores``), that activity and the
roster into the HTML text; writing it to disk belongs to :mod:`engagement_score.io` / the CLI.

Why it stays quick with 100,000 advocates: everything the page shows at load (the program at a
glance, the attention lists with their top rows, the trust section) is rendered here as static HTML
and inline SVG, so the browser draws it without running a line of script. The per-advocate data
(for the advocate tab and the CSV export) is embedded once as *columnar* JSON -- one array per
field, reasons interned into a vocabulary, the 31 daily scores packed into one hex string -- and
the script only ever builds the DOM for one advocate or a few search suggestions at a time.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd

from engagement_score.contract import SOURCES, TIMESTAMP_DTYPE
from engagement_score.serving.scoring import ScoringConfig, Tier, tier_index

DAY = pd.Timedelta(days=1)
#: Rows shown per attention list (the CSV export has them all).
LIST_ROWS = 25
#: Attribute columns with at most this many distinct values can filter a segment.
MAX_FILTER_VALUES = 60
#: Daily-score sentinel in the packed history (scores are 0..100).
NO_SCORE = 255
#: Tier colours, highest tier first; more tiers than colours reuse the last.
TIER_COLOURS: tuple[str, ...] = ("#1b7f5b", "#4caf7d", "#e0b431", "#e8823a", "#9aa3ad")
DOT = "\u00b7"
SEP = " \u00b7 "
DASH = "\u2013"
SOURCE_COLOURS: dict[str, str] = {"portal": "#3a6fd8", "community": "#a34fc9"}


# --------------------------------------------------------------------------- activity


def activity_summary(
    events: pd.DataFrame, advocates: pd.DataFrame, as_of: pd.Timestamp, weeks: int = 8
) -> pd.DataFrame:
    """Each roster advocate's recent activity by source, as of T (events with ``occurred_at < T``).

    One row per advocate with ``joined_at <= T``, sorted by ``advocate_id``:

    - ``{source}_week_{k}`` for each source (portal, community) and ``k = 1 .. weeks``: events in
      ``[T - 7k days, T - 7(k-1) days)``, so ``week_1`` is the most recent week;
    - ``{source}_30d``: events in ``[T - 30 days, T)``;
    - ``last_event_at``: the latest event before T (NaT when none).

    Vectorised for 10M events: one ``factorize`` of the ids (then a lookup of the distinct ones
    only), integer microseconds for time, and ``bincount`` for the counts.
    """
    as_of = pd.Timestamp(as_of)
    roster = advocates.loc[advocates["joined_at"] <= as_of, "advocate_id"]
    ids = np.sort(roster.astype("str").to_numpy())
    index = pd.Index(ids)
    n = len(ids)
    # factorize once (fast on Arrow strings), then map the few distinct ids to roster rows
    event_codes, distinct = pd.factorize(events["advocate_id"])
    lookup = np.append(index.get_indexer(pd.Index(distinct).astype("str")), -1)
    code = lookup[event_codes]  # code -1 (missing id) picks the appended -1
    when = events["occurred_at"].array.as_unit("us").asi8  # UTC epoch microseconds
    t_us = as_of.value // 1000  # .value is UTC epoch nanoseconds
    keep = (code >= 0) & (when < t_us)
    code = code[keep]
    when = when[keep]
    source_codes, source_names = pd.factorize(events["source"])
    source_codes = source_codes[keep]
    day_us = 86_400_000_000
    age = t_us - when  # > 0: strictly before T

    out: dict[str, Any] = {"advocate_id": pd.Series(ids, dtype="str")}
    week = (age - 1) // (7 * day_us)  # 0 = the most recent week, [T - 7 days, T)
    names = [str(v) for v in source_names]
    for s in SOURCES:
        mine = source_codes == (names.index(s) if s in names else -2)
        in_weeks = mine & (week < weeks)
        counts = np.bincount(code[in_weeks] * weeks + week[in_weeks], minlength=n * weeks).reshape(
            n, weeks
        )
        for k in range(weeks):
            out[f"{s}_week_{k + 1}"] = counts[:, k].astype("int64")
        recent = mine & (age <= 30 * day_us)
        out[f"{s}_30d"] = np.bincount(code[recent], minlength=n).astype("int64")
    last = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)  # int64 min is NaT
    if len(code):
        latest = pd.Series(when).groupby(code).max()
        last[latest.index.to_numpy()] = latest.to_numpy()
    stamps = pd.to_datetime(last.view("datetime64[us]"), utc=True)
    out["last_event_at"] = pd.Series(stamps, dtype=TIMESTAMP_DTYPE)
    return pd.DataFrame(out)


# --------------------------------------------------------------------------- helpers


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fmt_int(value: float) -> str:
    return f"{int(value):,}"


def _fmt_trend(value: Any) -> str:
    if value is None or pd.isna(value):
        return "new"
    value = int(value)
    return f"+{value}" if value > 0 else ("0" if value == 0 else f"\u2212{-value}")


def resolve_tiers(scores: pd.DataFrame, tiers: Sequence[Tier] | None = None) -> tuple[Tier, ...]:
    """The score bands, highest first: the given ones, the default ones, or inferred from data.

    Tier names come from the data. When no bands are given and the data's names are not the default
    ones, the bands are ordered by the members' median score and start at their lowest score (an
    approximation: with hysteresis a tier holds some scores below its floor).
    """
    names = [str(t) for t in pd.unique(scores["tier"].astype("str"))]
    if tiers is not None:
        known = tuple(sorted(tiers, key=lambda t: -t.min_score))
    else:
        known = ScoringConfig().tiers
    if set(names) <= {t.name for t in known}:
        return known
    stats = scores.groupby(scores["tier"].astype("str"))["score"].agg(["median", "min"])
    stats = stats.sort_values(["median", "min"], ascending=False)
    floors = np.minimum.accumulate(stats["min"].to_numpy()[::-1])[::-1]
    inferred = [Tier(str(name), int(f)) for name, f in zip(stats.index, floors, strict=True)]
    if inferred:
        inferred[-1] = Tier(inferred[-1].name, 0)
    return tuple(inferred)


def _tier_colour(rank: int) -> str:
    return TIER_COLOURS[min(rank, len(TIER_COLOURS) - 1)]


def _label(name: str) -> str:
    """A tier or column name for people: ``at_the_edge`` -> ``At the edge``."""
    text = str(name).replace("_", " ")
    return text[:1].upper() + text[1:]


_POINTS = re.compile(r"^([+\-\u2212]?)(\d+(?:\.\d+)?\s*pts?)(:?)")


def _reason_html(reason: str) -> str:
    """A reason with its signed points coloured (green pushes the score up, red down)."""
    text = _esc(reason)
    match = _POINTS.match(str(reason))
    if not match:
        return text
    kind = "neg" if match.group(1) in ("-", "\u2212") else "pos"
    head = _esc(match.group(0))
    return f'<span class="pts {kind}">{head}</span>{text[len(head) :]}'


def _history_matrix(scores: pd.DataFrame) -> np.ndarray:
    """The daily scores T-30 .. T as a float matrix (NaN = no score); degrade without history."""
    n = len(scores)
    if "score_history" in scores.columns and n:
        rows = [
            h if isinstance(h, list | tuple | np.ndarray) else [] for h in scores["score_history"]
        ]
        width = max((len(r) for r in rows), default=0)
        if width:
            matrix = np.full((n, width), np.nan)
            for i, r in enumerate(rows):
                if len(r):
                    matrix[i, width - len(r) :] = np.array(
                        [np.nan if v is None else v for v in r], dtype=float
                    )
            return matrix
    matrix = np.full((n, 31), np.nan)
    matrix[:, -1] = scores["score"].to_numpy(dtype=float)
    if "score_30d_ago" in scores.columns:
        matrix[:, 0] = scores["score_30d_ago"].astype("Float64").to_numpy(float, na_value=np.nan)
    return matrix


def _pack_history(matrix: np.ndarray) -> str:
    """All daily scores as one hex string, two digits per day ('ff' = no score)."""
    packed = np.where(np.isnan(matrix), NO_SCORE, np.clip(np.nan_to_num(matrix), 0, 100))
    return packed.astype(np.uint8).tobytes().hex()


def _script_json(data: Any) -> str:
    """JSON safe to embed in a ``<script>`` element (no ``</script>``, no ``<!--``)."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _asset(name: str) -> str:
    return (resources.files("engagement_score.serving") / "templates" / name).read_text("utf-8")


# --------------------------------------------------------------------------- data for the script


def _attribute_columns(advocates: pd.DataFrame) -> list[str]:
    skip = {"advocate_id", "joined_at", "community_connected_at"}
    out = []
    for column in advocates.columns:
        if column in skip or pd.api.types.is_datetime64_any_dtype(advocates[column]):
            continue
        out.append(str(column))
    return out


def _encode_column(values: pd.Series) -> dict[str, Any]:
    """A categorical encoding: vocabulary plus one code per row (-1 = missing)."""
    codes, vocab = pd.factorize(values, sort=True)
    return {"values": [str(v) for v in vocab], "codes": codes.astype(int).tolist()}


def _payload(
    scores: pd.DataFrame,
    activity: pd.DataFrame,
    advocates: pd.DataFrame,
    tiers: Sequence[Tier],
    history: np.ndarray,
    as_of: pd.Timestamp,
    weeks: int,
) -> dict[str, Any]:
    ids = scores["advocate_id"].astype("str")
    n = len(scores)
    tier_names = [t.name for t in tiers]
    tier_code = pd.Categorical(scores["tier"].astype("str"), categories=tier_names).codes
    momentum_names = ["gaining", "steady", "slipping"]
    momentum = pd.Categorical(scores["momentum"].astype("str"), categories=momentum_names).codes

    vocab: dict[str, int] = {}
    reasons: list[list[int]] = []
    for row in scores["reasons"] if "reasons" in scores.columns else [[]] * n:
        items = list(row) if isinstance(row, list | tuple | np.ndarray) else []
        reasons.append([vocab.setdefault(str(r), len(vocab)) for r in items])

    trend = scores["trend_30d"].astype("Float64")
    coverage_names = ["portal+community", "portal only"]
    coverage = (
        pd.Categorical(scores["coverage"].astype("str"), categories=coverage_names).codes
        if "coverage" in scores.columns
        else np.full(n, -1)
    )

    data: dict[str, Any] = {
        "as_of": as_of.strftime("%Y-%m-%d"),
        "tiers": tier_names,
        "tier_labels": [_label(t) for t in tier_names],
        "tier_colours": [_tier_colour(i) for i in range(len(tier_names))],
        "tier_floors": [int(t.min_score) for t in tiers],
        "momentum_names": momentum_names,
        "coverage_names": coverage_names,
        "n": n,
        "id": ids.tolist(),
        "score": scores["score"].astype("int64").tolist(),
        "probability": np.round(scores["probability"].to_numpy(float), 3).tolist(),
        "tier": tier_code.astype(int).tolist(),
        "trend": [None if pd.isna(v) else int(v) for v in trend],
        "momentum": momentum.astype(int).tolist(),
        "at_risk": scores["at_risk"].astype(bool).astype(int).tolist(),
        "coverage": coverage.astype(int).tolist(),
        "active": (
            scores["active_30d"].astype(bool).astype(int).tolist()
            if "active_30d" in scores.columns
            else None
        ),
        "reason_vocab": list(vocab),
        "reasons": reasons,
        "history_days": int(history.shape[1]),
        "history": _pack_history(history),
        "sources": list(SOURCES),
        "weeks": weeks,
    }

    # activity, aligned to the score rows (zeros for anybody missing)
    act = activity.set_index(activity["advocate_id"].astype("str")).reindex(ids)
    weekly: dict[str, list[int]] = {}
    for s in SOURCES:
        cols = [f"{s}_week_{k}" for k in range(weeks, 0, -1)]  # oldest first
        present = [c for c in cols if c in act.columns]
        if len(present) == len(cols):
            block = act[cols].fillna(0).to_numpy(dtype=np.int64)
            weekly[s] = block.ravel().tolist()
        else:
            weekly[s] = [0] * (n * weeks)
        data[f"{s}_30d"] = (
            act[f"{s}_30d"].fillna(0).astype("int64").tolist()
            if f"{s}_30d" in act.columns
            else [0] * n
        )
    data["weekly"] = weekly
    if "last_event_at" in act.columns:
        last = pd.to_datetime(act["last_event_at"], utc=True)
        data["last_event"] = [None if pd.isna(v) else v.strftime("%Y-%m-%d") for v in last]
    else:
        data["last_event"] = [None] * n

    # attributes for segments and the advocate tab
    roster = advocates.set_index(advocates["advocate_id"].astype("str")).reindex(ids)
    attributes = {}
    for column in _attribute_columns(advocates):
        encoded = _encode_column(roster[column])
        encoded["filter"] = len(encoded["values"]) <= MAX_FILTER_VALUES
        attributes[column] = encoded
    data["attributes"] = attributes
    return data


# --------------------------------------------------------------------------- static sections


def _histogram_svg(scores: np.ndarray, tiers: Sequence[Tier]) -> str:
    edges = np.arange(0, 101, 5)
    counts = np.bincount(np.clip(scores // 5, 0, 19).astype(int), minlength=20)
    w, h, pad_l, pad_r, pad_b, pad_t = 560, 210, 44, 14, 30, 10
    bar = (w - pad_l - pad_r) / 20
    top = max(int(counts.max()), 1)
    parts = [
        f'<svg id="score-histogram" viewBox="0 0 {w} {h}" role="img" '
        f'aria-label="Score distribution" data-total="{int(counts.sum())}">'
    ]
    for frac in (0, 0.5, 1):
        y = pad_t + (h - pad_t - pad_b) * (1 - frac)
        parts.append(
            f'<line x1="{pad_l}" x2="{w - pad_r}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{pad_l - 6}" y="{y + 4:.1f}" class="axis" text-anchor="end">'
            f"{_fmt_int(top * frac)}</text>"
        )
    for i, c in enumerate(counts):
        rank = int(tier_index(np.array([edges[i]]), tiers)[0])
        bh = (h - pad_t - pad_b) * c / top
        x = pad_l + i * bar
        y = h - pad_b - bh
        label = f"{edges[i]}\u2013{edges[i] + 4 if i < 19 else 100}"
        parts.append(
            f'<rect x="{x + 1:.1f}" y="{y:.1f}" width="{bar - 2:.1f}" height="{bh:.1f}" '
            f'fill="{_tier_colour(rank)}" data-bin="{edges[i]}" data-count="{int(c)}">'
            f"<title>score {label}: {_fmt_int(c)} advocates</title></rect>"
        )
    for s in range(0, 101, 20):
        x = pad_l + s / 5 * bar
        parts.append(f'<text x="{x:.1f}" y="{h - 10}" class="axis" text-anchor="middle">{s}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _tier_counts_html(scores: pd.DataFrame, tiers: Sequence[Tier]) -> str:
    tier = scores["tier"].astype("str")
    counts = tier.value_counts()
    gaining = tier[scores["momentum"].astype("str") == "gaining"].value_counts()
    slipping = tier[scores["momentum"].astype("str") == "slipping"].value_counts()
    risky = tier[scores["at_risk"].astype(bool)].value_counts()
    n = max(len(scores), 1)
    top = max(int(counts.max()) if len(counts) else 1, 1)
    rows = []
    for rank, t in enumerate(tiers):
        c = int(counts.get(t.name, 0))
        band = (
            f"{t.min_score}+"
            if rank == 0
            else f"{t.min_score}\u2013{tiers[rank - 1].min_score - 1}"
        )
        rows.append(
            f'<div class="tier-row" data-tier="{_esc(t.name)}" data-count="{c}">'
            f'<span class="tier-name"><i class="dot" style="background:{_tier_colour(rank)}"></i>'
            f"{_esc(_label(t.name))} <small>{band}</small></span>"
            f'<span class="tier-bar"><b style="width:{100 * c / top:.1f}%;'
            f'background:{_tier_colour(rank)}"></b></span>'
            f'<span class="tier-count">{_fmt_int(c)} <small>{100 * c / n:.0f}%</small></span>'
            f'<span class="tier-momentum"><span class="up">\u25b2 {_fmt_int(gaining.get(t.name, 0))}'
            f'</span> gaining \u00b7 <span class="down">\u25bc {_fmt_int(slipping.get(t.name, 0))}'
            f"</span> slipping \u00b7 {_fmt_int(risky.get(t.name, 0))} at risk</span></div>"
        )
    return f'<div id="tier-counts">{"".join(rows)}</div>'


def _movement_html(scores: pd.DataFrame, tiers: Sequence[Tier]) -> tuple[str, str]:
    """Tier (by score band) 30 days ago -> tier now, as a count matrix, and one sentence."""
    names = [t.name for t in tiers]
    now = pd.Categorical(scores["tier"].astype("str"), categories=names).codes
    earlier = scores["score_30d_ago"].astype("Float64").to_numpy(float, na_value=np.nan)
    known = ~np.isnan(earlier)
    before = np.full(len(scores), len(names))  # last row: no score 30 days ago
    before[known] = tier_index(earlier[known], tiers)
    valid = now >= 0
    matrix = np.zeros((len(names) + 1, len(names)), dtype=int)
    np.add.at(matrix, (before[valid], now[valid]), 1)
    top = max(int(matrix.max()), 1)
    head = "".join(
        f'<th scope="col"><i class="dot" style="background:{_tier_colour(r)}"></i>'
        f"{_esc(_label(t))}</th>"
        for r, t in enumerate(names)
    )
    body = []
    for i in range(len(names) + 1):
        label = _label(names[i]) if i < len(names) else "New (no score then)"
        cells = []
        for j in range(len(names)):
            c = int(matrix[i, j])
            kind = "same" if i == j else ("up" if i > j else "down")
            kind = "new" if i == len(names) else kind
            alpha = 0.08 + 0.72 * (c / top) ** 0.5 if c else 0
            cells.append(
                f'<td class="{kind}" data-from="{_esc(names[i] if i < len(names) else "")}" '
                f'data-to="{_esc(names[j])}" data-count="{c}" '
                f'style="--a:{alpha:.2f}">{_fmt_int(c) if c else DOT}</td>'
            )
        body.append(f'<tr><th scope="row">{_esc(label)}</th>{"".join(cells)}</tr>')
    # rows are "before", columns "now": index j < i means a higher tier now (moved up)
    up = int(np.tril(matrix[: len(names)], -1).sum())
    down = int(np.triu(matrix[: len(names)], 1).sum())
    new = int(matrix[len(names)].sum())
    sentence = (
        f"In 30 days, <b>{_fmt_int(up)}</b> advocates moved up a tier or more, "
        f"<b>{_fmt_int(down)}</b> moved down and <b>{_fmt_int(new)}</b> had no score 30 days ago."
    )
    table = (
        '<table id="tier-movement" class="matrix"><thead><tr>'
        '<th class="corner">30 days ago \u2193 \u00a0 now \u2192</th>'
        f"{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )
    return table, sentence


def _reason_cell(reasons: Any, k: int = 2) -> str:
    items = list(reasons) if isinstance(reasons, list | tuple | np.ndarray) else []
    if not items:
        return '<span class="muted">no strong drivers</span>'
    return "<br>".join(_reason_html(str(r)) for r in items[:k])


def _list_html(
    key: str, title: str, blurb: str, frame: pd.DataFrame, total: int, tiers: Sequence[Tier]
) -> str:
    rank = {t.name: i for i, t in enumerate(tiers)}
    rows = []
    for r in frame.head(LIST_ROWS).itertuples(index=False):
        trend = getattr(r, "trend_30d", None)
        cls = (
            "up"
            if (not pd.isna(trend) and trend > 0)
            else ("down" if not pd.isna(trend) and trend < 0 else "")
        )
        colour = _tier_colour(rank.get(str(r.tier), len(tiers)))
        rows.append(
            f'<tr data-advocate="{_esc(r.advocate_id)}" tabindex="0">'
            f'<td class="id"><a href="#advocate={_esc(quote(str(r.advocate_id)))}">'
            f"{_esc(r.advocate_id)}</a></td>"
            f'<td class="num score">{int(r.score)}</td>'
            f'<td><i class="dot" style="background:{colour}"></i>{_esc(_label(str(r.tier)))}</td>'
            f'<td class="num trend {cls}">{_fmt_trend(trend)}</td>'
            f'<td class="reasons">{_reason_cell(getattr(r, "reasons", None))}</td></tr>'
        )
    if not rows:
        rows.append('<tr><td colspan="5" class="muted">Nobody right now.</td></tr>')
    more = (
        f"top {min(LIST_ROWS, total)} of {_fmt_int(total)}"
        if total > LIST_ROWS
        else _fmt_int(total)
    )
    return (
        f'<section class="card list" id="list-{key}" data-total="{total}">'
        f'<header><h3>{_esc(title)} <span class="badge">{more}</span></h3>'
        f'<button class="export" data-segment="{key}">Export CSV</button></header>'
        f'<p class="blurb">{blurb}</p>'
        '<table class="rows"><thead><tr><th>advocate</th><th class="num">score</th><th>tier</th>'
        '<th class="num" title="change in score over the last 30 days">change</th><th>why</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></section>"
    )


def segment_masks(scores: pd.DataFrame, tiers: Sequence[Tier]) -> dict[str, np.ndarray]:
    """The attention segments, each as a boolean mask over ``scores`` rows.

    The script computes the same masks in the browser for the CSV export; the Python version
    orders the lists shown at load and is what the tests check.
    """
    trend = scores["trend_30d"].astype("Float64").to_numpy(float, na_value=np.nan)
    momentum = scores["momentum"].astype("str").to_numpy()
    top = tiers[0].name if tiers else ""
    return {
        "at-risk": scores["at_risk"].astype(bool).to_numpy(),
        "fallers": (momentum == "slipping") & ~np.isnan(trend) & (trend < 0),
        "rising": (momentum == "gaining") & ~np.isnan(trend) & (trend > 0),
        "champions": scores["tier"].astype("str").to_numpy() == top,
    }


def _ordered(scores: pd.DataFrame, key: str, mask: np.ndarray) -> pd.DataFrame:
    sub = scores.loc[mask]
    trend = sub["trend_30d"].astype("Float64").fillna(0)
    sub = sub.assign(_trend=trend)
    if key == "at-risk":  # likeliest to lapse first, then the steepest fall
        return sub.sort_values(["probability", "_trend", "advocate_id"], kind="stable")
    if key == "fallers":
        return sub.sort_values(["_trend", "score", "advocate_id"], kind="stable")
    if key == "rising":
        return sub.sort_values(["_trend", "score"], ascending=[False, False], kind="stable")
    return sub.sort_values(["score", "_trend"], ascending=[False, False], kind="stable")


# --------------------------------------------------------------------------- trust


def _metric(metrics: Mapping[str, Any], name: str) -> float | None:
    for key in (name, f"all.{name}"):
        value = metrics.get(key)
        if isinstance(value, int | float) and np.isfinite(value):
            return float(value)
    return None


def _reliability_svg(bins: Sequence[Mapping[str, Any]]) -> str:
    w, h, pad = 310, 300, 46
    span = w - 2 * pad

    def xy(p: float, o: float) -> tuple[float, float]:
        return pad + p * span, h - pad - o * span

    total = sum(float(b.get("count", 0) or 0) for b in bins) or 1.0
    parts = [
        f'<svg id="reliability" viewBox="0 0 {w} {h}" role="img" '
        'aria-label="Reliability diagram: predicted versus observed">',
        f'<rect x="{pad}" y="{pad}" width="{span}" height="{span}" class="plot"/>',
    ]
    for t in (0, 0.25, 0.5, 0.75, 1):
        x, y = xy(t, t)
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{pad}" y2="{h - pad}" class="grid"/>'
            f'<line x1="{pad}" x2="{w - pad}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{x:.1f}" y="{h - pad + 16}" class="axis" text-anchor="middle">{int(t * 100)}</text>'
            f'<text x="{pad - 6}" y="{y + 4:.1f}" class="axis" text-anchor="end">{int(t * 100)}%</text>'
        )
    x0, y0 = xy(0, 0)
    x1, y1 = xy(1, 1)
    parts.append(f'<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y1}" class="diagonal"/>')
    points = []
    for b in bins:
        p, o = b.get("bin_mean_predicted"), b.get("observed_rate")
        if p is None or o is None or not (np.isfinite(p) and np.isfinite(o)):
            continue
        points.append((float(p), float(o), float(b.get("count", 0) or 0)))
    points.sort()
    if points:
        path = " ".join(f"{xy(p, o)[0]:.1f},{xy(p, o)[1]:.1f}" for p, o, _ in points)
        parts.append(f'<polyline points="{path}" class="observed"/>')
        for p, o, c in points:
            x, y = xy(p, o)
            r = 2.5 + 6 * (c / total) ** 0.5
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" class="observed">'
                f"<title>scored about {100 * p:.0f}: {100 * o:.0f}% engaged "
                f"({_fmt_int(c)} advocate-dates)</title></circle>"
            )
    parts.append(
        f'<text x="{w / 2}" y="{h - 6}" class="axis" text-anchor="middle">score</text>'
        f'<text x="11" y="{h / 2}" class="axis" text-anchor="middle" '
        f'transform="rotate(-90 11 {h / 2})">actually engaged</text></svg>'
    )
    return "".join(parts)


def _trust_html(trust: Mapping[str, Any] | None) -> str:
    if not trust:
        return (
            '<section class="card" id="trust-section" data-available="false"><h2>How far to trust '
            'it</h2><p class="muted">No model evaluation was available for this report (the model '
            "carried no test metrics). Train with <code>engagement-score train</code> to get the "
            "reliability diagram and test metrics here.</p></section>"
        )
    metrics = trust.get("metrics") or trust.get("test_metrics") or {}
    baselines = trust.get("baselines") or {}
    bins = trust.get("reliability") or []
    horizon = int((trust.get("label") or {}).get("horizon_days", 30) or 30)
    sentences: list[str] = []
    usable = [
        b
        for b in bins
        if b.get("bin_mean_predicted") is not None
        and b.get("observed_rate") is not None
        and float(b.get("count", 0) or 0) > 0
    ]
    if usable:
        for target in (0.7, 0.3):
            near = min(usable, key=lambda b: abs(float(b["bin_mean_predicted"]) - target))
            p, o = float(near["bin_mean_predicted"]), float(near["observed_rate"])
            if abs(p - target) <= 0.1:
                sentences.append(
                    f"Of advocates scored around <b>{100 * p:.0f}</b>, <b>{100 * o:.0f}%</b> "
                    f"were engaged in the following {horizon} days."
                )
    ece = _metric(metrics, "ece")
    if ece is not None:
        sentences.append(
            f"On average the score is <b>{100 * ece:.1f} points</b> away from the share of "
            "advocates who actually engaged (calibration error); closer to 0 is better."
        )
    auc = _metric(metrics, "roc_auc")
    if auc is not None:
        sentences.append(
            f"Take one advocate who engaged and one who did not: the score ranks the engaged one "
            f"higher <b>{100 * auc:.0f}%</b> of the time (ROC AUC {auc:.2f}; 50% is a coin toss)."
        )
    lift = _metric(metrics, "lift_top_decile")
    if lift is not None:
        sentences.append(
            f"The top 10% by score were <b>{lift:.1f}\u00d7</b> as likely to engage as the average "
            "advocate."
        )
    brier = _metric(metrics, "brier")
    if brier is not None:
        sentences.append(
            f"Brier score {brier:.3f} (mean squared error of the probability; lower is better)."
        )
    active_auc = _metric(metrics, "active.roc_auc")
    if active_auc is None and isinstance(metrics.get("active.roc_auc"), int | float):
        active_auc = float(metrics["active.roc_auc"])
    if active_auc is not None:
        sentences.append(
            f"Among advocates active in the last 30 days, where telling the fading from the steady "
            f"matters most, that ranking is right <b>{100 * active_auc:.0f}%</b> of the time."
        )
    baseline_rows = []
    for name, values in baselines.items():
        if not isinstance(values, Mapping):
            continue
        cells = []
        for m in ("roc_auc", "brier", "ece", "lift_top_decile"):
            v = _metric(values, m)
            cells.append(f'<td class="num">{"" if v is None else f"{v:.3f}"}</td>')
        baseline_rows.append(f"<tr><th>{_esc(_label(str(name)))}</th>{''.join(cells)}</tr>")
    if baseline_rows:
        model_cells = "".join(
            f'<td class="num">{"" if (v := _metric(metrics, m)) is None else f"{v:.3f}"}</td>'
            for m in ("roc_auc", "brier", "ece", "lift_top_decile")
        )
        table = (
            '<table class="rows" id="trust-baselines"><thead><tr><th>on the test window</th>'
            '<th class="num">ROC AUC \u2191</th><th class="num">Brier \u2193</th>'
            '<th class="num">calibration error \u2193</th><th class="num">top-10% lift \u2191</th>'
            f'</tr></thead><tbody><tr class="model"><th>this model</th>{model_cells}</tr>'
            f"{''.join(baseline_rows)}</tbody></table>"
            '<p class="muted">Baselines are simpler rules scored on the same advocates and dates; '
            "the model is only worth trusting where it beats them.</p>"
        )
    else:
        table = ""
    facts = []
    window = trust.get("test_window")
    windows = trust.get("windows") or {}
    if not window and windows.get("split.test.first"):
        window = f"{windows['split.test.first']} .. {windows.get('split.test.last', '')}"
    if window:
        facts.append(f"Tested on: {_esc(window)}")
    trained = trust.get("trained_at") or trust.get("trained_at_utc")
    if trained:
        facts.append(f"Trained: {_esc(str(trained)[:16].replace('T', ' '))}")
    for key, label in (("model_version", "Model version"), ("run_id", "MLflow run")):
        if trust.get(key):
            facts.append(f"{label}: <code>{_esc(trust[key])}</code>")
    diagram = (
        _reliability_svg(usable)
        if usable
        else '<p class="muted">No reliability diagram in the model metadata.</p>'
    )
    words = "".join(f"<li>{s}</li>" for s in sentences) or (
        '<li class="muted">The model metadata carried no test metrics.</li>'
    )
    return (
        '<section class="card" id="trust-section" data-available="true">'
        "<h2>How far to trust it</h2>"
        '<div class="trust-grid"><figure>'
        f"{diagram}<figcaption>Reliability: each dot is a group of advocates with similar scores; "
        "on the dashed line the score means exactly what it says.</figcaption></figure>"
        f'<div><ul class="plain" id="trust-words">{words}</ul>{table}'
        f'<p class="muted">{SEP.join(facts)}</p></div></div></section>'
    )


# --------------------------------------------------------------------------- report


def build_report(
    scores: pd.DataFrame,
    activity: pd.DataFrame,
    advocates: pd.DataFrame,
    as_of: pd.Timestamp,
    trust: dict | None = None,
    title: str = "Engagement report",
    *,
    tiers: Sequence[Tier] | None = None,
) -> str:
    """The report as one self-contained HTML document (pure: frames in, text out).

    ``scores`` is ``score_program(..., keep_history=True).scores``; ``activity`` is
    :func:`activity_summary` for the same T; ``advocates`` the roster (its attribute columns become
    segment filters and CSV columns); ``trust`` the model's evaluation (metrics, baselines,
    reliability bins, test window), rendered in plain words and left out gracefully when absent.
    ``tiers`` are the score bands (default: the data's names with the default bands); they only
    colour the histogram and place scores of 30 days ago in a tier.
    """
    as_of = pd.Timestamp(as_of)
    scores = scores.sort_values("advocate_id", ignore_index=True)
    resolved = resolve_tiers(scores, tiers)
    history = _history_matrix(scores)
    weeks = sum(1 for c in activity.columns if str(c).startswith(f"{SOURCES[0]}_week_")) or 8
    payload = _payload(scores, activity, advocates, resolved, history, as_of, weeks)

    n = len(scores)
    score_values = scores["score"].to_numpy(dtype=np.int64)
    masks = segment_masks(scores, resolved)
    momentum = scores["momentum"].astype("str").value_counts()
    mean_score = float(score_values.mean()) if n else float("nan")
    median_score = float(np.median(score_values)) if n else float("nan")
    movement, movement_sentence = _movement_html(scores, resolved)
    active = int(scores["active_30d"].sum()) if "active_30d" in scores.columns else None

    kpis = [
        ("advocates", _fmt_int(n), "on the roster"),
        (
            "mean-score",
            f"{mean_score:.0f}" if n else DASH,
            f"mean score (median {median_score:.0f})" if n else "mean score",
        ),
        ("active", _fmt_int(active) if active is not None else DASH, "active in the last 30 days"),
        ("at-risk", _fmt_int(masks["at-risk"].sum()), "active but likely to lapse"),
        ("gaining", _fmt_int(momentum.get("gaining", 0)), "gaining momentum"),
        ("slipping", _fmt_int(momentum.get("slipping", 0)), "slipping"),
    ]
    kpi_html = "".join(
        f'<div class="kpi" id="kpi-{k}"><b>{v}</b><span>{_esc(sub)}</span></div>'
        for k, v, sub in kpis
    )
    top_name = _label(resolved[0].name) if resolved else "top tier"
    lists = [
        (
            "at-risk",
            "At risk",
            "Active in the last 30 days but likely to lapse: reach out now. "
            "Likeliest to lapse first.",
        ),
        (
            "fallers",
            "Biggest fallers",
            "Slipping: the score fell more than day-to-day noise in 30 days. Steepest fall first.",
        ),
        ("rising", "Rising", "Gaining momentum: thank them and give them a next step."),
        (
            "champions",
            f"{_label(top_name).capitalize()}s to invite",
            "Your strongest advocates: invite them to advocacy, references or community leadership.",
        ),
    ]
    lists_html = "".join(
        _list_html(
            key, title_, blurb, _ordered(scores, key, masks[key]), int(masks[key].sum()), resolved
        )
        for key, title_, blurb in lists
    )
    tier_options = "".join(
        f'<option value="tier:{_esc(t.name)}">tier: {_esc(_label(t.name))}</option>'
        for t in resolved
    )
    filter_options = "".join(
        f'<option value="{_esc(c)}">{_esc(c)}</option>'
        for c, enc in payload["attributes"].items()
        if enc["filter"]
    )
    body = f"""
<header class="top">
  <div><h1>{_esc(title)}</h1>
  <p class="sub">As of <b id="as-of">{as_of.strftime("%d %B %Y")}</b> \u00b7 {_fmt_int(n)} advocates \u00b7
  scores are the chance (0\u2013100) that an advocate is engaged in the next 30 days</p></div>
  <nav id="tabs" role="tablist">
    <button role="tab" data-tab="program" aria-selected="true">Program</button>
    <button role="tab" data-tab="advocate" aria-selected="false">Advocate</button>
    <button role="tab" data-tab="trust" aria-selected="false">Trust</button>
    <button role="tab" data-tab="segments" aria-selected="false">Segments</button>
  </nav>
</header>
<main>
<div class="tab" id="tab-program">
  <div class="kpis">{kpi_html}</div>
  <div class="glance">
    <section class="card"><h2>Score distribution</h2>{_histogram_svg(score_values, resolved)}
      <p class="muted">Bars coloured by the tier band of the score.</p></section>
    <section class="card"><h2>Advocates per tier</h2>{_tier_counts_html(scores, resolved)}</section>
    <section class="card wide"><h2>How tiers moved in 30 days</h2>{movement}
      <p class="muted" id="movement-sentence">{movement_sentence} Tier 30 days ago by score band.</p>
    </section>
  </div>
  <h2 class="section">Who needs attention</h2>
  <div class="lists">{lists_html}</div>
</div>
<div class="tab" id="tab-advocate" hidden>
  <section class="card search">
    <label for="advocate-search">Find an advocate by id</label>
    <div class="searchbox"><input id="advocate-search" type="search" autocomplete="off"
      placeholder="e.g. {_esc(scores["advocate_id"].iloc[0]) if n else "A000001"}" spellcheck="false">
    <button id="advocate-go">Open</button></div>
    <ul id="advocate-suggestions"></ul>
  </section>
  <section class="card" id="advocate-panel" data-advocate-id="">
    <p class="muted">Search for an advocate above, or click any advocate in the lists.</p>
  </section>
</div>
<div class="tab" id="tab-trust" hidden>{_trust_html(trust)}</div>
<div class="tab" id="tab-segments" hidden>
  <section class="card" id="segment-export"><h2>Export a segment as CSV</h2>
    <p class="muted">For campaigns: pick a segment, optionally narrow it by an attribute, and
    download the advocates with their score, tier, trend and top reasons.</p>
    <div class="form">
      <label>Segment <select id="segment-select">
        <option value="at-risk">at risk</option><option value="fallers">biggest fallers</option>
        <option value="rising">rising</option><option value="champions">{_esc(top_name)}s</option>
        {tier_options}<option value="all">everybody</option></select></label>
      <label>Attribute <select id="segment-attribute"><option value="">(any)</option>
        {filter_options}</select></label>
      <label>Value <select id="segment-value" disabled><option value="">(any)</option></select></label>
      <button id="segment-download">Download CSV</button>
    </div>
    <p id="segment-count" data-count=""></p>
    <table class="rows" id="segment-preview"></table>
  </section>
</div>
</main>
<footer>Generated by engagement-score. Self-contained: no data leaves this file.</footer>
"""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_esc(title)} \u2013 {as_of.strftime('%Y-%m-%d')}</title>"
        f"<style>{_asset('report.css')}</style></head><body>{body}"
        f'<script id="report-data" type="application/json">{_script_json(payload)}</script>'
        f"<script>{_asset('report.js')}</script></body></html>\n"
    )


def embedded_data(report_html: str) -> dict[str, Any]:
    """The per-advocate data embedded in a report (for tests and tools)."""
    start_tag = '<script id="report-data" type="application/json">'
    start = report_html.index(start_tag) + len(start_tag)
    end = report_html.index("</script>", start)
    return json.loads(report_html[start:end])
