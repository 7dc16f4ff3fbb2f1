"""The command line: bad input or usage gives exit status 2, one paragraph, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROSTER = "advocate_id,joined_at\n1,2026-01-01\n2,2026-01-02\n"
GOOD_EVENTS = "advocate_id,occurred_at,event_type,source\n1,2026-02-01,login,portal\n"
BAD_EVENTS = (
    "advocate_id,occurred_at,event_type,source\n"
    "1,2026-02-01,login,portal\n"
    "2,not-a-date,login,portal\n"
)


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engagement_score", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


#: Every command that reads the input tables, with the options it needs besides the inputs.
READING_COMMANDS: dict[str, list[str]] = {
    "features": ["--as-of", "2026-03-01", "--out", "out.parquet"],
    "train": ["--trials", "1"],
    "score": ["--as-of", "2026-03-01", "--out", "out.parquet"],
    "explain": ["--as-of", "2026-03-01", "--advocate", "1"],
    "report": ["--as-of", "2026-03-01", "--out", "out.html"],
}


def available_commands() -> list[str]:
    from engagement_score.cli import app

    names = {c.name or c.callback.__name__ for c in app.registered_commands}  # type: ignore[union-attr]
    return [c for c in READING_COMMANDS if c in names]


@pytest.mark.parametrize("command", available_commands())
def test_bad_input_is_refused_the_same_way_everywhere(tmp_path: Path, command: str) -> None:
    (tmp_path / "events.csv").write_text(BAD_EVENTS)
    (tmp_path / "advocates.csv").write_text(ROSTER)
    result = run(
        command,
        "--events",
        "events.csv",
        "--advocates",
        "advocates.csv",
        *READING_COMMANDS[command],
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "events.csv" in result.stderr
    assert "occurred_at" in result.stderr
    assert "rows: 2" in result.stderr
    leftovers = {p.name for p in tmp_path.iterdir()} - {"events.csv", "advocates.csv"}
    assert not any(name.startswith("out") for name in leftovers)


def test_missing_file_and_bad_usage(tmp_path: Path) -> None:
    (tmp_path / "advocates.csv").write_text(ROSTER)
    result = run(
        "features", "--events", "nope.csv", "--advocates", "advocates.csv",
        "--as-of", "2026-03-01", "--out", "f.parquet", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    assert "nope.csv" in result.stderr and "Traceback" not in result.stderr

    result = run("simulate", "--out", "x", "--advocates", "0", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    result = run("no-such-command", cwd=tmp_path)
    assert result.returncode == 2


def test_bad_as_of(tmp_path: Path) -> None:
    (tmp_path / "events.csv").write_text(GOOD_EVENTS)
    (tmp_path / "advocates.csv").write_text(ROSTER)
    result = run(
        "features", "--events", "events.csv", "--advocates", "advocates.csv",
        "--as-of", "someday", "--out", "f.parquet", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--as-of" in result.stderr and "someday" in result.stderr


def test_help_lists_the_contract_commands(tmp_path: Path) -> None:
    result = run("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("simulate", "features"):
        assert command in result.stdout
