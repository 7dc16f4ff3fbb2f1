"""From probabilities to what people read: tiers, trend, momentum, risk and reasons in points.

Everything here works on arrays for a whole partition of advocates at once, so the same functions
serve the nightly batch, the REST model and Spark. The probability-to-score mapping itself belongs
to :func:`engagement_score.serving.model.probability_to_score`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engagement_score.config import default_config_path, load_yaml
from engagement_score.contract import ContractError


@dataclass(frozen=True)
class Tier:
    """A named score band: scores at or above ``min_score`` reach it."""

    name: str
    min_score: int


@dataclass(frozen=True)
class ScoringConfig:
    """Serving settings (``serving/scoring.yaml``); the registered model carries its own copy."""

    tiers: tuple[Tier, ...] = (
        Tier("champion", 80),
        Tier("engaged", 60),
        Tier("developing", 35),
        Tier("at_the_edge", 15),
        Tier("dormant", 0),
    )
    demotion_days: int = 7
    noise_multiplier: float = 2.0
    min_momentum_points: int = 5
    daily_change_cap: float = 20.0
    at_risk_max_probability: float = 0.5
    reason_count: int = 3
    min_reason_points: int = 1
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], file: str = "scoring.yaml") -> ScoringConfig:
        try:
            tiers = tuple(
                sorted(
                    (Tier(str(t["name"]), int(t["min_score"])) for t in data["tiers"]),
                    key=lambda t: -t.min_score,
                )
            )
            momentum = data.get("momentum", {})
            at_risk = data.get("at_risk", {})
            reasons = data.get("reasons", {})
            config = cls(
                tiers=tiers,
                demotion_days=int(data.get("demotion_days", 7)),
                noise_multiplier=float(momentum.get("noise_multiplier", 2.0)),
                min_momentum_points=int(momentum.get("min_points", 5)),
                daily_change_cap=float(momentum.get("daily_change_cap", 20.0)),
                at_risk_max_probability=float(at_risk.get("max_probability", 0.5)),
                reason_count=int(reasons.get("count", 3)),
                min_reason_points=int(reasons.get("min_abs_points", 1)),
                raw=dict(data),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ContractError(
                f"is not a valid scoring configuration ({exc!r})", file=file
            ) from None
        if not tiers or tiers[-1].min_score > 0:
            raise ContractError("the lowest tier must start at score 0", file=file)
        if config.demotion_days < 1 or config.reason_count < 0:
            raise ContractError("demotion_days must be >= 1 and reasons.count >= 0", file=file)
        return config

    @classmethod
    def load(cls, path: str | Path | None = None) -> ScoringConfig:
        path = Path(path) if path else default_config_path("scoring.yaml")
        return cls.from_dict(load_yaml(path), file=str(path))

    def to_dict(self) -> dict[str, Any]:
        return {
            "tiers": [{"name": t.name, "min_score": t.min_score} for t in self.tiers],
            "demotion_days": self.demotion_days,
            "momentum": {
                "noise_multiplier": self.noise_multiplier,
                "min_points": self.min_momentum_points,
                "daily_change_cap": self.daily_change_cap,
            },
            "at_risk": {"max_probability": self.at_risk_max_probability},
            "reasons": {"count": self.reason_count, "min_abs_points": self.min_reason_points},
        }


# --------------------------------------------------------------------------- tiers


def tier_index(scores: np.ndarray, tiers: Sequence[Tier]) -> np.ndarray:
    """Band index (0 = highest tier) of each score, without hysteresis."""
    floors = np.array([t.min_score for t in tiers])  # descending
    # number of floors strictly above the score = index of the first band the score reaches
    return (np.asarray(scores)[..., None] < floors).sum(axis=-1)


def tiers_with_hysteresis(
    daily_scores: np.ndarray, tiers: Sequence[Tier], demotion_days: int
) -> np.ndarray:
    """Tier index on the last day of each row of a daily score series, with hysteresis.

    ``daily_scores`` is ``(n_advocates, n_days)``, oldest day first, NaN where the advocate had no
    score yet (not on the roster). Promotion is immediate; demotion happens only once the score has
    been below the current tier's floor for ``demotion_days`` consecutive days, and then to the band
    the score is in that day.
    """
    scores = np.asarray(daily_scores, dtype=float)
    n, days = scores.shape
    current = np.full(n, -1)
    below = np.zeros(n, dtype=int)
    for d in range(days):
        day = scores[:, d]
        known = ~np.isnan(day)
        band = tier_index(np.where(known, day, 0), tiers)
        fresh = known & (current < 0)
        current = np.where(fresh, band, current)
        held = known & ~fresh
        promote = held & (band <= current)
        below = np.where(promote, 0, below)
        current = np.where(promote, band, current)
        lower = held & (band > current)
        below = np.where(lower, below + 1, below)
        demote = lower & (below >= demotion_days)
        current = np.where(demote, band, current)
        below = np.where(demote, 0, below)
    return current


# --------------------------------------------------------------------------- momentum


def daily_noise(daily_scores: np.ndarray, cap: float) -> tuple[np.ndarray, np.ndarray]:
    """Per advocate: squared residuals of the daily scores around their own linear trend, and dof.

    An advocate's score jitters from day to day (a busy week leaves the 7-day window, a weekend
    passes) around whatever real trend it has. Fitting a straight line through each advocate's
    daily series and keeping what the line does not explain isolates that jitter; residuals are
    capped at ``cap`` points so a single real jump does not count as noise. Returned as sums and
    degrees of freedom (known days - 2), so partitions (chunks here, Spark partitions there)
    combine exactly into one program-wide estimate with :func:`momentum_threshold`.
    """
    y = np.asarray(daily_scores, dtype=float)
    known = ~np.isnan(y)
    t = np.broadcast_to(np.arange(y.shape[1], dtype=float), y.shape)
    n = known.sum(axis=1)
    safe_n = np.maximum(n, 1)
    t_mean = np.where(known, t, 0).sum(axis=1) / safe_n
    y_mean = np.where(known, y, 0).sum(axis=1) / safe_n
    dt = np.where(known, t - t_mean[:, None], 0.0)
    dy = np.where(known, y - y_mean[:, None], 0.0)
    sxx = (dt**2).sum(axis=1)
    slope = np.divide((dt * dy).sum(axis=1), sxx, out=np.zeros(len(y)), where=sxx > 0)
    residual = np.minimum(np.abs(dy - slope[:, None] * dt), cap)
    enough = n >= 3
    sum_squares = np.where(enough, (residual**2).sum(axis=1), 0.0)
    dof = np.where(enough, n - 2, 0)
    return sum_squares, dof


def momentum_threshold(
    sum_squares: float, dof: float, noise_multiplier: float, min_points: float
) -> float:
    """Points a 30-day move must exceed to count as ``gaining`` or ``slipping``.

    With day-to-day jitter of standard deviation sigma around a trend (measured program-wide by
    :func:`daily_noise`), the difference of two days' scores carries noise of sqrt(2) x sigma; the
    threshold is ``noise_multiplier`` times that, never below ``min_points``.
    """
    if dof <= 0:
        return float(min_points)
    sigma = float(np.sqrt(sum_squares / dof))
    return float(max(noise_multiplier * np.sqrt(2.0) * sigma, min_points))


def momentum_labels(trend: np.ndarray, threshold: float) -> np.ndarray:
    """``gaining`` / ``slipping`` beyond the noise threshold, else ``steady`` (also when unknown)."""
    trend = np.asarray(trend, dtype=float)
    labels = np.full(trend.shape, "steady", dtype=object)
    labels[trend > threshold] = "gaining"
    labels[trend < -threshold] = "slipping"
    return labels


# --------------------------------------------------------------------------- reasons


def allocate_points(contributions: np.ndarray, distance: np.ndarray) -> np.ndarray:
    """Turn SHAP log-odds contributions into integer score points that add up to ``distance``.

    ``contributions`` is ``(n, k)`` (no bias column); ``distance`` is each row's score minus the
    reference score. Because calibration is monotone, the score moves in the same direction as the
    summed log-odds, so each feature gets the share of the distance its contribution has of the
    sum; the shares are rounded with the largest-remainder method so they add up exactly.
    """
    c = np.asarray(contributions, dtype=float)
    distance = np.asarray(distance, dtype=float)
    total = c.sum(axis=1)
    safe = np.where(np.abs(total) > 1e-12, total, 1.0)
    scale = np.where(np.abs(total) > 1e-12, distance / safe, 0.0)
    exact = c * scale[:, None]
    floor = np.floor(exact)
    short = np.rint(distance - floor.sum(axis=1)).astype(int)  # units still to hand out
    remainder = exact - floor
    order = np.argsort(-remainder, axis=1, kind="stable")
    ranks = np.empty_like(order)
    rows = np.arange(c.shape[0])[:, None]
    ranks[rows, order] = np.arange(c.shape[1])[None, :]
    points = floor + (ranks < short[:, None])
    return points.astype(int)


def top_reasons(
    points: np.ndarray,
    values: np.ndarray,
    feature_names: Sequence[str],
    describe: Callable[[str, float], str],
    count: int,
    min_abs_points: int = 1,
) -> list[list[str]]:
    """The ``count`` strongest drivers of each row, both directions, as "+12 pts: ..." sentences."""
    points = np.asarray(points)
    strength = np.abs(points)
    order = np.argsort(-strength, axis=1, kind="stable")[:, :count]
    reasons: list[list[str]] = []
    for i, row in enumerate(order):
        sentences = []
        for j in row:
            p = int(points[i, j])
            if abs(p) < max(min_abs_points, 1):
                continue
            sentences.append(f"{p:+d} pts: {describe(feature_names[j], float(values[i, j]))}")
        reasons.append(sentences)
    return reasons


def sparkline(values: Sequence[float]) -> str:
    """A small text sparkline of a score series (0-100 scale); blanks where unknown."""
    bars = "▁▂▃▄▅▆▇█"
    out = []
    for v in values:
        if v is None or np.isnan(v):
            out.append(" ")
        else:
            out.append(bars[min(int(float(v) / 100 * len(bars)), len(bars) - 1)])
    return "".join(out)
