"""The input contract: every kind of bad input gets a clear ContractError naming file, column, rows."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engagement_score import io
from engagement_score.contract import TIMESTAMP_DTYPE, ContractError

ROSTER = "advocate_id,joined_at,community_connected_at,region\n00042,2026-01-01,,emea\n7,2026-01-02T00:00:00Z,2026-02-01,amer\n"
EVENTS = (
    "advocate_id,occurred_at,event_type,source,value,event_id\n"
    "00042,2026-03-01T10:00:00Z,login,portal,,e1\n"
    "00042,2026-03-01T12:00:00+02:00,review_written,portal,50,e2\n"
    "7,2026-03-02 08:00:00,reply_created,community,5,e3\n"
)


def write(path: Path, text: str) -> Path:
    if path.name.endswith(".gz"):
        with gzip.open(path, "wt") as handle:
            handle.write(text)
    else:
        path.write_text(text)
    return path


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    return write(tmp_path / "events.csv", EVENTS), write(tmp_path / "advocates.csv", ROSTER)


def test_reads_csv_into_canonical_frames(files: tuple[Path, Path]) -> None:
    inputs = io.load_inputs(*files)
    events, advocates = inputs.events, inputs.advocates
    assert list(advocates["advocate_id"]) == ["00042", "7"]  # ids stay strings, zeros kept
    assert str(events["occurred_at"].dtype) == TIMESTAMP_DTYPE
    assert str(advocates["joined_at"].dtype) == TIMESTAMP_DTYPE
    # +02:00 is converted to UTC; no offset means UTC.
    assert events["occurred_at"].iloc[1] == pd.Timestamp("2026-03-01T10:00:00Z")
    assert events["occurred_at"].iloc[2] == pd.Timestamp("2026-03-02T08:00:00Z")
    assert pd.isna(advocates["community_connected_at"].iloc[0])
    assert advocates["region"].tolist() == ["emea", "amer"]  # attributes kept
    assert events["value"].isna().tolist() == [True, False, False]
    assert inputs.report.n_orphan_events == 0


@pytest.mark.parametrize("suffix", [".csv.gz", ".parquet"])
def test_gzip_and_parquet_read_like_csv(
    tmp_path: Path, files: tuple[Path, Path], suffix: str
) -> None:
    expected = io.load_inputs(*files)
    if suffix == ".csv.gz":
        ev = write(tmp_path / f"e{suffix}", EVENTS)
        ad = write(tmp_path / f"a{suffix}", ROSTER)
    else:
        ev, ad = tmp_path / f"e{suffix}", tmp_path / f"a{suffix}"
        pd.read_csv(files[0], dtype=str).to_parquet(ev)
        pd.read_csv(files[1], dtype=str).to_parquet(ad)
    got = io.load_inputs(ev, ad)
    pd.testing.assert_frame_equal(got.events, expected.events)
    pd.testing.assert_frame_equal(got.advocates, expected.advocates)


def test_parquet_native_timestamps_naive_are_utc(tmp_path: Path) -> None:
    roster = pd.DataFrame({"advocate_id": ["a"], "joined_at": pd.to_datetime(["2026-01-01 05:00"])})
    path = tmp_path / "a.parquet"
    roster.to_parquet(path)
    got = io.read_advocates(path)
    assert got["joined_at"].iloc[0] == pd.Timestamp("2026-01-01T05:00Z")


def test_duplicate_event_ids_counted_once(tmp_path: Path, files: tuple[Path, Path]) -> None:
    dup = EVENTS + "00042,2026-03-01T12:00:00+02:00,review_written,portal,50,e2\n"
    inputs = io.load_inputs(write(tmp_path / "d.csv", dup), files[1])
    assert len(inputs.events) == 3
    assert inputs.report.n_duplicate_events == 1
    assert inputs.report.n_events_read == 4


def test_events_without_event_id_are_all_kept(tmp_path: Path, files: tuple[Path, Path]) -> None:
    text = "advocate_id,occurred_at,event_type,source\n7,2026-03-01,login,portal\n7,2026-03-01,login,portal\n"
    inputs = io.load_inputs(write(tmp_path / "e.csv", text), files[1])
    assert len(inputs.events) == 2
    assert inputs.events["event_id"].isna().all()


def test_orphan_events_reported_not_dropped_silently(
    tmp_path: Path, files: tuple[Path, Path]
) -> None:
    text = EVENTS + "ghost,2026-03-01,login,portal,,e9\nghost,2026-03-02,login,portal,,e10\n"
    inputs = io.load_inputs(write(tmp_path / "e.csv", text), files[1])
    assert len(inputs.events) == 3
    assert inputs.report.n_orphan_events == 2
    assert inputs.report.orphan_ids == ("ghost",)
    message = inputs.report.orphan_message()
    assert message is not None and "2 events" in message and "ghost" in message


def expect_error(tmp_path: Path, events: str, roster: str = ROSTER) -> ContractError:
    ev = write(tmp_path / "events.csv", events)
    ad = write(tmp_path / "advocates.csv", roster)
    with pytest.raises(ContractError) as info:
        io.load_inputs(ev, ad)
    return info.value


def test_missing_required_column(tmp_path: Path) -> None:
    error = expect_error(tmp_path, "advocate_id,occurred_at,event_type\n7,2026-03-01,login\n")
    assert error.column == "source"
    assert "events.csv" in str(error) and "missing" in str(error)


def test_bad_timestamp_names_rows(tmp_path: Path) -> None:
    text = EVENTS + "7,yesterday,login,portal,,e8\n7,2026-13-45,login,portal,,e9\n"
    error = expect_error(tmp_path, text)
    assert error.column == "occurred_at"
    assert list(error.rows) == [4, 5]
    assert "rows: 4, 5" in str(error)


def test_bad_source_names_rows(tmp_path: Path) -> None:
    error = expect_error(tmp_path, EVENTS + "7,2026-03-01,login,slack,,e8\n")
    assert error.column == "source"
    assert list(error.rows) == [4]


def test_wrong_type_value(tmp_path: Path) -> None:
    error = expect_error(tmp_path, EVENTS + "7,2026-03-01,login,portal,lots,e8\n")
    assert error.column == "value"
    assert list(error.rows) == [4]


def test_empty_required_value(tmp_path: Path) -> None:
    error = expect_error(tmp_path, EVENTS + ",2026-03-01,login,portal,,e8\n")
    assert error.column == "advocate_id"
    assert list(error.rows) == [4]


def test_duplicate_roster_ids(tmp_path: Path) -> None:
    error = expect_error(tmp_path, EVENTS, ROSTER + "7,2026-01-05,,apac\n")
    assert error.column == "advocate_id"
    assert "advocates.csv" in str(error)
    assert 3 in error.rows


def test_empty_files(tmp_path: Path) -> None:
    error = expect_error(tmp_path, "")
    assert "empty" in str(error)
    error = expect_error(tmp_path, EVENTS, "advocate_id,joined_at\n")
    assert "no advocates" in str(error)


def test_header_only_events_is_a_program_without_activity(tmp_path: Path) -> None:
    ev = write(tmp_path / "e.csv", "advocate_id,occurred_at,event_type,source\n")
    ad = write(tmp_path / "a.csv", ROSTER)
    inputs = io.load_inputs(ev, ad)
    assert inputs.events.empty
    assert len(inputs.advocates) == 2


def test_unknown_extension_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ContractError, match="unknown extension"):
        io.read_raw(tmp_path / "events.xlsx")
    with pytest.raises(ContractError, match="does not exist"):
        io.read_raw(tmp_path / "nope.csv")


def test_garbage_parquet(tmp_path: Path) -> None:
    path = tmp_path / "e.parquet"
    path.write_bytes(b"not a parquet file at all")
    with pytest.raises(ContractError, match="cannot be read as parquet"):
        io.read_raw(path)


def test_write_table_is_atomic_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.parquet"

    class Boom(pd.DataFrame):
        def to_parquet(self, *args: object, **kwargs: object) -> None:  # type: ignore[override]
            Path(str(args[0])).write_text("half")
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        io.write_table(Boom({"a": [1]}), target)
    assert list(tmp_path.iterdir()) == []


def test_write_table_csv_lists_as_json(tmp_path: Path) -> None:
    frame = pd.DataFrame({"advocate_id": ["1"], "reasons": [["+3 pts: a", "-2 pts: b"]]})
    path = io.write_table(frame, tmp_path / "s.csv")
    text = path.read_text()
    assert '"[""+3 pts: a"", ""-2 pts: b""]"' in text


@settings(max_examples=60, deadline=None)
@given(
    ids=st.lists(
        st.from_regex(r"0{0,3}[0-9]{1,5}", fullmatch=True), min_size=1, max_size=8, unique=True
    ),
    offset_hours=st.integers(min_value=-12, max_value=14),
)
def test_ids_are_strings_and_offsets_convert(
    tmp_path_factory: pytest.TempPathFactory, ids: list[str], offset_hours: int
) -> None:
    folder = tmp_path_factory.mktemp("p")
    sign = "+" if offset_hours >= 0 else "-"
    stamp = f"2026-05-01T12:00:00{sign}{abs(offset_hours):02d}:00"
    roster = "advocate_id,joined_at\n" + "".join(f"{i},2026-01-01\n" for i in ids)
    events = "advocate_id,occurred_at,event_type,source\n" + "".join(
        f"{i},{stamp},login,portal\n" for i in ids
    )
    inputs = io.load_inputs(write(folder / "e.csv", events), write(folder / "a.csv", roster))
    assert inputs.advocates["advocate_id"].tolist() == ids
    assert inputs.events["advocate_id"].tolist() == ids
    expected = pd.Timestamp("2026-05-01T12:00:00Z") - pd.Timedelta(hours=offset_hours)
    assert (inputs.events["occurred_at"] == expected).all()


def test_parquet_read_in_blocks_names_file_rows(
    tmp_path: Path, files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(io, "EVENT_BATCH_ROWS", 2)  # blocks of 2 rows: rows 1-2, 3-4, 5
    text = EVENTS + "7,2026-03-01,login,portal,,e8\n7,2026-03-01,login,slack,,e9\n"
    path = tmp_path / "e.parquet"
    pd.read_csv(write(tmp_path / "e.csv", text), dtype=str).to_parquet(path)
    with pytest.raises(ContractError) as info:
        io.load_inputs(path, files[1])
    assert info.value.column == "source"
    assert list(info.value.rows) == [5]  # the file's row, not the row within its block
    ok = tmp_path / "ok.parquet"
    pd.read_csv(files[0], dtype=str).to_parquet(ok)
    blocks = io.load_inputs(ok, files[1])
    pd.testing.assert_frame_equal(blocks.events, io.load_inputs(*files).events)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_dedup_is_exact_even_when_hashes_collide(
    tmp_path: Path, files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    # Every event_id hashes alike: only the string comparison can tell e2 from e3.
    monkeypatch.setattr(io, "hash_text", lambda values: np.ones(len(values), dtype=np.uint64))
    text = EVENTS + "00042,2026-03-01T12:00:00+02:00,review_written,portal,50,e2\n"
    path = write(tmp_path / "d.csv", text)
    if suffix == ".parquet":
        path = tmp_path / "d.parquet"
        pd.read_csv(tmp_path / "d.csv", dtype=str).to_parquet(path)
    for keep in (True, False):
        inputs = io.load_inputs(path, files[1], keep_event_id=keep)
        assert inputs.report.n_duplicate_events == 1
        assert len(inputs.events) == 3
        assert ("event_id" in inputs.events) == keep


def test_hash_text_equal_strings_hash_alike() -> None:
    values = pd.Series(["a", "bb", None, "a", "", "x" * 70, "x" * 70, "abcdefghij", "abcdefghik"])
    h = io.hash_text(values.astype("str"))
    assert h[0] == h[3] and h[5] == h[6]
    assert len({h[0], h[1], h[4], h[5], h[7], h[8]}) == 6
    assert io.hash_text(values.astype("str").iloc[3:])[0] == h[0]  # sliced arrays too


def test_canonical_events_are_compact_categories(files: tuple[Path, Path]) -> None:
    events = io.load_inputs(*files).events
    for column in ("advocate_id", "event_type", "source"):
        assert isinstance(events[column].dtype, pd.CategoricalDtype)
    assert events["advocate_id"].cat.categories.tolist() == ["00042", "7"]  # the roster
    assert events["source"].tolist() == ["portal", "portal", "community"]


SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mathoverflow"


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data/mathoverflow is not here")
def test_shared_real_dataset_passes_the_contract() -> None:
    inputs = io.load_inputs(SHARED_DATA / "events.csv.gz", SHARED_DATA / "advocates.csv")
    assert len(inputs.advocates) == 19_774
    assert inputs.report.n_events_read == 506_550
    assert len(inputs.events) + inputs.report.n_orphan_events == 506_550
    assert inputs.report.n_orphan_events == 0
    assert set(inputs.events["source"].astype(str)) == {"community"}
    assert inputs.advocates["community_connected_at"].isna().all()
