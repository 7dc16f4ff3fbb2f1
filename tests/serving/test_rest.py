"""REST: ``mlflow models serve`` on loopback answers feature rows with scores, tiers and reasons."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from engagement_score.config import MODEL_NAME
from engagement_score.features.build import build_features
from engagement_score.serving.model import log_model

from .conftest import Program

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def registry(program: Program, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A throwaway MLflow store with the small model registered as the champion."""
    folder = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    try:
        mlflow.set_experiment("rest-test")
        with mlflow.start_run():
            info = log_model(program.model, registered_model_name=MODEL_NAME)
        MlflowClient(uri).set_registered_model_alias(
            MODEL_NAME, "champion", str(info.registered_model_version)
        )
    finally:
        mlflow.set_tracking_uri(previous)
    return uri


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def post(url: str, body: dict) -> dict:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def test_rest_server_scores_feature_rows(program: Program, registry: str, tmp_path: Path) -> None:
    features = build_features(program.events, program.advocates, program.as_of).head(6)
    rows = features[["advocate_id", *program.model.feature_names]]
    payload = {"dataframe_split": json.loads(rows.to_json(orient="split", index=False))}
    port = free_port()
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable, "-m", "mlflow", "models", "serve",
            "-m", f"models:/{MODEL_NAME}@champion", "--env-manager", "local",
            "-h", "127.0.0.1", "-p", str(port),
        ],
        env={
            **os.environ,
            "MLFLOW_TRACKING_URI": registry,
            # the server execs `uvicorn` from this environment's bin folder
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        },
        stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=5).read()
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                assert server.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
                assert time.monotonic() < deadline, "the server did not come up in 180 s"
                time.sleep(1)
        answer = post(f"http://127.0.0.1:{port}/invocations", payload)
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()

    got = pd.DataFrame(answer["predictions"])
    expected_p = program.model.predict_proba(features)
    assert got["advocate_id"].tolist() == features["advocate_id"].tolist()
    np.testing.assert_allclose(got["probability"], expected_p, rtol=1e-6)
    assert (got["score"] == np.rint(100 * expected_p)).all()
    assert set(got["tier"]) <= {"champion", "engaged", "developing", "at_the_edge", "dormant"}
    assert all(isinstance(r, list) and all(" pts: " in s for s in r) for r in got["reasons"])
