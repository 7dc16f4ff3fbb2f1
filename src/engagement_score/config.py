"""Configuration: YAML files in the stage folders, loaded once into typed, frozen dataclasses.

The defaults live beside the code that uses them: ``features/feature_spec.yaml``,
``training/params.yaml``, ``training/search_space.yaml`` and ``serving/scoring.yaml``. A source
checkout reads them from there; an installed wheel carries copies under
``engagement_score/_defaults``. Loading is explicit (nothing happens at import).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from engagement_score.contract import SOURCES, ContractError

#: Default file name -> stage folder in a source checkout.
DEFAULT_FILES: dict[str, str] = {
    "feature_spec.yaml": "features",
    "params.yaml": "training",
    "search_space.yaml": "training",
    "scoring.yaml": "serving",
}

OTHER_CATEGORY = "other"
DEFAULT_MOMENTUM = ({"recent": 30, "prior": 60}, {"recent": 7, "prior": 28})


def default_config_path(name: str) -> Path:
    """Where the default configuration file ``name`` lives (source checkout first, then wheel)."""
    stage = DEFAULT_FILES[name]
    checkout = Path(__file__).resolve().parents[2] / stage / name
    if checkout.is_file():
        return checkout
    packaged = resources.files("engagement_score") / "_defaults" / name
    return Path(str(packaged))


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read one YAML mapping, with a clear error naming the file when it is not one."""
    path = Path(path)
    if not path.is_file():
        raise ContractError("does not exist or is not a file", file=str(path))
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ContractError(f"is not valid YAML: {exc}", file=str(path)) from None
    if not isinstance(data, dict):
        raise ContractError("must hold a YAML mapping at the top level", file=str(path))
    return data


@dataclass(frozen=True)
class Category:
    """A group of event types with a plain-language name used in reasons."""

    name: str
    description: str
    event_types: tuple[str, ...]
    #: How one event of the category reads in a reason ("high-value contribution") and many.
    noun: str = ""
    nouns: str = ""

    @property
    def noun_one(self) -> str:
        return self.noun or f"{self.name.replace('_', ' ')} event"

    @property
    def noun_many(self) -> str:
        return self.nouns or f"{self.noun_one}s"


