"""A small end-to-end training run against a temporary MLflow store.

First through the CLI (with the oracle), then again through the Python API with the same seed: the
same model comes out, the second run re-scores the champion on the same test window, and the
champion loads in a fresh process from the registry without any pickled model object.
"""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

from engagement_score import simulate as sim
from engagement_score.cli import app
from engagement_score.config import TrainingConfig
from engagement_score.io import load_inputs
from engagement_score.training.pipeline import MODEL, ORACLE, TALLY, train

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("program")
    config = sim.SimulationConfig(n_advocates=600, n_days=400, seed=3)
    sim.write_program(out, config)
    return out, config


def test_train_twice_same_model_and_registry(program, tmp_path, monkeypatch) -> None:
    out, sim_config = program
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)
    events, advocates = out / "events.parquet", out / "advocates.parquet"
    result = CliRunner().invoke(
        app,
        [
            "train",
            "--events",
            str(events),
            "--advocates",
            str(advocates),
            "--trials",
            "2",
            "--oracle-seed",
            "3",
            "--oracle-paths",
            "20",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "oracle" in result.output and "challenger" in result.output

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    v1 = client.get_model_version_by_alias("engagement-score", "challenger")
    assert str(v1.version) == "1"
    run1 = client.get_run(v1.run_id)
    assert "test.all.roc_auc" in run1.data.metrics
    assert "test_tally.active.roc_auc" in run1.data.metrics
    assert "test_oracle.all.roc_auc" in run1.data.metrics
    assert run1.data.tags["calibration.method"] in {"isotonic", "platt"}
    artifacts = {a.path for a in client.list_artifacts(run1.info.run_id)}
    assert {"model_card.md", "plots", "results", "tuning", "config"} <= artifacts
    plots = {a.path for a in client.list_artifacts(run1.info.run_id, "plots")}
    assert {"plots/reliability.png", "plots/lift.png", "plots/shap_beeswarm.png"} <= plots
    trials = client.search_runs(
        [run1.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{run1.info.run_id}'",
    )
    assert len(trials) == 2  # one nested run per Optuna trial
    assert len(run1.inputs.dataset_inputs) == 3

    # Second run, Python API, same seed: identical model; the champion (if any) is compared.
    inputs = load_inputs(events, advocates)
    first_promoted = run1.data.tags["promoted"] == "true"
    second = train(
        inputs.events,
        inputs.advocates,
        TrainingConfig.load(),
        trials=2,
        oracle=lambda d, ids: sim.true_engagement_probability(sim_config, d, 20, ids),
    )
    assert second.model_version == "2"
    from engagement_score.training.register import load_engagement_model

    m1 = load_engagement_model("models:/engagement-score/1", tmp_path / "m1")
    assert m1.booster.model_to_string() == second.model.booster.model_to_string()
    assert m1.calibration.to_dict() == second.model.calibration.to_dict()
    assert {MODEL, TALLY, ORACLE} <= set(second.table.index)
    if first_promoted:
        assert any(c.startswith("champion (v1)") for c in second.table.index)
        assert second.decision.promote  # same model, same window: at least as good
    else:
        assert "first model" in second.decision.reasons[0]

    alias = client.get_model_version_by_alias("engagement-score", "challenger")
    assert str(alias.version) == "2"
    champion_uri = "models:/engagement-score@challenger"
    if second.decision.promote:
        champion_uri = "models:/engagement-score@champion"
    code = (
        "import mlflow, pandas as pd, numpy as np, sys\n"
        f"m = mlflow.pyfunc.load_model({champion_uri!r})\n"
        "names = [c for c in m.metadata.get_input_schema().input_names()"
        " if c not in ('advocate_id', 'as_of')]\n"
        "X = pd.DataFrame(np.ones((3, len(names))), columns=names)\n"
        "X.insert(0, 'advocate_id', ['a', 'b', 'c'])\n"
        "out = m.predict(X)\n"
        "assert list(out.columns) == ['advocate_id', 'probability', 'score', 'tier', 'reasons'], out.columns\n"
        "assert out['score'].between(0, 100).all()\n"
        "print('OK', out['score'].tolist())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "OK" in done.stdout
    assert isinstance(second.table, pd.DataFrame)
