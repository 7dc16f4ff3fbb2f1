"""`engagement-score train` refuses a history too short to train on: exit 2, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_too_short_history_exits_2(tmp_path: Path) -> None:
    (tmp_path / "advocates.csv").write_text("advocate_id,joined_at\n1,2026-01-01\n2,2026-01-02\n")
    (tmp_path / "events.csv").write_text(
        "advocate_id,occurred_at,event_type,source\n"
        "1,2026-01-05,post_created,community\n"
        "2,2026-03-01,login,portal\n"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "engagement_score",
            "train",
            "--events",
            "events.csv",
            "--advocates",
            "advocates.csv",
            "--trials",
            "1",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}", "PATH": ""},
    )
    assert done.returncode == 2, done.stderr
    assert "too short" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "mlflow.db").exists()  # nothing tracked for a refused run
