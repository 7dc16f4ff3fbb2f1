"""The Spark engine gives the same rows as the local engine on the same input."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from engagement_score.serving.batch import score_program

from .conftest import Program

pyspark = pytest.importorskip("pyspark", reason="the spark extra is not installed")
pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(shutil.which("java") is None, reason="PySpark needs a Java runtime"),
]


def test_spark_equals_local(program: Program) -> None:
    from engagement_score.serving.spark import score_with_spark, spark_session

    spark = spark_session("local[2]")
    try:
        on_spark = score_with_spark(
            program.events, program.advocates, program.as_of, program.model, spark=spark, buckets=5
        )
    finally:
        spark.stop()
    local = score_program(program.events, program.advocates, program.as_of, program.model)
    assert on_spark.momentum_threshold == pytest.approx(local.momentum_threshold)
    pd.testing.assert_frame_equal(on_spark.scores, local.scores)
