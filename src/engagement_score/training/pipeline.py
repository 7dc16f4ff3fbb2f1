"""``train()``: the one training orchestration behind ``engagement-score train`` and ``MLproject``.

Snapshots -> labels and features -> time split -> Optuna search (nested MLflow runs) -> refit on
everything up to the calibration window -> calibration (isotonic or Platt, as a table) ->
test-window evaluation against the baselines (tally, recency, logistic regression), the current
champion and, on simulated data, the oracle -> MLflow logging, registration (``challenger``) and
the promotion gate (``champion``).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engagement_score.config import (
    FeatureSpec,
    TrainingConfig,
    default_config_path,
    default_tracking_uri,
    load_yaml,
)
from engagement_score.contract import ContractError
from engagement_score.features.build import feature_descriptions
from engagement_score.features.labels import (
    activity_summary,
    build_labels,
    observation_end,
    snapshot_dates,
)
from engagement_score.serving.model import Calibration, EngagementModel, log_model
from engagement_score.serving.scoring import ScoringConfig
from engagement_score.training import calibrate, evaluate, register, tune
from engagement_score.training.split import TimeSplit, make_split

MODEL = "lightgbm"
MODEL_RAW = "lightgbm (uncalibrated)"
LOGISTIC = "logistic regression"
TALLY = "tally (events, last 30 days)"
RECENCY = "recency (days since last event)"
ORACLE = "oracle (true probability)"
BASELINES: tuple[str, ...] = (TALLY, RECENCY, LOGISTIC)

OracleSource = pd.DataFrame | Callable[[list[pd.Timestamp], np.ndarray], pd.DataFrame]
Progress = Callable[[str], None]


@dataclass
class TrainResult:
    """What a training run produced (also all logged to MLflow)."""

    run_id: str
    model: EngagementModel
    model_version: str | None
    decision: register.PromotionDecision
    table: pd.DataFrame
    table_markdown: str
    metrics: pd.DataFrame
    split: TimeSplit
    tracking_uri: str
    info: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- helpers


def data_fingerprint(frame: pd.DataFrame) -> str:
    """SHA-256 over the row hashes of a frame (order-sensitive, content-exact)."""
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    digest = hashlib.sha256(hashed.tobytes())
    digest.update(",".join(map(str, frame.columns)).encode())
    return digest.hexdigest()


def _sample_by_advocate(ids: pd.Series, max_rows: int | None, seed: int) -> np.ndarray:
    """Boolean mask keeping whole advocates, at random (seeded), up to about ``max_rows`` rows."""
    n = len(ids)
    if max_rows is None or n <= max_rows:
        return np.ones(n, dtype=bool)
    unique = np.sort(ids.unique())
    rng = np.random.default_rng(seed)
    share = max_rows / n
    keep = set(unique[rng.random(len(unique)) < share])
    return ids.isin(keep).to_numpy()


def _squash(x: pd.DataFrame) -> pd.DataFrame:
    """Signed log for the logistic regression (counts and days are heavy-tailed)."""
    v = x.to_numpy(dtype=float)
    return pd.DataFrame(np.sign(v) * np.log1p(np.abs(v)), columns=x.columns, index=x.index)


def fit_logistic(X: pd.DataFrame, y: np.ndarray, seed: int) -> Any:
    """The logistic-regression baseline on the same features (median-imputed + missing flags)."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    keep = [c for c in X.columns if X[c].notna().any()]
    pipe = make_pipeline(
        FunctionTransformer(_squash, feature_names_out="one-to-one"),
        SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
        StandardScaler(),
        LogisticRegression(C=1.0, max_iter=500, random_state=seed),
    )
    pipe.fit(X[keep], y)
    pipe.columns_ = keep
    return pipe


def _baseline_raw(activity: pd.DataFrame) -> dict[str, np.ndarray]:
    """Monotone maps of tally and recency into [0, 1] (calibrated afterwards like the model)."""
    tally = activity["tally"].to_numpy(dtype=float)
    days = activity["days_since_last"].to_numpy(dtype=float)
    return {
        TALLY: tally / (tally + 1.0),
        RECENCY: np.where(np.isnan(days), 0.0, 1.0 / (1.0 + np.nan_to_num(days, nan=0.0))),
    }


