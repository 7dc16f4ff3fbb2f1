"""The data scientists' notebooks run end to end on a small simulated program.

Each notebook is executed with nbclient in a kernel started from *this* interpreter (a kernelspec
written to a temporary ``JUPYTER_PATH``), with small parameters passed through the environment
variables its parameters cell reads, and a temporary MLflow SQLite store: notebook 02 finds no run
there, so it trains a small one first. The tests then check that the key cells produced what they
are for (figures, the metrics table, calibration numbers that match the logged ones, reasons whose
points add up), and that the committed notebooks carry no outputs.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

pytestmark = pytest.mark.slow

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
KERNEL = "engagement-score-tests"
#: Small enough to run both notebooks in about two minutes on two shared cores.
SMALL = {
    "ES_NB_ADVOCATES": "400",
    "ES_NB_DAYS": "400",
    "ES_NB_SEED": "0",
    "ES_NB_TRIALS": "2",
    "ES_NB_TIMEOUT": "60",
    "ES_NB_ORACLE_PATHS": "20",
    "ES_NB_THREADS": "1",
    "MPLBACKEND": "Agg",
    "OMP_WAIT_POLICY": "passive",
}


@pytest.fixture(scope="module")
def kernel_env(tmp_path_factory: pytest.TempPathFactory):
    """Environment for the kernels: this interpreter's kernelspec, small parameters."""
    root = tmp_path_factory.mktemp("jupyter")
    spec_dir = root / "kernels" / KERNEL
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "engagement-score tests",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", str(root))
        for name, value in SMALL.items():
            mp.setenv(name, value)
        for name in ("ES_NB_DATA_DIR", "ES_NB_TRACKING_URI", "ES_NB_RETRAIN"):
            mp.delenv(name, raising=False)
        yield mp


def run_notebook(name: str, workdir: Path) -> Any:
    """Execute a notebook in ``workdir``; raises ``CellExecutionError`` on the first failing cell."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        kernel_name=KERNEL,
        timeout=600,
        startup_timeout=120,
        resources={"metadata": {"path": str(workdir)}},
    )
    client.execute()
    return nb


def outputs(nb: Any) -> list[dict[str, Any]]:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


def n_images(nb: Any) -> int:
    return sum("image/png" in o.get("data", {}) for o in outputs(nb))


def text(nb: Any) -> str:
    """Everything the notebook printed or displayed as text or HTML."""
    parts = []
    for o in outputs(nb):
        if o["output_type"] == "stream":
            parts.append(o["text"])
        for kind in ("text/plain", "text/html"):
            if kind in o.get("data", {}):
                parts.append(o["data"][kind])
    return "\n".join(parts)


def test_committed_notebooks_have_no_outputs() -> None:
    names = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    assert names == ["01_explore_activity.ipynb", "02_model_review.ipynb"]
    for name in names:
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        nbformat.validate(nb)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(not c.outputs and c.execution_count is None for c in code), name
        assert "parameters" in code[0].metadata.get("tags", []), name


def test_explore_activity_runs(kernel_env, tmp_path: Path) -> None:
    nb = run_notebook("01_explore_activity.ipynb", tmp_path)
    printed = text(nb)
    assert "400 advocates" in printed  # the parameters cell read the environment
    assert n_images(nb) >= 8  # mix, daily, weekday, archetypes, faders, cohorts, features, labels
    assert "login" in printed and "campaign" in printed
    assert re.search(r"overall base rate: \d+\.\d%", printed)
    assert "only logins in the last 30 days" in printed
    assert not list(tmp_path.iterdir())  # everything in memory: nothing written


def test_model_review_trains_then_reviews(kernel_env, tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    kernel_env.setenv("MLFLOW_TRACKING_URI", uri)
    nb = run_notebook("02_model_review.ipynb", tmp_path)
    printed = text(nb)
    assert "training a run: 2 trials" in printed  # the empty store made it train first
    for row in ("lightgbm", "tally (events, last 30 days)", "oracle (true probability)"):
        assert row in printed
    assert "roc_auc (all)" in printed and "ece (all)" in printed
    assert n_images(nb) >= 7  # bars, logged reliability + lift, reliability, scores, SHAP, history

    # The reliability recomputed from the registered model matches the logged test metrics.
    found = re.search(
        r"ROC AUC (\d\.\d+) \(logged (\d\.\d+)\), ECE (\d\.\d+) \(logged (\d\.\d+)\)", printed
    )
    assert found, "the recomputed-vs-logged line is missing"
    auc, logged_auc, ece, logged_ece = map(float, found.groups())
    assert auc == pytest.approx(logged_auc, abs=1e-6)
    assert ece == pytest.approx(logged_ece, abs=1e-6)

    # Explanations: reasons with signed points that add up to score - reference.
    assert re.search(r"[+-]\d+ pts: ", printed)
    parts = re.search(r"reference score (\d+), score (\d+), points add up to ([+-]?\d+)", printed)
    assert parts, "the points breakdown is missing"
    reference, score, total = map(int, parts.groups())
    assert reference + total == score

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    version = client.get_model_version_by_alias("engagement-score", "challenger")
    assert str(version.version) == "1"