@dataclass(frozen=True)
class FeatureSpec:
    """What the feature pipeline computes: categories of event types, windows and sources.

    The fields after ``extra`` parameterise the momentum, regularity and breadth families and
    carry the plain-language texts of every feature family (``texts``: family name -> mapping
    with ``description``, ``template``, ``template_one``, ``unit``, ``missing``); see
    ``features/feature_spec.yaml`` and ``features/README.md``.
    """

    windows: tuple[int, ...]
    categories: tuple[Category, ...]
    sources: tuple[str, ...] = SOURCES
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: (recent, prior) day pairs: the recent window against the window right before it.
    momentum_pairs: tuple[tuple[int, int], ...] = ((30, 60), (7, 28))
    #: Weeks looked back for the share of active weeks and the weekly active-days slope.
    regularity_weeks: int = 12
    #: Weeks looked back for the longest streak of active weeks.
    streak_weeks: int = 52
    #: Days looked back for the spread (standard deviation) of gaps between active days.
    gap_window: int = 180
    #: Windows (days) for the number of distinct event types.
    distinct_type_windows: tuple[int, ...] = (30, 90)
    #: Window (days) for the share of high-value events.
    share_window: int = 90
    #: Category whose events are the high-value contributions.
    high_value_category: str = "high_value"
    texts: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @property
    def lookback_days(self) -> int:
        """The longest look-back of any feature (days of history the per-day arrays must hold)."""
        return max(
            max(self.windows),
            max((a + b for a, b in self.momentum_pairs), default=0),
            7 * max(self.regularity_weeks, self.streak_weeks),
            self.gap_window,
            self.share_window,
            max(self.distinct_type_windows, default=0),
        )

    @property
    def category_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.categories)

    def category_of(self, event_type: str) -> str:
        """The category of an event type; unknown types land in ``other``."""
        return self.type_to_category.get(event_type, OTHER_CATEGORY)

    @property
    def type_to_category(self) -> dict[str, str]:
        return {t: c.name for c in self.categories for t in c.event_types}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], file: str = "feature_spec.yaml") -> FeatureSpec:
        try:
            windows = tuple(sorted(int(w) for w in data["windows"]))
            raw_categories = data["categories"]
            categories = [
                Category(
                    name=str(name),
                    description=str(body.get("description", name)),
                    event_types=tuple(str(t) for t in (body.get("event_types") or [])),
                    noun=str(body.get("noun", "") or ""),
                    nouns=str(body.get("nouns", "") or ""),
                )
                for name, body in raw_categories.items()
            ]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ContractError(f"is not a valid feature spec ({exc!r})", file=file) from None
        if OTHER_CATEGORY not in {c.name for c in categories}:
            categories.append(Category(OTHER_CATEGORY, "other actions", ()))
        seen: dict[str, str] = {}
        for c in categories:
            for t in c.event_types:
                if t in seen:
                    raise ContractError(
                        f"event type {t!r} is in two categories ({seen[t]}, {c.name})", file=file
                    )
                seen[t] = c.name
        if not windows or min(windows) <= 0:
            raise ContractError("windows must be positive numbers of days", file=file)
        sources = tuple(str(s) for s in data.get("sources", SOURCES))
        known = {
            "windows",
            "categories",
            "sources",
            "version",
            "momentum",
            "regularity",
            "breadth",
            "high_value_category",
            "texts",
        }
        extra = {k: v for k, v in data.items() if k not in known}
        try:
            momentum = data.get("momentum") or {}
            pairs = tuple(
                (int(p["recent"]), int(p["prior"])) for p in momentum.get("pairs", DEFAULT_MOMENTUM)
            )
            regularity = data.get("regularity") or {}
            breadth = data.get("breadth") or {}
            texts = {
                str(k): {str(a): str(b) for a, b in (v or {}).items()}
                for k, v in (data.get("texts") or {}).items()
            }
            tuning = dict(
                momentum_pairs=pairs,
                regularity_weeks=int(regularity.get("weeks", 12)),
                streak_weeks=int(regularity.get("streak_weeks", 52)),
                gap_window=int(regularity.get("gap_window", 180)),
                distinct_type_windows=tuple(
                    sorted(int(w) for w in breadth.get("distinct_type_windows", [30, 90]))
                ),
                share_window=int(breadth.get("share_window", 90)),
                high_value_category=str(data.get("high_value_category", "high_value")),
                texts=texts,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ContractError(f"is not a valid feature spec ({exc!r})", file=file) from None
        numbers = [
            *(x for p in pairs for x in p),
            tuning["regularity_weeks"],
            tuning["streak_weeks"],
            tuning["gap_window"],
            tuning["share_window"],
            *tuning["distinct_type_windows"],
        ]
        if any(x <= 0 for x in numbers):
            raise ContractError("momentum, regularity and breadth need positive numbers", file=file)
        return cls(
            windows=windows,
            categories=tuple(categories),
            sources=sources,
            extra=extra,
            **tuning,  # type: ignore[arg-type]
        )

    @classmethod
    def load(cls, path: str | Path | None = None) -> FeatureSpec:
        path = Path(path) if path else default_config_path("feature_spec.yaml")
        return cls.from_dict(load_yaml(path), file=str(path))


@dataclass(frozen=True)
class LabelConfig:
    """Engaged in ``[T, T + horizon_days)``: at least ``min_events`` qualifying events.

    An event qualifies when its type is not in ``exclude_event_types`` and, if
    ``qualifying_categories`` is not empty, its category is one of them.
    """

    horizon_days: int = 30
    min_events: int = 1
    exclude_event_types: tuple[str, ...] = ("login",)
    qualifying_categories: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LabelConfig:
        return cls(
            horizon_days=int(data.get("horizon_days", 30)),
            min_events=int(data.get("min_events", 1)),
            exclude_event_types=tuple(data.get("exclude_event_types", ("login",)) or ()),
            qualifying_categories=tuple(data.get("qualifying_categories", ()) or ()),
        )

    def qualifying_types_mask(self, event_types: Any, spec: FeatureSpec) -> Any:
        """Boolean mask over an array/Series of event types: which ones qualify.

        A categorical Series (the canonical events' ``event_type``) is judged per category and
        mapped back through its codes, so 100M events cost one small lookup, not 100M strings.
        """
        import numpy as np
        import pandas as pd

        def judge(types: pd.Series) -> np.ndarray:
            mask = ~types.isin(self.exclude_event_types)
            if self.qualifying_categories:
                mask &= types.map(spec.category_of).isin(self.qualifying_categories)
            return mask.to_numpy(dtype=bool)

        if isinstance(getattr(event_types, "dtype", None), pd.CategoricalDtype):
            per_category = judge(pd.Series(event_types.cat.categories.astype("str")))
            codes = event_types.cat.codes.to_numpy()
            return np.append(per_category, False)[codes]  # code -1 (missing) never qualifies
        return judge(pd.Series(event_types))


# --------------------------------------------------------------------------- training


def _section(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key) or {}
    if not isinstance(value, Mapping):
        raise ContractError(f"section {key!r} must be a mapping", file="params.yaml")
    return value


@dataclass(frozen=True)
class SnapshotConfig:
    """Which as-of dates become training rows.

    As-of dates run every ``step_days`` backwards from the last date whose whole label horizon is
    observed, and no earlier than ``min_history_days`` after the first event.
    """

    step_days: int = 7
    min_history_days: int = 60

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SnapshotConfig:
        return cls(
            step_days=int(data.get("step_days", 7)),
            min_history_days=int(data.get("min_history_days", 60)),
        )


@dataclass(frozen=True)
class SplitConfig:
    """Time-based roles of the as-of dates, newest first: test, calibrate, tune, train.

    ``*_dates`` count as-of dates per role. ``gap_days`` (default: the label horizon) separates the
    last as-of date of one role from the first of the next, so no label window of an earlier role
    reaches past the first as-of date of a later one. ``train_lookback_days`` bounds how far back
    the training window reaches (``None`` = all history).
    """

    test_dates: int = 4
    calibration_dates: int = 8
    tune_dates: int = 4
    gap_days: int | None = None
    train_lookback_days: int | None = 365

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SplitConfig:
        gap = data.get("gap_days")
        lookback = data.get("train_lookback_days", 365)
        return cls(
            test_dates=int(data.get("test_dates", 4)),
            calibration_dates=int(data.get("calibration_dates", 8)),
            tune_dates=int(data.get("tune_dates", 4)),
            gap_days=None if gap is None else int(gap),
            train_lookback_days=None if lookback is None else int(lookback),
        )


@dataclass(frozen=True)
class TuningConfig:
    """Optuna search over LightGBM settings (seeded TPE, median pruning, trial and time budget)."""

    trials: int = 20
    timeout_seconds: float | None = 300.0
    seed: int = 0
    n_jobs: int = 1
    max_rounds: int = 600
    early_stopping_rounds: int = 30
    max_tune_rows: int | None = 200_000
    pruning_warmup_rounds: int = 50
    objective_metric: str = "binary_logloss"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TuningConfig:
        timeout = data.get("timeout_seconds", 300.0)
        max_rows = data.get("max_tune_rows", 200_000)
        return cls(
            trials=int(data.get("trials", 20)),
            timeout_seconds=None if timeout is None else float(timeout),
            seed=int(data.get("seed", 0)),
            n_jobs=int(data.get("n_jobs", 1)),
            max_rounds=int(data.get("max_rounds", 600)),
            early_stopping_rounds=int(data.get("early_stopping_rounds", 30)),
            max_tune_rows=None if max_rows is None else int(max_rows),
            pruning_warmup_rounds=int(data.get("pruning_warmup_rounds", 50)),
            objective_metric=str(data.get("objective_metric", "binary_logloss")),
        )


@dataclass(frozen=True)
class EvaluationConfig:
    """How the test window is judged: calibration bins, subpopulations, plot sizes."""

    ece_bins: int = 20
    new_tenure_days: int = 90
    shap_sample_rows: int = 2000
    calibration_folds: int = 5
    oracle_paths: int = 200

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EvaluationConfig:
        return cls(
            ece_bins=int(data.get("ece_bins", 20)),
            new_tenure_days=int(data.get("new_tenure_days", 90)),
            shap_sample_rows=int(data.get("shap_sample_rows", 2000)),
            calibration_folds=int(data.get("calibration_folds", 5)),
            oracle_paths=int(data.get("oracle_paths", 200)),
        )


@dataclass(frozen=True)
class PromotionConfig:
    """When a challenger becomes ``champion``.

    Against a champion: every metric in ``metrics`` at least as good on the same test window (within
    ``tolerance``). First model: it beats every baseline on ROC AUC overall and among the active.
    """

    metrics: tuple[str, ...] = ("roc_auc", "brier")
    tolerance: float = 0.0

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PromotionConfig:
        return cls(
            metrics=tuple(data.get("metrics", ("roc_auc", "brier"))),
            tolerance=float(data.get("tolerance", 0.0)),
        )


@dataclass(frozen=True)
class TrainingConfig:
    """Everything ``engagement-score train`` needs besides the data (``training/params.yaml``)."""

    label: LabelConfig = field(default_factory=LabelConfig)
    snapshots: SnapshotConfig = field(default_factory=SnapshotConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    tuning: TuningConfig = field(default_factory=TuningConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    promotion: PromotionConfig = field(default_factory=PromotionConfig)
    experiment: str = "engagement-score"
    model_name: str = "engagement-score"
    feature_spec: str | None = None
    search_space: str | None = None
    source: str = "defaults"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], file: str = "params.yaml") -> TrainingConfig:
        try:
            return cls(
                label=LabelConfig.from_dict(_section(data, "label")),
                snapshots=SnapshotConfig.from_dict(_section(data, "snapshots")),
                split=SplitConfig.from_dict(_section(data, "split")),
                tuning=TuningConfig.from_dict(_section(data, "tuning")),
                evaluation=EvaluationConfig.from_dict(_section(data, "evaluation")),
                promotion=PromotionConfig.from_dict(_section(data, "promotion")),
                experiment=str(data.get("experiment", "engagement-score")),
                model_name=str(data.get("model_name", "engagement-score")),
                feature_spec=data.get("feature_spec"),
                search_space=data.get("search_space"),
                source=file,
            )
        except (TypeError, ValueError) as exc:
            message = f"is not a valid training configuration ({exc})"
            raise ContractError(message, file=file) from None

    @classmethod
    def load(cls, path: str | Path | None = None) -> TrainingConfig:
        path = Path(path) if path else default_config_path("params.yaml")
        config = cls.from_dict(load_yaml(path), file=str(path))
        base = path.parent
        # Relative paths inside the file are relative to the file.
        spec = config.feature_spec
        space = config.search_space
        return replace(
            config,
            feature_spec=str(base / spec) if spec and not Path(spec).is_absolute() else spec,
            search_space=str(base / space) if space and not Path(space).is_absolute() else space,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for MLflow params and the model metadata)."""
        return asdict(self)


#: The registered model's name and the model the scoring commands use by default.
MODEL_NAME = "engagement-score"
DEFAULT_MODEL_URI = f"models:/{MODEL_NAME}@champion"


def default_tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` if set, else a SQLite file ``mlflow.db`` in the working folder."""
    import os

    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd() / 'mlflow.db'}"
