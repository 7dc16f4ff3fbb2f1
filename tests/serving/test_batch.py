"""Batch scoring: the contract's output, every roster advocate once, trend, reasons that add up."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from engagement_score.contract import SCORE_COLUMNS, TIMESTAMP_DTYPE
from engagement_score.features.build import build_features
from engagement_score.serving.batch import (
    HISTORY_COLUMN,
    partitions,
    score_partition,
    score_program,
)
from engagement_score.serving.explain import explain_rows

from .conftest import Program

REASON = re.compile(r"^[+-]\d+ pts: \S.*$")


@pytest.fixture(scope="module")
def scored(program: Program) -> pd.DataFrame:
    return score_program(
        program.events, program.advocates, program.as_of, program.model, keep_history=True
    ).scores


def test_contract_columns_and_types(scored: pd.DataFrame) -> None:
    assert list(scored.columns[: len(SCORE_COLUMNS)]) == list(SCORE_COLUMNS)
    assert str(scored["as_of"].dtype) == TIMESTAMP_DTYPE
    assert scored["score"].dtype == np.int64
    assert scored["score"].between(0, 100).all()
    assert scored["probability"].between(0, 1).all()
    assert (scored["score"] == np.rint(100 * scored["probability"])).all()
    assert scored["at_risk"].dtype == bool
    assert str(scored["trend_30d"].dtype) == "Int64"
    assert set(scored["momentum"]) <= {"gaining", "steady", "slipping"}
    assert set(scored["tier"]) <= {"champion", "engaged", "developing", "at_the_edge", "dormant"}
    assert all(isinstance(r, list) for r in scored["reasons"])
    assert all(REASON.match(s) for r in scored["reasons"] for s in r)
    assert scored["reasons"].map(len).max() == 3


def test_every_roster_advocate_exactly_once(program: Program, scored: pd.DataFrame) -> None:
    roster = program.advocates[program.advocates["joined_at"] <= program.as_of]["advocate_id"]
    assert scored["advocate_id"].is_unique
    assert set(scored["advocate_id"]) == set(roster)
    assert "Z-QUIET" in set(scored["advocate_id"])  # no events, still scored
    late = program.advocates[program.advocates["joined_at"] > program.as_of]
    assert not set(late["advocate_id"]) & set(scored["advocate_id"])


def test_trend_is_score_minus_score_30_days_earlier(program: Program, scored: pd.DataFrame) -> None:
    earlier = score_program(
        program.events, program.advocates, program.as_of - pd.Timedelta(days=30), program.model
    ).scores.set_index("advocate_id")["score"]
    both = scored.set_index("advocate_id").join(earlier.rename("earlier"), how="left")
    known = both["earlier"].notna()
    assert known.sum() > 100
    assert (
        both.loc[known, "trend_30d"] == both.loc[known, "score"] - both.loc[known, "earlier"]
    ).all()
    assert both.loc[~known, "trend_30d"].isna().all()  # joined within the last 30 days
    history = scored[HISTORY_COLUMN]
    assert (history.map(len) == 31).all()
    assert (history.map(lambda h: h[-1]) == scored["score"]).all()


def test_chunked_equals_one_partition(program: Program, scored: pd.DataFrame) -> None:
    chunked = score_program(
        program.events, program.advocates, program.as_of, program.model,
        chunk_size=37, keep_history=True,
    ).scores  # fmt: skip
    pd.testing.assert_frame_equal(chunked, scored)


def test_worker_processes_and_categorical_ids_equal_one_process(
    program: Program, scored: pd.DataFrame
) -> None:
    # events as io.load_inputs gives them: advocate_id a category of the roster's ids (plus one
    # id that is not on the roster, whose events must be ignored as before)
    roster_ids = list(program.advocates["advocate_id"]) + ["NOT-ON-ROSTER"]
    events = program.events.copy()
    stray = events.iloc[:5].assign(advocate_id="NOT-ON-ROSTER")
    events = pd.concat([events, stray], ignore_index=True)
    events["advocate_id"] = pd.Categorical(events["advocate_id"], categories=roster_ids)
    pooled = score_program(
        events, program.advocates, program.as_of, program.model,
        chunk_size=150, keep_history=True, workers=2,
    ).scores  # fmt: skip
    pd.testing.assert_frame_equal(pooled, scored)


def test_partitions_recode_categorical_ids_to_the_chunk(program: Program) -> None:
    events = program.events.assign(
        advocate_id=pd.Categorical(program.events["advocate_id"],
                                   categories=program.advocates["advocate_id"])
    )  # fmt: skip
    seen = 0
    for chunk_events, chunk_roster in partitions(events, program.advocates, 100):
        ids = chunk_events["advocate_id"]
        assert list(ids.cat.categories) == list(chunk_roster["advocate_id"])
        assert ids.notna().all()
        original = program.events["advocate_id"].iloc[chunk_events.index]
        assert (ids.astype(str).to_numpy() == original.to_numpy()).all()
        seen += len(chunk_events)
    assert seen == len(events)


def test_reason_points_add_up_to_distance_from_average(program: Program) -> None:
    features = build_features(program.events, program.advocates, program.as_of)
    explanation = explain_rows(program.model, features)
    distance = explanation.score - explanation.reference_score
    assert (explanation.points.sum(axis=1) == distance).all()
    assert len(np.unique(explanation.reference_score)) == 1  # one average advocate
    # and the sentences carry the same points as the strongest features
    part = score_partition(
        program.events, program.advocates, program.as_of, program.model
    ).set_index("advocate_id")
    ids = features["advocate_id"].to_numpy()
    for i in range(0, len(ids), 50):
        strongest = np.sort(np.abs(explanation.points[i]))[::-1][:3]
        shown = [abs(int(s.split(" pts:")[0])) for s in part.loc[ids[i], "reasons"]]
        assert shown == [int(p) for p in strongest if p >= 1]


def test_at_risk_only_for_recently_active(scored: pd.DataFrame) -> None:
    assert not (scored["at_risk"] & ~scored["active_30d"]).any()
    assert scored["at_risk"].any()


def test_coverage_says_portal_only_when_not_connected(
    program: Program, scored: pd.DataFrame
) -> None:
    roster = program.advocates.set_index("advocate_id")
    connected = roster.loc[scored["advocate_id"], "community_connected_at"]
    expected = np.where(
        connected.notna() & (connected <= program.as_of), "portal+community", "portal only"
    )
    assert (scored["coverage"].to_numpy() == expected).all()
    assert set(expected) == {"portal+community", "portal only"}


def test_events_at_or_after_t_change_nothing(program: Program, scored: pd.DataFrame) -> None:
    future = program.events[program.events["occurred_at"] < program.as_of]
    again = score_program(
        future, program.advocates, program.as_of, program.model, keep_history=True
    )
    pd.testing.assert_frame_equal(again.scores, scored)


def test_thread_count_does_not_change_scores(program: Program, scored: pd.DataFrame) -> None:
    from dataclasses import replace

    threaded = replace(program.model, n_jobs=2)
    again = score_program(
        program.events, program.advocates, program.as_of, threaded, keep_history=True
    ).scores
    pd.testing.assert_frame_equal(again, scored)
