"""The engagement model as shipped: a LightGBM booster plus a calibration table, stored as data.

:class:`EngagementModel` is what scoring, reasons and reports use. It saves to a plain directory
(``booster.txt`` in LightGBM's text format and ``model.json``), never a pickle, so a model can be
inspected, diffed and loaded by any later version of the code. :func:`log_model` wraps the directory
as an MLflow *models-from-code* pyfunc (``serving/pyfunc.py``), so
``mlflow.pyfunc.load_model("models:/engagement-score@champion")`` works in a fresh process.

This module must not import the training code (or Optuna): serving only needs what is here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

BOOSTER_FILE = "booster.txt"
MODEL_FILE = "model.json"
FORMAT_VERSION = 1
#: Artifact key of the model directory inside the MLflow pyfunc.
ARTIFACT_KEY = "model_dir"
_NOT_COMPILED = object()


def probability_to_score(p: Any) -> np.ndarray:
    """The one owner of the probability -> 0-100 score mapping: ``round(100 * p)``."""
    return np.rint(100.0 * np.asarray(p, dtype=float)).astype(int)


@dataclass(frozen=True)
class Calibration:
    """A monotone table from raw model probability to calibrated probability.

    ``transform`` interpolates linearly between the knots (``np.interp``) and clips to [0, 1];
    outside the knots it holds the end values. Stored as data, so it is exactly reproducible.
    """

    raw: np.ndarray
    calibrated: np.ndarray
    method: str

    def __post_init__(self) -> None:
        raw = np.asarray(self.raw, dtype=float)
        cal = np.asarray(self.calibrated, dtype=float)
        if raw.ndim != 1 or raw.shape != cal.shape or len(raw) < 2:
            raise ValueError("calibration table needs two 1-d arrays of the same length >= 2")
        if np.any(np.diff(raw) <= 0):
            raise ValueError("calibration raw knots must be strictly increasing")
        if np.any(np.diff(cal) < 0):
            raise ValueError("calibrated values must be non-decreasing")
        object.__setattr__(self, "raw", raw)
        object.__setattr__(self, "calibrated", cal)

    def transform(self, p_raw: Any) -> np.ndarray:
        """Calibrated probabilities for raw model probabilities."""
        p = np.asarray(p_raw, dtype=float)
        return np.clip(np.interp(p, self.raw, self.calibrated), 0.0, 1.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "raw": [float(x) for x in self.raw],
            "calibrated": [float(x) for x in self.calibrated],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Calibration:
        return cls(
            raw=np.asarray(d["raw"], dtype=float),
            calibrated=np.asarray(d["calibrated"], dtype=float),
            method=str(d["method"]),
        )

    @classmethod
    def identity(cls) -> Calibration:
        """No calibration (raw probability = calibrated probability)."""
        return cls(raw=np.array([0.0, 1.0]), calibrated=np.array([0.0, 1.0]), method="identity")


@dataclass
class EngagementModel:
    """Booster + calibration + the feature names it expects, in order, and its metadata."""

    booster: lgb.Booster
    calibration: Calibration
    feature_names: list[str]
    average_probability: float
    metadata: dict[str, Any] = field(default_factory=dict)
    #: Threads for predictions and SHAP values (None: as trained). Runtime only, never saved.
    n_jobs: int | None = field(default=None, compare=False)
    #: ``"fast"`` (exact TreeSHAP of :mod:`.treeshap`) or ``"lightgbm"`` (``pred_contrib``).
    shap_engine: str = field(default="fast", compare=False)
    _trees: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._trees = _NOT_COMPILED

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (to send to a worker process) without the compiled trees; rebuilt on use."""
        state = dict(self.__dict__)
        state["_trees"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._trees = _NOT_COMPILED

    def _threads(self) -> dict[str, int]:
        return {} if self.n_jobs is None else {"num_threads": int(self.n_jobs)}

    def _matrix(self, X: pd.DataFrame) -> np.ndarray:
        """The model's feature columns as a float matrix, without a copy when they are float32
        (as :func:`~engagement_score.features.build.build_features` gives; LightGBM reads the
        column-major block as it is, and float32 values widen to double exactly)."""
        missing = [c for c in self.feature_names if c not in X.columns]
        if missing:
            raise ValueError(f"feature rows lack the model's columns: {missing[:5]}")
        matrix = X.loc[:, self.feature_names].to_numpy()
        if matrix.dtype not in (np.float32, np.float64):
            matrix = matrix.astype(np.float64)
        return matrix

    def predict_raw(self, X: pd.DataFrame) -> np.ndarray:
        """The booster's uncalibrated probability of engagement."""
        if len(X) == 0:
            return np.zeros(0)
        return np.asarray(self.booster.predict(self._matrix(X), **self._threads()), dtype=float)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of engagement in the horizon after each row's as-of date."""
        return self.calibration.transform(self.predict_raw(X))

    def contributions(self, X: pd.DataFrame) -> np.ndarray:
        """Per-row SHAP values in log-odds, shape ``(n, n_features + 1)``; the last is the bias.

        Exact path-dependent TreeSHAP, the values of LightGBM's ``pred_contrib=True``, computed by
        :mod:`engagement_score.serving.treeshap` (several times faster); LightGBM's own when
        ``shap_engine`` is ``"lightgbm"`` or the booster has splits that module does not cover.
        """
        if len(X) == 0:
            return np.zeros((0, len(self.feature_names) + 1))
        matrix = self._matrix(X)
        compiled = self._compiled_trees() if self.shap_engine == "fast" else None
        if compiled is not None:
            from engagement_score.serving import treeshap

            return treeshap.contributions(compiled, matrix, self.n_jobs)
        return np.asarray(
            self.booster.predict(matrix, pred_contrib=True, **self._threads()), dtype=float
        )

    def _compiled_trees(self) -> Any:
        """The booster flattened for fast TreeSHAP, built on first use (None: not supported)."""
        if self._trees is _NOT_COMPILED:
            from engagement_score.serving import treeshap

            self._trees = treeshap.compile_booster(self.booster)
        return self._trees

    def save(self, directory: str | Path) -> Path:
        """Write ``booster.txt`` and ``model.json`` to ``directory`` (created if needed)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(str(directory / BOOSTER_FILE))
        doc = {
            "format_version": FORMAT_VERSION,
            "feature_names": list(self.feature_names),
            "average_probability": float(self.average_probability),
            "calibration": self.calibration.to_dict(),
            "metadata": _jsonable(self.metadata),
        }
        (directory / MODEL_FILE).write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> EngagementModel:
        """Read a directory written by :meth:`save`."""
        directory = Path(directory)
        doc = json.loads((directory / MODEL_FILE).read_text())
        booster = lgb.Booster(model_file=str(directory / BOOSTER_FILE))
        return cls(
            booster=booster,
            calibration=Calibration.from_dict(doc["calibration"]),
            feature_names=list(doc["feature_names"]),
            average_probability=float(doc["average_probability"]),
            metadata=dict(doc.get("metadata", {})),
        )


def _jsonable(value: Any) -> Any:
    """Metadata to JSON-safe types (numpy scalars, timestamps, tuples)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, float | int | str | bool) or value is None:
        return value
    return str(value)


