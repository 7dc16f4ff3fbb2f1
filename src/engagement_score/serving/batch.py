"""Batch scoring: every advocate on the roster as of T, with trend, momentum, risk and reasons.

:func:`score_partition` is a pure function of one partition of advocates (their events and roster
rows): it builds features for the 31 daily as-of dates T-30 .. T in one pass, scores them all in
one call, and derives the tier (with hysteresis), trend and reasons from that daily series. The
local engine runs it over chunks of the roster (:func:`score_program`); the Spark engine runs the
very same function in ``applyInPandas`` (:mod:`engagement_score.serving.spark`). Only momentum
needs the whole program, since its threshold is the program's measured score noise:
:func:`finalize` combines the per-advocate noise sums and labels momentum afterwards.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from engagement_score.config import FeatureSpec
from engagement_score.contract import SCORE_COLUMNS, TIMESTAMP_DTYPE
from engagement_score.features.build import build_features_partition, feature_descriptions
from engagement_score.parallel import bounded_map
from engagement_score.serving.explain import reason_texts
from engagement_score.serving.model import EngagementModel, probability_to_score
from engagement_score.serving.scoring import (
    ScoringConfig,
    daily_noise,
    momentum_labels,
    momentum_threshold,
    tiers_with_hysteresis,
)

DAY = pd.Timedelta(days=1)
#: Extra output columns after the contract's, in order.
EXTRA_COLUMNS: tuple[str, ...] = ("coverage", "active_30d", "score_30d_ago")
#: Per-advocate sums that :func:`finalize` combines into the momentum threshold, then drops.
NOISE_COLUMNS: tuple[str, ...] = ("_noise_ss", "_noise_n")
HISTORY_COLUMN = "score_history"
COVERAGE_FULL = "portal+community"
COVERAGE_PORTAL = "portal only"


def model_feature_spec(model: EngagementModel) -> FeatureSpec:
    """The feature spec the model was trained with (carried in its metadata), else the default."""
    data = model.metadata.get("feature_spec")
    return FeatureSpec.from_dict(data) if isinstance(data, dict) else FeatureSpec.load()


def model_scoring_config(model: EngagementModel) -> ScoringConfig:
    """The serving configuration the model carries, else ``serving/scoring.yaml``."""
    data = model.metadata.get("scoring_config")
    return ScoringConfig.from_dict(data) if isinstance(data, dict) else ScoringConfig.load()


@dataclass(frozen=True)
class ScoringResult:
    """Scores of a program as of T and the momentum threshold measured on its daily series."""

    scores: pd.DataFrame
    momentum_threshold: float


def trend_dates(as_of: pd.Timestamp, days: int = 30) -> list[pd.Timestamp]:
    """The daily as-of dates T - days .. T, oldest first."""
    return [as_of - k * DAY for k in range(days, -1, -1)]


def _empty_scores(as_of: pd.Timestamp, keep_history: bool) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "advocate_id": pd.Series([], dtype="str"),
            "as_of": pd.Series([], dtype=TIMESTAMP_DTYPE),
            "score": pd.Series([], dtype="int64"),
            "probability": pd.Series([], dtype="float64"),
            "tier": pd.Series([], dtype="str"),
            "trend_30d": pd.Series([], dtype="Int64"),
            "momentum": pd.Series([], dtype="str"),
            "at_risk": pd.Series([], dtype="bool"),
            "reasons": pd.Series([], dtype=object),
            "coverage": pd.Series([], dtype="str"),
            "active_30d": pd.Series([], dtype="bool"),
            "score_30d_ago": pd.Series([], dtype="Int64"),
            "_noise_ss": pd.Series([], dtype="float64"),
            "_noise_n": pd.Series([], dtype="int64"),
        }
    )
    if keep_history:
        frame[HISTORY_COLUMN] = pd.Series([], dtype=object)
    return frame


def score_partition(
    events: pd.DataFrame,
    advocates: pd.DataFrame,
    as_of: pd.Timestamp,
    model: EngagementModel,
    *,
    spec: FeatureSpec | None = None,
    config: ScoringConfig | None = None,
    with_reasons: bool = True,
    keep_history: bool = False,
) -> pd.DataFrame:
    """Score one partition of advocates as of ``as_of`` (pure; see the module docstring).

    Returns one row per advocate of ``advocates`` on the roster as of T (``joined_at <= T``), sorted
    by ``advocate_id``, with the contract's columns, ``coverage``, ``active_30d``,
    ``score_30d_ago``, the noise sums for :func:`finalize` and, with ``keep_history``, the daily
    scores T-30 .. T as ``score_history`` (a list, None before joining). ``momentum`` is left
    ``steady`` here; :func:`finalize` sets it against the program-wide threshold.
    """
    spec = spec or model_feature_spec(model)
    config = config or model_scoring_config(model)
    dates = trend_dates(as_of)
    features = build_features_partition(events, advocates, dates, spec)
    if features.empty or not (features["as_of"] == as_of).any():
        return _empty_scores(as_of, keep_history)

    probability = model.predict_proba(features)
    scores = probability_to_score(probability)
    today = (features["as_of"] == as_of).to_numpy()
    ids = features["advocate_id"].to_numpy()[today]  # sorted: rows are (advocate_id, as_of)
    position = np.searchsorted(ids, features["advocate_id"].to_numpy())
    day = ((features["as_of"] - dates[0]) // DAY).to_numpy()
    daily = np.full((len(ids), len(dates)), np.nan)
    daily[position, day] = scores

    n = len(ids)
    score_today = scores[today]
    prob_today = probability[today]
    tiers = config.tiers
    tier_idx = tiers_with_hysteresis(daily, tiers, config.demotion_days)
    tier_names = np.array([t.name for t in tiers], dtype=object)[tier_idx]

    roster = advocates.set_index("advocate_id").loc[ids]
    connected = roster["community_connected_at"]
    coverage = np.where(connected.notna() & (connected <= as_of), COVERAGE_FULL, COVERAGE_PORTAL)
    recent = events[(events["occurred_at"] >= as_of - 30 * DAY) & (events["occurred_at"] < as_of)]
    active = pd.Index(ids).isin(recent["advocate_id"].unique())  # hashed; np.isin sorts strings

    if with_reasons and config.reason_count > 0:
        reasons, _ = reason_texts(
            model,
            features.loc[today],
            feature_descriptions(spec),
            config.reason_count,
            config.min_reason_points,
        )
    else:
        reasons = [[] for _ in range(n)]

    earlier = daily[:, 0]
    ss, count = daily_noise(daily, config.daily_change_cap)
    out = pd.DataFrame(
        {
            "advocate_id": pd.Series(ids, dtype="str"),
            "as_of": pd.Series([as_of] * n, dtype=TIMESTAMP_DTYPE),
            "score": score_today.astype("int64"),
            "probability": prob_today.astype("float64"),
            "tier": pd.Series(tier_names, dtype="str"),
            "trend_30d": pd.array(
                np.where(np.isnan(earlier), 0, score_today - np.nan_to_num(earlier)), dtype="Int64"
            ),
            "momentum": pd.Series(["steady"] * n, dtype="str"),
            "at_risk": active & (prob_today < config.at_risk_max_probability),
            "reasons": pd.Series(reasons, dtype=object),
            "coverage": pd.Series(coverage, dtype="str"),
            "active_30d": active,
            "score_30d_ago": pd.array(np.nan_to_num(earlier).astype("int64"), dtype="Int64"),
            "_noise_ss": ss,
            "_noise_n": count.astype("int64"),
        }
    )
    unknown = np.isnan(earlier)
    out.loc[unknown, "trend_30d"] = pd.NA
    out.loc[unknown, "score_30d_ago"] = pd.NA
    if keep_history:
        out[HISTORY_COLUMN] = [[None if np.isnan(v) else int(v) for v in row] for row in daily]
    return out


def finalize(frame: pd.DataFrame, config: ScoringConfig) -> ScoringResult:
    """Label momentum against the program-wide noise threshold and order the columns."""
    threshold = momentum_threshold(
        float(frame["_noise_ss"].sum()),
        float(frame["_noise_n"].sum()),
        config.noise_multiplier,
        config.min_momentum_points,
    )
    out = frame.drop(columns=list(NOISE_COLUMNS))
    trend = out["trend_30d"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    out["momentum"] = pd.Series(momentum_labels(trend, threshold), dtype="str", index=out.index)
    rest = [c for c in out.columns if c not in SCORE_COLUMNS]
    out = out[list(SCORE_COLUMNS) + rest].sort_values("advocate_id", ignore_index=True)
    return ScoringResult(scores=out, momentum_threshold=threshold)


def partitions(
    events: pd.DataFrame, advocates: pd.DataFrame, chunk_size: int
) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """Split the roster (sorted by id) into chunks, each with its own advocates' events.

    A ``category`` ``advocate_id`` (as :func:`engagement_score.io.load_inputs` gives, with every
    roster id as a category) is re-coded to the chunk's own ids, so a chunk carries (and a
    worker process is sent) 20,000 ids rather than the whole roster's; an id that is not on
    the roster becomes missing, as it would be when matched against the chunk's roster.
    """
    roster = advocates.sort_values("advocate_id", ignore_index=True)
    ids = roster["advocate_id"].to_numpy()
    event_ids = events["advocate_id"]
    categorical = isinstance(event_ids.dtype, pd.CategoricalDtype)
    if categorical:  # canonical events: look up the categories, not every event
        names = np.asarray(event_ids.cat.categories, dtype=object)
        where = np.searchsorted(ids, names)
        on_roster = (where < len(ids)) & (ids[np.minimum(where, len(ids) - 1)] == names)
        where = np.where(on_roster, where, len(ids))
        position = np.append(where, len(ids))[event_ids.cat.codes.to_numpy()]
    else:
        position = np.searchsorted(ids, event_ids.to_numpy())
    chunk_size = max(chunk_size, 1)
    codes = position // chunk_size
    order = np.argsort(codes, kind="stable")
    n_chunks = max(1, -(-len(ids) // chunk_size))
    bounds = np.searchsorted(codes[order], np.arange(n_chunks + 1))
    for i in range(n_chunks):
        rows = order[bounds[i] : bounds[i + 1]]
        chunk_roster = roster.iloc[i * chunk_size : (i + 1) * chunk_size]
        chunk_events = events.iloc[rows]
        if categorical:
            local = position[rows] - i * chunk_size
            local[local >= len(chunk_roster)] = -1
            dtype = pd.CategoricalDtype(pd.Index(chunk_roster["advocate_id"], dtype="str"))
            chunk_events = chunk_events.assign(
                advocate_id=pd.Categorical.from_codes(local.astype(np.int32), dtype=dtype)
            )
        yield chunk_events, chunk_roster


#: Per-process state of a scoring worker, set once by :func:`_init_worker`.
_WORKER: dict[str, Any] = {}


def _init_worker(model: EngagementModel, kwargs: dict[str, Any]) -> None:
    _WORKER["model"] = model
    _WORKER["kwargs"] = kwargs


def _score_in_worker(events: pd.DataFrame, advocates: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    frame = score_partition(events, advocates, model=_WORKER["model"], **_WORKER["kwargs"])
    return frame, len(advocates)


def score_program(
    events: pd.DataFrame,
    advocates: pd.DataFrame,
    as_of: pd.Timestamp,
    model: EngagementModel,
    *,
    chunk_size: int = 20_000,
    with_reasons: bool = True,
    keep_history: bool = False,
    on_chunk: Callable[[int], None] | None = None,
    config: ScoringConfig | None = None,
    workers: int = 1,
) -> ScoringResult:
    """Score every advocate on the roster as of T, chunk by chunk (the local engine).

    With ``workers > 1`` the chunks are scored by that many worker processes (a ``forkserver``
    pool: each is sent the model once and then one chunk at a time, at most two chunks per worker
    in flight so memory stays bounded). A chunk's features are built on one thread, so processes,
    not LightGBM threads, are what use several cores for the whole job; give each worker one
    thread (``model.n_jobs = 1``). The result is the same as with one process.
    """
    spec = model_feature_spec(model)
    config = config or model_scoring_config(model)
    kwargs: dict[str, Any] = {
        "as_of": as_of, "spec": spec, "config": config,
        "with_reasons": with_reasons, "keep_history": keep_history,
    }  # fmt: skip
    chunks = partitions(events, advocates, chunk_size)
    frames: list[pd.DataFrame] = []
    if workers <= 1 or n_partitions(advocates, chunk_size) <= 1:
        for chunk_events, chunk_roster in chunks:
            frames.append(score_partition(chunk_events, chunk_roster, model=model, **kwargs))
            if on_chunk is not None:
                on_chunk(len(chunk_roster))
    else:
        frames = _score_in_pool(chunks, model, kwargs, workers, on_chunk)
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return finalize(frame, config)


def _score_in_pool(
    chunks: Iterator[tuple[pd.DataFrame, pd.DataFrame]],
    model: EngagementModel,
    kwargs: dict[str, Any],
    workers: int,
    on_chunk: Callable[[int], None] | None,
) -> list[pd.DataFrame]:
    """Score the chunks in ``workers`` processes, in order, with a bounded number in flight."""
    # forkserver: workers start clean (no inherited threads or locks), cheaply; spawn elsewhere
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    frames: list[pd.DataFrame] = []
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_init_worker, initargs=(model, kwargs)
    ) as pool:
        for frame, n in bounded_map(pool, _score_in_worker, chunks, 2 * workers):
            frames.append(frame)
            if on_chunk is not None:
                on_chunk(n)
    return frames


def peer_sample(advocates: pd.DataFrame, advocate_id: str, n: int) -> pd.DataFrame:
    """A deterministic sample of up to ``n`` roster rows that includes ``advocate_id``.

    Scoring one advocate needs only their own events, except the momentum threshold, which is
    measured on the program's daily scores: a fixed pseudo-random sample (by a hash of the id, so
    the same every run) measures it without scoring the whole program.
    """
    if len(advocates) <= n + 1:
        return advocates
    order = pd.util.hash_pandas_object(advocates["advocate_id"], index=False).to_numpy().argsort()
    picked = advocates.iloc[np.sort(order[:n])]
    if advocate_id not in set(picked["advocate_id"]):
        picked = pd.concat([picked, advocates[advocates["advocate_id"] == advocate_id]])
    return picked


def n_partitions(advocates: pd.DataFrame, chunk_size: int) -> int:
    """How many chunks :func:`score_program` uses (for a progress bar)."""
    return max(1, -(-len(advocates) // chunk_size))


def summary(result: ScoringResult) -> dict[str, Any]:
    """Counts a batch job prints: advocates, tiers, momentum, at risk."""
    scores = result.scores
    return {
        "advocates": len(scores),
        "mean_score": float(scores["score"].mean()) if len(scores) else float("nan"),
        "tiers": scores["tier"].value_counts().to_dict(),
        "momentum": scores["momentum"].value_counts().to_dict(),
        "at_risk": int(scores["at_risk"].sum()),
        "momentum_threshold": result.momentum_threshold,
    }