def _oracle_probabilities(oracle: OracleSource, test: pd.DataFrame) -> np.ndarray:
    dates = sorted(test["as_of"].unique())
    ids = test["advocate_id"].unique()
    truth = oracle(list(dates), ids) if callable(oracle) else oracle
    truth = truth[["advocate_id", "as_of", "true_probability"]].copy()
    truth["as_of"] = pd.to_datetime(truth["as_of"], utc=True).astype("datetime64[us, UTC]")
    truth["advocate_id"] = truth["advocate_id"].astype(str)
    merged = test[["advocate_id", "as_of"]].merge(truth, on=["advocate_id", "as_of"], how="left")
    p = merged["true_probability"].to_numpy(dtype=float)
    if np.isnan(p).any():
        raise ValueError(f"the oracle has no probability for {int(np.isnan(p).sum())} test rows")
    return p


def _say(progress: Progress | None, message: str) -> None:
    if progress is not None:
        progress(message)


# --------------------------------------------------------------------------- the run


def build_training_frame(
    events: pd.DataFrame,
    advocates: pd.DataFrame,
    dates: Sequence[pd.Timestamp],
    config: TrainingConfig,
    spec: FeatureSpec,
    progress: Progress | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Labels, baseline inputs and features per (advocate, as-of date); and the feature columns."""
    from engagement_score.features.build import build_features, feature_columns

    _say(progress, f"labels for {len(dates)} as-of dates")
    labels = build_labels(events, advocates, list(dates), config.label, spec)
    activity = activity_summary(
        events, advocates, list(dates), window_days=config.label.horizon_days
    )
    _say(progress, f"features for {len(labels):,} advocate-dates")
    # the same rows on any number of threads; tuning.n_jobs is the run's thread budget
    features = build_features(
        events, advocates, list(dates), spec=spec, n_jobs=config.tuning.n_jobs
    )
    columns = [c for c in feature_columns(spec) if c in features.columns]
    keys = ["advocate_id", "as_of"]
    frame = labels.merge(activity, on=keys, how="left", validate="one_to_one")
    frame = frame.merge(features[keys + columns], on=keys, how="inner", validate="one_to_one")
    if len(frame) != len(labels):
        raise RuntimeError(
            f"features and labels disagree on the rows: {len(labels)} labels, {len(frame)} matched"
        )
    return frame, columns


def train(
    events: pd.DataFrame,
    advocates: pd.DataFrame,
    config: TrainingConfig | None = None,
    *,
    trials: int | None = None,
    timeout_seconds: float | None = None,
    n_jobs: int | None = None,
    seed: int | None = None,
    oracle: OracleSource | None = None,
    data_end: pd.Timestamp | None = None,
    tracking_uri: str | None = None,
    source_names: dict[str, str] | None = None,
    progress: Progress | None = None,
) -> TrainResult:
    """Train, calibrate, evaluate, log to MLflow, register and (maybe) promote; see module doc.

    ``oracle`` (simulated data only): a frame ``advocate_id, as_of, true_probability`` or a callable
    ``(as_of dates, advocate ids) -> frame`` giving the simulator's true probability on test rows.
    """
    import mlflow
    from mlflow import MlflowClient

    started = time.monotonic()
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")
    config = config or TrainingConfig.load()
    tuning = config.tuning
    tuning = replace(
        tuning,
        trials=trials if trials is not None else tuning.trials,
        timeout_seconds=timeout_seconds if timeout_seconds is not None else tuning.timeout_seconds,
        n_jobs=n_jobs if n_jobs is not None else tuning.n_jobs,
        seed=seed if seed is not None else tuning.seed,
    )
    config = replace(config, tuning=tuning)
    spec_data = load_yaml(config.feature_spec or default_config_path("feature_spec.yaml"))
    spec = FeatureSpec.from_dict(spec_data)
    space = tune.load_search_space(config.search_space)
    horizon = config.label.horizon_days

    # ---- snapshots and split
    if events.empty:
        raise ContractError("has no events to train on", file=(source_names or {}).get("events"))
    end = data_end if data_end is not None else observation_end(events)
    dates = snapshot_dates(events["occurred_at"].min(), end, config.snapshots, horizon)
    split = make_split(dates, config.split, horizon)
    used = sorted(set(split.refit) | set(split.calibration) | set(split.test))
    frame, columns = build_training_frame(events, advocates, used, config, spec, progress)
    y = frame["engaged"].to_numpy(dtype=int)
    X = frame[columns].astype("float64")
    masks = {role: split.mask(frame["as_of"], role) for role in ("train", "tune", "refit")}
    masks["calibration"] = split.mask(frame["as_of"], "calibration")
    masks["test"] = split.mask(frame["as_of"], "test")
    for role in ("train", "tune", "calibration", "test"):
        if len(np.unique(y[masks[role]])) < 2:
            raise ContractError(
                f"the {role} window has only one label value; the history is too short or too "
                "uniform to train on"
            )

    uri = tracking_uri or default_tracking_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    experiment = mlflow.set_experiment(config.experiment)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)

    run_kwargs: dict[str, Any] = {"run_name": "train"}
    if os.environ.get("MLFLOW_RUN_ID"):  # launched by `mlflow run`: log into that run
        run_kwargs = {"run_id": os.environ["MLFLOW_RUN_ID"]}
    else:
        run_kwargs["experiment_id"] = experiment.experiment_id
    with mlflow.start_run(**run_kwargs) as run, tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        mlflow.set_tags(
            {
                "engagement_score.stage": "train",
                "data.events_sha256": data_fingerprint(events),
                "data.advocates_sha256": data_fingerprint(advocates),
                "oracle": str(oracle is not None).lower(),
            }
        )
        params = {
            "trials": tuning.trials,
            "timeout_seconds": tuning.timeout_seconds,
            "seed": tuning.seed,
            "n_jobs": tuning.n_jobs,
            "label.horizon_days": horizon,
            "label.min_events": config.label.min_events,
            "label.exclude_event_types": ",".join(config.label.exclude_event_types),
            "label.qualifying_categories": ",".join(config.label.qualifying_categories) or "all",
            "snapshots.step_days": config.snapshots.step_days,
            "data.end": end.isoformat(),
            "data.n_events": len(events),
            "data.n_advocates": len(advocates),
            "n_features": len(columns),
            **{f"rows.{role}": int(m.sum()) for role, m in masks.items()},
            **split.describe(),
        }
        mlflow.log_params(params)
        mlflow.log_dict(config.to_dict(), "config/params.json")
        mlflow.log_dict(space, "config/search_space.json")
        mlflow.log_dict({"features": columns}, "config/features.json")
        _log_datasets(frame, columns, masks, source_names)

        # ---- search
        _say(progress, f"tuning LightGBM: {tuning.trials} trials")
        sample = _tune_sample(frame, masks["train"], tuning.max_tune_rows, tuning.seed)
        train_data = tune.make_dataset(X[sample], y[sample])
        valid_data = tune.make_dataset(X[masks["tune"]], y[masks["tune"]], reference=train_data)
        result = tune.tune(train_data, valid_data, tuning, space)
        del train_data, valid_data
        mlflow.log_params({f"best.{k}": v for k, v in result.params.items()})
        mlflow.log_metrics(
            {
                "tuning.best_value": result.best_value,
                "tuning.n_trials": result.n_trials,
                "tuning.n_pruned": result.n_pruned,
                "tuning.num_rounds": result.num_rounds,
            }
        )
        _log_frame(result.trials, tmp_dir / "optuna_trials.csv", "tuning")

        # ---- refit on everything up to the calibration window
        _say(progress, f"refitting on {int(masks['refit'].sum()):,} rows")
        booster = tune.fit_booster(
            X[masks["refit"]], y[masks["refit"]], result.params, result.num_rounds
        )
        cal = masks["calibration"]
        groups = frame.loc[cal, "advocate_id"].to_numpy()
        raw_cal = booster.predict(X[cal])
        choice = calibrate.choose_calibration(
            raw_cal, y[cal], groups, config.evaluation.calibration_folds
        )
        mlflow.log_metrics({f"calibration.brier_{m}": v for m, v in choice.brier.items()})
        mlflow.set_tag("calibration.method", choice.calibration.method)
        average = float(choice.calibration.transform(raw_cal).mean())

        # ---- baselines, calibrated the same way on the same window
        _say(progress, "baselines")
        lr_rows = _tune_sample(frame, masks["refit"], tuning.max_tune_rows, tuning.seed)
        logistic = fit_logistic(X[lr_rows], y[lr_rows], tuning.seed)
        raw_scores: dict[str, np.ndarray] = {}
        for name, values in _baseline_raw(frame).items():
            raw_scores[name] = values
        raw_scores[LOGISTIC] = np.empty(len(frame))
        for role in ("calibration", "test"):
            m = masks[role]
            raw_scores[LOGISTIC][m] = logistic.predict_proba(X.loc[m, logistic.columns_])[:, 1]
        test = masks["test"]
        probabilities: dict[str, np.ndarray] = {}
        raw_test = booster.predict(X[test])
        probabilities[MODEL] = choice.calibration.transform(raw_test)
        probabilities[MODEL_RAW] = raw_test
        baseline_calibrations: dict[str, Calibration] = {}
        for name in BASELINES:
            ch = calibrate.choose_calibration(
                raw_scores[name][cal], y[cal], groups, config.evaluation.calibration_folds
            )
            baseline_calibrations[name] = ch.calibration
            probabilities[name] = ch.calibration.transform(raw_scores[name][test])
        if oracle is not None:
            _say(progress, "oracle (the simulator's true probability)")
            probabilities[ORACLE] = _oracle_probabilities(oracle, frame.loc[test])

        # ---- model object
        model = EngagementModel(
            booster=booster,
            calibration=choice.calibration,
            feature_names=list(columns),
            average_probability=average,
            metadata={
                "run_id": run.info.run_id,
                "trained_at_utc": pd.Timestamp.now(tz="UTC").isoformat(),
                "label": {
                    "horizon_days": horizon,
                    "min_events": config.label.min_events,
                    "exclude_event_types": list(config.label.exclude_event_types),
                    "qualifying_categories": list(config.label.qualifying_categories),
                },
                "windows": split.describe(),
                "data_end": end.isoformat(),
                "params": result.params,
                "num_rounds": result.num_rounds,
                "calibration_brier": choice.brier,
                "versions": _versions(),
                # The model carries what serving needs: the feature definition it was trained
                # with, every feature's description, and the serving configuration.
                "feature_spec": spec_data,
                "feature_descriptions": {
                    name: d.description
                    for name, d in feature_descriptions(spec).items()
                    if name in columns
                },
                "scoring_config": ScoringConfig.load().to_dict(),
            },
        )

        # ---- champion on the same test rows
        champion_version = register.current_champion(client, config.model_name)
        champion_metrics: dict[str, float] | None = None
        champion_note = ""
        if champion_version is not None:
            try:
                champion = register.load_engagement_model(
                    f"models:/{config.model_name}@{register.CHAMPION}", tmp_dir / "champion"
                )
                missing = [c for c in champion.feature_names if c not in frame.columns]
                if missing:
                    champion_note = f"the champion needs features this run lacks: {missing[:3]}"
                else:
                    name = f"champion (v{champion_version.version})"
                    probabilities[name] = champion.predict_proba(frame.loc[test])
            except Exception as exc:  # noqa: BLE001 - a broken champion must not stop training
                champion_note = f"the champion could not be re-scored: {exc}"

        # ---- evaluation
        _say(progress, "evaluating on the test window")
        test_frame = frame.loc[test].reset_index(drop=True)
        populations = evaluate.subpopulations(
            test_frame, advocates, config.evaluation.new_tenure_days
        )
        metrics = evaluate.evaluate_candidates(
            y[test], probabilities, populations, config.evaluation.ece_bins
        )
        challenger = evaluate.metric_dict(metrics, MODEL)
        champ_name = next((c for c in probabilities if c.startswith("champion (")), None)
        if champ_name:
            champion_metrics = evaluate.metric_dict(metrics, champ_name)
        baselines = {name: evaluate.metric_dict(metrics, name) for name in BASELINES}
        if champion_version is not None and champion_metrics is None:
            decision = register.PromotionDecision(False, (champion_note,))
        else:
            decision = register.decide_promotion(
                challenger, champion_metrics, baselines, config.promotion
            )
        _log_metrics(metrics)
        table = evaluate.results_table(metrics)
        markdown = evaluate.to_markdown(table)
        segment_table = _segment_table(metrics)
        mlflow.log_text(markdown, "results/results.md")
        mlflow.log_text(evaluate.to_markdown(segment_table), "results/segments.md")
        _log_frame(metrics, tmp_dir / "metrics.csv", "results")
        _log_plots(y[test], probabilities, model, X[test], config)

        # ---- model card, model, registry
        card = model_card(model, table, decision, split, config, n_rows=masks)
        mlflow.log_text(card, "model_card.md")
        model.metadata["test_metrics"] = {
            k: v for k, v in challenger.items() if k.split(".")[0] in {"all", "active"}
        }
        # What the report's trust section shows: the reliability table and the baselines.
        model.metadata["reliability"] = evaluate.reliability_table(
            y[test], probabilities[MODEL], bins=10
        )
        model.metadata["baselines"] = {
            name: {k: v for k, v in values.items() if k.split(".")[0] in {"all", "active"}}
            for name, values in baselines.items()
        }
        _say(progress, "logging and registering the model")
        info = log_model(
            model,
            name="model",
            input_example=X[test].head(5),
            registered_model_name=config.model_name,
        )
        version = str(info.registered_model_version) if info.registered_model_version else None
        if version is not None:
            register.set_aliases(client, config.model_name, version, decision)
        mlflow.set_tag("promotion", decision.summary()[:5000])
        mlflow.set_tag("promoted", str(decision.promote).lower())
        mlflow.log_metric("duration_seconds", time.monotonic() - started)
        return TrainResult(
            run_id=run.info.run_id,
            model=model,
            model_version=version,
            decision=decision,
            table=table,
            table_markdown=markdown,
            metrics=metrics,
            split=split,
            tracking_uri=uri,
            info={
                "experiment_id": experiment.experiment_id,
                "calibration": choice.calibration.method,
                "calibration_brier": choice.brier,
                "best_params": result.params,
                "num_rounds": result.num_rounds,
                "n_trials": result.n_trials,
                "n_pruned": result.n_pruned,
                "rows": {role: int(m.sum()) for role, m in masks.items()},
                "segments": segment_table,
                "baseline_calibrations": {k: v.method for k, v in baseline_calibrations.items()},
            },
        )


def _tune_sample(
    frame: pd.DataFrame, mask: np.ndarray, max_rows: int | None, seed: int
) -> np.ndarray:
    """``mask`` thinned to whole advocates (seeded) so that it has about ``max_rows`` rows."""
    keep = _sample_by_advocate(frame.loc[mask, "advocate_id"], max_rows, seed)
    out = np.zeros(len(frame), dtype=bool)
    out[np.flatnonzero(mask)[keep]] = True
    return out


def _versions() -> dict[str, str]:
    import lightgbm
    import mlflow
    import optuna
    import sklearn

    import engagement_score

    return {
        "engagement_score": engagement_score.__version__,
        "lightgbm": lightgbm.__version__,
        "optuna": optuna.__version__,
        "scikit-learn": sklearn.__version__,
        "mlflow": mlflow.__version__,
        "pandas": pd.__version__,
        "numpy": np.__version__,
    }


def _metric_key(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "._-/" else "_" for ch in text).strip("_")


def _short(candidate: str) -> str:
    return {
        MODEL: "model",
        MODEL_RAW: "model_uncalibrated",
        LOGISTIC: "logistic",
        TALLY: "tally",
        RECENCY: "recency",
        ORACLE: "oracle",
    }.get(candidate, _metric_key(candidate.split(" ")[0]))


def _log_metrics(metrics: pd.DataFrame) -> None:
    import mlflow

    values = {}
    for r in metrics.itertuples():
        if np.isfinite(r.value):
            prefix = "test" if r.candidate == MODEL else f"test_{_short(r.candidate)}"
            values[f"{prefix}.{r.population}.{r.metric}"] = float(r.value)
    mlflow.log_metrics(values)


def _segment_table(metrics: pd.DataFrame) -> pd.DataFrame:
    sub = metrics[metrics["metric"].isin(["roc_auc", "ece", "n", "positive_rate"])]
    wide = sub.pivot_table(
        index=["population", "candidate"], columns="metric", values="value", sort=False
    )
    wide.index = [f"{p} / {c}" for p, c in wide.index]
    return wide.reindex(columns=["n", "positive_rate", "roc_auc", "ece"])


def _log_frame(frame: pd.DataFrame, path: Path, artifact_dir: str) -> None:
    import mlflow

    frame.to_csv(path, index=False)
    mlflow.log_artifact(str(path), artifact_dir)


def _log_datasets(
    frame: pd.DataFrame,
    columns: list[str],
    masks: dict[str, np.ndarray],
    source_names: dict[str, str] | None,
) -> None:
    """MLflow dataset inputs for the refit, calibration and test snapshots.

    Logging a million-row frame makes MLflow profile every value (minutes), so each role is logged
    as its per-as-of-date summary (rows, engaged share) with the digest of the *full* snapshot rows
    (keys, label and features), which changes whenever any of them does.
    """
    import warnings

    import mlflow

    source = (source_names or {}).get("events", "in-memory events")
    keep = ["advocate_id", "as_of", "engaged", *columns]
    for role, context in (("refit", "training"), ("calibration", "calibration"), ("test", "test")):
        sub = frame.loc[masks[role], keep]
        summary = (
            sub.groupby("as_of", sort=True)
            .agg(rows=("engaged", "size"), engaged_share=("engaged", "mean"))
            .reset_index()
        )
        summary["as_of"] = summary["as_of"].dt.strftime("%Y-%m-%d")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # ambiguous local source: harmless
            dataset = mlflow.data.from_pandas(
                summary,
                source=source,
                name=f"snapshots-{role}",
                digest=data_fingerprint(sub)[:16],
            )
        mlflow.log_input(dataset, context=context)


def _log_plots(
    y: np.ndarray,
    probabilities: dict[str, np.ndarray],
    model: EngagementModel,
    X_test: pd.DataFrame,
    config: TrainingConfig,
) -> None:
    import matplotlib.pyplot as plt
    import mlflow

    shown = {k: v for k, v in probabilities.items() if k != MODEL_RAW}
    fig = evaluate.reliability_figure(y, shown, config.evaluation.ece_bins)
    mlflow.log_figure(fig, "plots/reliability.png")
    plt.close(fig)
    fig = evaluate.lift_figure(y, shown)
    mlflow.log_figure(fig, "plots/lift.png")
    plt.close(fig)
    n = min(config.evaluation.shap_sample_rows, len(X_test))
    sample = X_test.sample(n=n, random_state=config.tuning.seed) if n < len(X_test) else X_test
    fig = evaluate.shap_figure(model.contributions(sample), sample, model.feature_names)
    mlflow.log_figure(fig, "plots/shap_beeswarm.png")
    plt.close(fig)


def model_card(
    model: EngagementModel,
    table: pd.DataFrame,
    decision: register.PromotionDecision,
    split: TimeSplit,
    config: TrainingConfig,
    n_rows: dict[str, np.ndarray],
) -> str:
    """A short markdown model card: what the score means, windows, metrics, limits."""
    label = config.label
    qualifying = (
        f"events in categories {', '.join(label.qualifying_categories)}"
        if label.qualifying_categories
        else "events of any type"
    )
    excluded = ", ".join(label.exclude_event_types) or "none"
    d = split.describe()
    return f"""# Engagement score model card

## What the score means
score = round(100 x calibrated probability) that an advocate is **engaged in the
{label.horizon_days} days after the as-of date**: at least {label.min_events} {qualifying}
(excluded types: {excluded}).
A score of 70 means that, among advocates scored 70, about 70% were engaged in the next
{label.horizon_days} days on the held-out test window (see the reliability diagram).

## Training data and windows
- Training (refit): as-of dates {d["split.refit.first"]} .. {d["split.refit.last"]}
  ({d["split.refit.n_dates"]} dates, {int(n_rows["refit"].sum()):,} advocate-dates)
- Tuning: {d["split.tune.first"]} .. {d["split.tune.last"]}; calibration:
  {d["split.calibration.first"]} .. {d["split.calibration.last"]}
  ({model.calibration.method}); test: {d["split.test.first"]} .. {d["split.test.last"]}
  ({int(n_rows["test"].sum()):,} advocate-dates)
- Gap between roles: {split.gap_days} days, so no label window of one role overlaps the next.
- Program average calibrated probability (calibration window): {model.average_probability:.3f}

## Test-window metrics (model, baselines{", oracle" if ORACLE in table.index else ""})
{evaluate.to_markdown(table)}
## Promotion
{decision.summary()}

## Limits
- The score is a probability for the population it was trained on; a program whose activity mix
  changes (new event types, a campaign) drifts away from it until the next retraining.
- Community activity before an advocate connected their community account is unknown, not zero.
- It ranks and calibrates, it does not explain causes: reasons are associations (SHAP), not levers.
- Calibration holds on average over the test window; small segments can deviate (see segments.md).
"""