def pyfunc_path() -> Path:
    """The models-from-code file that MLflow stores with the model."""
    return Path(__file__).with_name("pyfunc.py")


def log_model(
    model: EngagementModel,
    name: str = "model",
    input_example: pd.DataFrame | None = None,
    registered_model_name: str | None = None,
    work_dir: str | Path | None = None,
) -> Any:
    """Log ``model`` to the active MLflow run as a models-from-code pyfunc; returns ``ModelInfo``.

    The model directory (booster text + JSON) is the single artifact, which
    ``serving/pyfunc.py`` loads.
    The pyfunc's input is the feature columns (``advocate_id``/``as_of`` optional); its output has
    ``probability``, ``score``, ``tier`` (the band, without the daily series' hysteresis) and
    ``reasons``. Requirements are listed explicitly (no inference subprocess).
    """
    import tempfile

    import mlflow
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, DataType, Schema
    from mlflow.types.schema import Array

    import engagement_score

    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        model_dir = model.save(Path(tmp) / "engagement_model")
        example = input_example
        if example is None:
            example = pd.DataFrame(
                np.zeros((1, len(model.feature_names))), columns=model.feature_names
            )
        example = example.loc[:, model.feature_names].astype("float64").head(5)
        ids = [
            ColSpec("string", "advocate_id", required=False),
            ColSpec("datetime", "as_of", required=False),
        ]
        signature = ModelSignature(
            inputs=Schema(ids + [ColSpec("double", f) for f in model.feature_names]),
            outputs=Schema(
                ids
                + [
                    ColSpec("double", "probability"),
                    ColSpec("long", "score"),
                    ColSpec("string", "tier"),
                    ColSpec(Array(DataType.string), "reasons"),
                ]
            ),
        )
        requirements = [
            f"engagement-score=={engagement_score.__version__}",
            f"lightgbm=={lgb.__version__}",
            f"numpy=={np.__version__}",
            f"pandas=={pd.__version__}",
            f"mlflow=={mlflow.__version__}",
        ]
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=str(pyfunc_path()),
            artifacts={ARTIFACT_KEY: str(model_dir)},
            signature=signature,
            input_example=example,
            pip_requirements=requirements,
            registered_model_name=registered_model_name,
        )


def load_model(uri: str, tracking_uri: str | None = None) -> EngagementModel:
    """Load the engagement model from an MLflow model URI or a directory written by ``save``.

    ``models:/engagement-score@champion``, ``runs:/<id>/model`` and MLflow model folders go through
    MLflow's pyfunc loader (models-from-code: no pickle), then unwrap to the
    :class:`EngagementModel` the pyfunc loaded; a folder holding ``model.json`` loads directly.
    """
    from engagement_score.config import default_tracking_uri
    from engagement_score.contract import ContractError

    local = Path(uri)
    if (local / MODEL_FILE).is_file():
        return EngagementModel.load(local)
    import mlflow
    from mlflow.exceptions import MlflowException

    mlflow.set_tracking_uri(tracking_uri or default_tracking_uri())
    try:
        pyfunc = mlflow.pyfunc.load_model(uri)
    except (MlflowException, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ContractError(
            f"option --model: cannot load {uri!r} from MLflow at {mlflow.get_tracking_uri()} "
            f"({first}); train a model first (engagement-score train or demo) or pass --model"
        ) from None
    model = getattr(pyfunc.unwrap_python_model(), "model", None)
    if not isinstance(model, EngagementModel):
        raise ContractError(f"option --model: {uri!r} is not an engagement-score model")
    return model
