"""`engagement-score score` end to end on a saved model: the file it writes is the engine's result."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from engagement_score import io
from engagement_score.cli import app
from engagement_score.serving.batch import score_program

from .conftest import Program


@pytest.mark.parametrize("workers", ["1", "2"])
def test_score_command_writes_every_advocate(
    program: Program, tmp_path: Path, workers: str
) -> None:
    model_dir = program.model.save(tmp_path / "model")
    events = io.write_table(program.events, tmp_path / "events.parquet")
    advocates = io.write_table(program.advocates, tmp_path / "advocates.parquet")
    out = tmp_path / "scores.parquet"
    result = CliRunner().invoke(
        app,
        ["score", "--events", str(events), "--advocates", str(advocates),
         "--as-of", f"{program.as_of:%Y-%m-%d}", "--model", str(model_dir), "--out", str(out),
         "--chunk-size", "150", "--workers", workers],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    written = pd.read_parquet(out)
    inputs = io.load_inputs(events, advocates, keep_event_id=False)
    expected = score_program(inputs.events, inputs.advocates, program.as_of, program.model).scores
    on_roster = program.advocates["joined_at"] <= program.as_of
    assert len(written) == int(on_roster.sum())
    assert f"Scored {int(on_roster.sum()):,} advocates" in result.output
    assert written["advocate_id"].tolist() == expected["advocate_id"].tolist()
    assert written["score"].tolist() == expected["score"].tolist()
    assert written["tier"].tolist() == expected["tier"].tolist()
    assert written["momentum"].tolist() == expected["momentum"].tolist()
    assert [list(r) for r in written["reasons"]] == expected["reasons"].tolist()
