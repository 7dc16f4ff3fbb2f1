"""Plain-language reasons: SHAP contributions turned into score points and then into sentences.

TreeSHAP (:meth:`EngagementModel.contributions`: LightGBM's ``pred_contrib`` values, computed by
:mod:`engagement_score.serving.treeshap`) gives each feature's contribution in log-odds, plus a bias: the model's expected log-odds, i.e. the *average advocate*. The reference score is the
score of that average advocate, ``round(100 x calibrated(sigmoid(bias)))``. Because calibration is
monotone, an advocate's score moves away from it in the direction of the summed contributions; each
feature gets its share of that distance, rounded so the points add up exactly
(:func:`~engagement_score.serving.scoring.allocate_points`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engagement_score.features.build import FeatureDescription
from engagement_score.serving.model import EngagementModel, probability_to_score
from engagement_score.serving.scoring import allocate_points, top_reasons


@dataclass(frozen=True)
class Explanation:
    """Per-row score points of every feature and the reference they are measured from."""

    points: np.ndarray  # (n, k) integer points per feature, rows add up to score - reference
    reference_score: np.ndarray  # (n,) the average advocate's score
    score: np.ndarray  # (n,)


def explain_rows(model: EngagementModel, features: pd.DataFrame) -> Explanation:
    """Score points per feature for each row of ``features`` (the model's feature columns)."""
    contributions = model.contributions(features)
    bias = contributions[:, -1]
    reference = probability_to_score(model.calibration.transform(1.0 / (1.0 + np.exp(-bias))))
    score = probability_to_score(model.predict_proba(features))
    points = allocate_points(contributions[:, :-1], score - reference)
    return Explanation(points=points, reference_score=reference, score=score)


def reason_texts(
    model: EngagementModel,
    features: pd.DataFrame,
    descriptions: Mapping[str, FeatureDescription],
    count: int,
    min_abs_points: int = 1,
) -> tuple[list[list[str]], Explanation]:
    """The ``count`` strongest reasons per row, e.g. ``"+12 pts: 9 active days in the last 30 days"``."""
    explanation = explain_rows(model, features)
    values = features.loc[:, model.feature_names].to_numpy(dtype=float)

    def describe(name: str, value: float) -> str:
        description = descriptions.get(name)
        if description is None:
            return f"{name.replace('_', ' ')} = {value:.3g}"
        return description.render(None if np.isnan(value) else value)

    reasons = top_reasons(
        explanation.points, values, model.feature_names, describe, count, min_abs_points
    )
    return reasons, explanation


def recent_activity(
    events: pd.DataFrame, advocate_id: str, as_of: pd.Timestamp, days: int = 90
) -> pd.DataFrame:
    """One advocate's events by source and type in the last 30 and ``days`` days before T."""
    mine = events[
        (events["advocate_id"] == advocate_id)
        & (events["occurred_at"] < as_of)
        & (events["occurred_at"] >= as_of - pd.Timedelta(days=days))
    ]
    last30 = mine["occurred_at"] >= as_of - pd.Timedelta(days=30)
    table = (
        mine.assign(last_30d=last30)
        .groupby(["source", "event_type"], observed=True)
        .agg(
            last_30d=("last_30d", "sum"),
            **{f"last_{days}d": ("event_type", "size")},
            last_seen=("occurred_at", "max"),
        )
        .reset_index()
        .sort_values(["source", f"last_{days}d"], ascending=[False, False], ignore_index=True)
    )
    return table
