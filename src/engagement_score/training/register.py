"""Registration and the promotion gate.

Every trained model is registered as ``engagement-score`` and gets the alias ``challenger``. It also
becomes ``champion`` only when :func:`decide_promotion` says so:

- with a current champion: on the *same* test window (the champion is re-scored on this run's test
  rows), every metric in ``promotion.metrics`` is at least as good, within ``tolerance``;
- with no champion yet: it beats every baseline on ROC AUC overall and among the active.

The decision and its reasons are logged to the run and as tags on the model version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engagement_score.config import PromotionConfig
from engagement_score.training.evaluate import LOWER_IS_BETTER

FIRST_MODEL_METRICS: tuple[str, ...] = ("all.roc_auc", "active.roc_auc")
CHAMPION = "champion"
CHALLENGER = "challenger"


@dataclass(frozen=True)
class PromotionDecision:
    """Whether to promote, and why (or why not), in plain sentences."""

    promote: bool
    reasons: tuple[str, ...]

    def summary(self) -> str:
        verdict = "promoted to champion" if self.promote else "not promoted"
        return f"{verdict}: " + "; ".join(self.reasons)


def _better_or_equal(metric: str, new: float, old: float, tolerance: float) -> bool:
    name = metric.split(".")[-1]
    if name in LOWER_IS_BETTER:
        return new <= old + tolerance
    return new >= old - tolerance


def decide_promotion(
    challenger: Mapping[str, float],
    champion: Mapping[str, float] | None,
    baselines: Mapping[str, Mapping[str, float]],
    config: PromotionConfig | None = None,
) -> PromotionDecision:
    """The promotion gate. Metric keys are ``"population.metric"`` (e.g. ``"all.roc_auc"``).

    A metric given without a population (``roc_auc``) means the ``all`` population. A missing or NaN
    metric never passes.
    """
    config = config or PromotionConfig()
    reasons: list[str] = []
    ok = True
    if champion is not None:
        for raw in config.metrics:
            key = raw if "." in raw else f"all.{raw}"
            new, old = challenger.get(key, np.nan), champion.get(key, np.nan)
            if np.isnan(new) or np.isnan(old):
                ok = False
                reasons.append(f"{key} unavailable for comparison")
            elif _better_or_equal(key, new, old, config.tolerance):
                reasons.append(f"{key} {new:.4f} vs champion {old:.4f}: at least as good")
            else:
                ok = False
                reasons.append(f"{key} {new:.4f} is worse than the champion's {old:.4f}")
        return PromotionDecision(ok, tuple(reasons))
    if not baselines:
        return PromotionDecision(False, ("no champion and no baselines to compare with",))
    for key in FIRST_MODEL_METRICS:
        new = challenger.get(key, np.nan)
        for name, metrics in baselines.items():
            old = metrics.get(key, np.nan)
            if np.isnan(new):
                ok = False
                reasons.append(f"{key} of the model is unavailable")
                break
            if np.isnan(old):
                continue
            if new > old:
                reasons.append(f"{key} {new:.4f} beats {name} ({old:.4f})")
            else:
                ok = False
                reasons.append(f"{key} {new:.4f} does not beat {name} ({old:.4f})")
    return PromotionDecision(ok, ("first model; " + reasons[0], *reasons[1:]) if reasons else ())


def current_champion(client: Any, name: str) -> Any | None:
    """The model version holding the ``champion`` alias, or ``None``."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None


def load_engagement_model(uri: str, dst: str | Path) -> Any:
    """Download a registered pyfunc and load its :class:`EngagementModel` (no pickle involved)."""
    import mlflow

    from engagement_score.serving.model import MODEL_FILE, EngagementModel

    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(dst)))
    found = sorted(local.rglob(MODEL_FILE))
    if not found:
        raise FileNotFoundError(f"{uri} holds no {MODEL_FILE}")
    return EngagementModel.load(found[0].parent)


def set_aliases(client: Any, name: str, version: str, decision: PromotionDecision) -> None:
    """Alias the new version ``challenger`` (always) and ``champion`` (when promoted); tag it."""
    client.set_registered_model_alias(name, CHALLENGER, version)
    client.set_model_version_tag(name, version, "promotion", decision.summary()[:5000])
    if decision.promote:
        client.set_registered_model_alias(name, CHAMPION, version)
