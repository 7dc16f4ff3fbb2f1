"""The ``engagement-score features`` command: Parquet or CSV out, exit 2 on bad usage."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

from engagement_score import cli
from engagement_score.features import feature_columns


def _run(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["engagement-score", *args])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    return int(exit_info.value.code or 0)


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    events = tmp_path / "events.csv"
    events.write_text(
        "advocate_id,occurred_at,event_type,source,value\n"
        "00042,2025-12-30T10:00:00Z,login,portal,1\n"
        "00042,2025-12-31T10:00:00+02:00,review_written,portal,\n"
        "007,2025-12-15,post_created,community,\n"
    )
    advocates = tmp_path / "advocates.csv"
    advocates.write_text(
        "advocate_id,joined_at,community_connected_at,region\n"
        "00042,2025-01-01,,EU\n"
        "007,2025-06-01,2025-07-01,US\n"
    )
    return events, advocates


@pytest.mark.parametrize("name", ["features.parquet", "features.csv"])
def test_writes_one_row_per_advocate_and_date(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, inputs: tuple[Path, Path], name: str
) -> None:
    events, advocates = inputs
    out = tmp_path / name
    code = _run(
        monkeypatch, "features", "--events", str(events), "--advocates", str(advocates),
        "--as-of", "2026-01-01", "--as-of", "2025-12-31", "--out", str(out), "--chunk-size", "1",
    )  # fmt: skip
    assert code == 0
    table = (
        pd.read_parquet(out)
        if name.endswith(".parquet")
        else pd.read_csv(out, dtype={"advocate_id": str})
    )
    assert list(table.columns) == ["advocate_id", "as_of", *feature_columns()]
    assert list(table["advocate_id"]) == ["00042", "00042", "007", "007"]
    row = table.iloc[1]  # 00042 as of 2026-01-01
    assert row["events_7d"] == 2 and row["high_value_7d"] == 1
    assert pd.isna(row["community_events_30d"])  # not connected
    assert table.iloc[3]["community_events_30d"] == 1


def test_bad_extension_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    inputs: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    events, advocates = inputs
    code = _run(
        monkeypatch, "features", "--events", str(events), "--advocates", str(advocates),
        "--as-of", "2026-01-01", "--out", str(tmp_path / "features.xlsx"),
    )  # fmt: skip
    assert code == 2
    assert "extension" in capsys.readouterr().err
    assert not (tmp_path / "features.xlsx").exists()


def test_mixed_times_of_day_are_refused(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    inputs: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    events, advocates = inputs
    code = _run(
        monkeypatch, "features", "--events", str(events), "--advocates", str(advocates),
        "--as-of", "2026-01-01", "--as-of", "2026-01-01T06:00:00", "--out", str(tmp_path / "f.csv"),
    )  # fmt: skip
    assert code == 2
    assert "time of day" in capsys.readouterr().err
