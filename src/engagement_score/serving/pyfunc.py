"""MLflow models-from-code definition of the engagement-score pyfunc.

MLflow stores this file with the model and runs it on load; ``load_context`` then reads the
:class:`~engagement_score.serving.model.EngagementModel` directory (booster text + JSON) from the
model's artifacts. No pickled Python object is involved.
"""

from __future__ import annotations

from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

from engagement_score.features.build import feature_descriptions
from engagement_score.serving.batch import model_feature_spec, model_scoring_config
from engagement_score.serving.explain import reason_texts
from engagement_score.serving.model import ARTIFACT_KEY, EngagementModel
from engagement_score.serving.scoring import tier_index


class EngagementScorePyfunc(PythonModel):
    """Feature rows in; ``probability``, 0-100 ``score``, ``tier`` and ``reasons`` out per row.

    A single row has no daily series, so the tier here is the plain score band (the batch job's
    hysteresis needs the 30 days before T); reasons are the same as the batch job's.
    """

    model: EngagementModel | None = None

    def load_context(self, context: Any) -> None:
        self.model = EngagementModel.load(context.artifacts[ARTIFACT_KEY])

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        if self.model is None:  # pragma: no cover - MLflow always calls load_context first
            self.load_context(context)
        assert self.model is not None
        model = self.model
        frame = pd.DataFrame(model_input)
        config = model_scoring_config(model)
        out = pd.DataFrame(index=frame.index)
        for key in ("advocate_id", "as_of"):
            if key in frame.columns:
                out[key] = frame[key]
        reasons, explanation = reason_texts(
            model,
            frame,
            feature_descriptions(model_feature_spec(model)),
            config.reason_count,
            config.min_reason_points,
        )
        out["probability"] = model.predict_proba(frame)
        out["score"] = explanation.score
        names = np.array([t.name for t in config.tiers], dtype=object)
        out["tier"] = names[tier_index(explanation.score, config.tiers)]
        out["reasons"] = reasons
        return out


mlflow.models.set_model(EngagementScorePyfunc())
