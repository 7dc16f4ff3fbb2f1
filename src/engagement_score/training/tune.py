"""LightGBM tuned with Optuna: seeded TPE, median pruning, a trial budget and a time limit.

Each trial trains on the training window, early-stops on the tune window and reports the tune-window
metric every 10 rounds, so the median pruner can stop hopeless trials early. When an MLflow run is
active, each trial is logged as a nested run from inside the objective. Everything is seeded and
LightGBM runs with ``deterministic=True`` and a fixed thread count, so the same data and seed give
the same study (a time limit that cuts the search short is the one source of run-to-run variation).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import optuna
import pandas as pd

from engagement_score.config import TuningConfig, default_config_path, load_yaml

REPORT_EVERY = 10


def load_search_space(path: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """The search space YAML (``training/search_space.yaml`` by default)."""
    path = Path(path) if path else default_config_path("search_space.yaml")
    return {str(k): dict(v) for k, v in load_yaml(path).items()}


def suggest(trial: optuna.Trial, space: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Draw one set of LightGBM settings from the search space."""
    params: dict[str, Any] = {}
    for name, spec in space.items():
        kind = spec.get("type", "float")
        if kind == "int":
            params[name] = trial.suggest_int(
                name, int(spec["low"]), int(spec["high"]), log=bool(spec.get("log", False))
            )
        elif kind == "float":
            params[name] = trial.suggest_float(
                name, float(spec["low"]), float(spec["high"]), log=bool(spec.get("log", False))
            )
        elif kind == "categorical":
            params[name] = trial.suggest_categorical(name, list(spec["choices"]))
        else:
            raise ValueError(f"search space {name}: unknown type {kind!r}")
    return params


def base_params(config: TuningConfig) -> dict[str, Any]:
    """Fixed LightGBM settings: binary objective, determinism, threads, bagging every round."""
    return {
        "objective": "binary",
        "metric": config.objective_metric,
        "verbosity": -1,
        "seed": config.seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": config.n_jobs,
        "bagging_freq": 1,
    }


def make_dataset(
    X: pd.DataFrame, y: np.ndarray, reference: lgb.Dataset | None = None
) -> lgb.Dataset:
    """A constructed LightGBM dataset (binned once, reused by every trial)."""
    data = lgb.Dataset(
        X.astype("float64"),
        label=np.asarray(y, dtype=float),
        reference=reference,
        free_raw_data=False,
        params={"verbosity": -1, "max_bin": 255},
    )
    return data.construct()


@dataclass
class TuneResult:
    """The best settings (including the early-stopped number of rounds) and the study summary."""

    params: dict[str, Any]
    num_rounds: int
    best_value: float
    n_trials: int
    n_pruned: int
    trials: pd.DataFrame = field(default_factory=pd.DataFrame)


def _pruning_callback(trial: optuna.Trial, warmup: int):
    def callback(env: lgb.callback.CallbackEnv) -> None:
        step = env.iteration + 1
        if step < warmup or step % REPORT_EVERY or not env.evaluation_result_list:
            return
        value = float(env.evaluation_result_list[0][2])
        trial.report(value, step)
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned at round {step}")

    return callback


def tune(
    train: lgb.Dataset,
    valid: lgb.Dataset,
    config: TuningConfig,
    space: dict[str, dict[str, Any]],
    trials: int | None = None,
    timeout_seconds: float | None = None,
    log_trials: bool = True,
) -> TuneResult:
    """Run the Optuna study; minimise the tune-window ``objective_metric`` (log loss by default)."""
    n_trials = trials if trials is not None else config.trials
    timeout = timeout_seconds if timeout_seconds is not None else config.timeout_seconds
    fixed = base_params(config)
    direction = (
        "maximize" if config.objective_metric in {"auc", "average_precision"} else "minimize"
    )

    def objective(trial: optuna.Trial) -> float:
        params = {**fixed, **suggest(trial, space)}
        run = _nested_run(trial.number) if log_trials else contextlib.nullcontext()
        pruned: optuna.TrialPruned | None = None
        value = float("nan")
        with run as active:
            evals: dict[str, Any] = {}
            try:
                booster = lgb.train(
                    params,
                    train,
                    num_boost_round=config.max_rounds,
                    valid_sets=[valid],
                    valid_names=["tune"],
                    callbacks=[
                        lgb.early_stopping(config.early_stopping_rounds, verbose=False),
                        lgb.record_evaluation(evals),
                        _pruning_callback(trial, config.pruning_warmup_rounds),
                    ],
                )
            except optuna.TrialPruned as exc:
                pruned = exc
                if active is not None:
                    _log_trial(trial, params, None, None, "pruned")
            else:
                rounds = int(booster.best_iteration or booster.current_iteration())
                value = float(evals["tune"][config.objective_metric][rounds - 1])
                trial.set_user_attr("num_rounds", rounds)
                if active is not None:
                    _log_trial(trial, params, value, rounds, "complete", config.objective_metric)
        if pruned is not None:
            raise pruned
        return value

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction=direction,
        sampler=optuna.samplers.TPESampler(seed=config.seed),
        pruner=optuna.pruners.MedianPruner(
            n_startup_trials=5, n_warmup_steps=config.pruning_warmup_rounds
        ),
    )
    study.optimize(objective, n_trials=n_trials, timeout=timeout, gc_after_trial=False)
    completed = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not completed:
        raise RuntimeError("no Optuna trial completed; raise --trials or --timeout")
    best = study.best_trial
    params = {**fixed, **best.params}
    summary = pd.DataFrame(
        {
            "trial": [t.number for t in study.trials],
            "state": [t.state.name.lower() for t in study.trials],
            "value": [t.value for t in study.trials],
            "num_rounds": [t.user_attrs.get("num_rounds") for t in study.trials],
            **{k: [t.params.get(k) for t in study.trials] for k in space},
        }
    )
    return TuneResult(
        params=params,
        num_rounds=int(best.user_attrs["num_rounds"]),
        best_value=float(best.value),
        n_trials=len(study.trials),
        n_pruned=sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials),
        trials=summary,
    )


@contextlib.contextmanager
def _nested_run(number: int):
    import mlflow

    if mlflow.active_run() is None:
        yield None
        return
    with mlflow.start_run(run_name=f"trial-{number:03d}", nested=True) as run:
        yield run


def _log_trial(
    trial: optuna.Trial,
    params: dict[str, Any],
    value: float | None,
    rounds: int | None,
    state: str,
    metric: str = "binary_logloss",
) -> None:
    import mlflow

    mlflow.log_params({k: v for k, v in params.items() if k in trial.params})
    mlflow.set_tag("optuna.trial", trial.number)
    mlflow.set_tag("optuna.state", state)
    if value is not None:
        mlflow.log_metric(f"tune_{metric}", value)
        mlflow.log_metric("num_rounds", float(rounds or 0))


def fit_booster(
    X: pd.DataFrame, y: np.ndarray, params: dict[str, Any], num_rounds: int
) -> lgb.Booster:
    """Fit the chosen settings for a fixed number of rounds (the final refit)."""
    data = make_dataset(X, y)
    return lgb.train(params, data, num_boost_round=num_rounds)
