"""MLflow models-from-code definition of the engagement-score pyfunc.

MLflow stores this file with the model and runs it on load; ``load_context`` then reads the
:class:`~engagement_score.serving.model.EngagementModel` directory (booster text + JSON) from the
model's artifacts. No pickled Python object is involved.
"""

from __future__ import annotations

from typing import Any

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel

from engagement_score.serving.model import ARTIFACT_KEY, EngagementModel, probability_to_score


class EngagementScorePyfunc(PythonModel):
    """Feature rows in; calibrated ``probability`` and 0-100 ``score`` out, row for row."""

    model: EngagementModel | None = None

    def load_context(self, context: Any) -> None:
        self.model = EngagementModel.load(context.artifacts[ARTIFACT_KEY])

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        if self.model is None:  # pragma: no cover - MLflow always calls load_context first
            self.load_context(context)
        assert self.model is not None
        frame = pd.DataFrame(model_input)
        probability = self.model.predict_proba(frame)
        out = pd.DataFrame(index=frame.index)
        for key in ("advocate_id", "as_of"):
            if key in frame.columns:
                out[key] = frame[key]
        out["probability"] = probability
        out["score"] = probability_to_score(probability)
        return out


mlflow.models.set_model(EngagementScorePyfunc())
