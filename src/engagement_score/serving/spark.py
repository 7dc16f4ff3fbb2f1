"""The Spark engine: the same per-partition scoring function, run by ``cogroup().applyInPandas``.

Advocates are hashed into buckets by id; each bucket's events and roster rows meet in one pandas
call of :func:`engagement_score.serving.batch.score_partition`, the function the local engine runs
on its chunks. Because per-advocate work depends only on that advocate's rows, the buckets give
the same rows as the chunks; the program-wide momentum threshold is then combined from the
per-advocate noise sums by :func:`engagement_score.serving.batch.finalize`, exactly as locally.

Install with ``pip install engagement-score[spark]`` (PySpark and a Java 17 runtime).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from engagement_score.contract import TIMESTAMP_DTYPE
from engagement_score.serving.batch import (
    ScoringResult,
    finalize,
    model_feature_spec,
    model_scoring_config,
    score_partition,
)
from engagement_score.serving.model import Calibration, EngagementModel

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

ROSTER_COLUMNS = ["advocate_id", "joined_at", "community_connected_at"]
EVENT_COLUMNS = ["advocate_id", "occurred_at", "event_type", "source", "value"]

OUTPUT_SCHEMA = (
    "advocate_id string, as_of timestamp, score long, probability double, tier string, "
    "trend_30d long, momentum string, at_risk boolean, reasons array<string>, coverage string, "
    "active_30d boolean, score_30d_ago long, _noise_ss double, _noise_n long"
)


def spark_session(master: str = "local[2]", app_name: str = "engagement-score") -> SparkSession:
    """A Spark session in UTC with Arrow transfers (``local[N]`` here, a cluster URL for real use)."""
    import os
    import sys

    from pyspark.sql import SparkSession

    if master.startswith("local") and "PYSPARK_PYTHON" not in os.environ:
        # Local workers run this interpreter (which has this package); PySpark reads the variable
        # when the context starts. On a cluster, PYSPARK_PYTHON names the executors' Python.
        os.environ["PYSPARK_PYTHON"] = sys.executable
    return (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "8")
        .getOrCreate()
    )


def _utc(values: pd.Series) -> pd.Series:
    """Timestamps from Spark (naive UTC wall time, or aware) as the canonical UTC dtype."""
    return pd.to_datetime(values, utc=True).astype(TIMESTAMP_DTYPE)


def _portable(model: EngagementModel) -> dict[str, Any]:
    """The model as plain text and lists, so executors rebuild it without pickling a Booster."""
    return {
        "booster": model.booster.model_to_string(),
        "calibration": model.calibration.to_dict(),
        "feature_names": list(model.feature_names),
        "average_probability": float(model.average_probability),
        "metadata": dict(model.metadata),
    }


def _rebuild(doc: dict[str, Any]) -> EngagementModel:
    import lightgbm as lgb

    return EngagementModel(
        booster=lgb.Booster(model_str=doc["booster"]),
        calibration=Calibration.from_dict(doc["calibration"]),
        feature_names=list(doc["feature_names"]),
        average_probability=float(doc["average_probability"]),
        metadata=dict(doc["metadata"]),
    )


def score_with_spark(
    events: pd.DataFrame,
    advocates: pd.DataFrame,
    as_of: pd.Timestamp,
    model: EngagementModel,
    *,
    master: str = "local[2]",
    buckets: int = 8,
    with_reasons: bool = True,
    spark: SparkSession | None = None,
) -> ScoringResult:
    """Score every advocate on the roster as of T on Spark; same rows as the local engine."""
    from pyspark.sql import functions as F

    spark = spark or spark_session(master)
    doc = _portable(model)
    spec = model_feature_spec(model)
    config = model_scoring_config(model)

    def score_bucket(ev: pd.DataFrame, adv: pd.DataFrame) -> pd.DataFrame:
        if adv.empty:
            return pd.DataFrame(columns=[c.split(" ")[0] for c in OUTPUT_SCHEMA.split(", ")])
        local_model = _rebuild(doc)
        roster = pd.DataFrame(
            {
                "advocate_id": adv["advocate_id"].astype("str"),
                "joined_at": _utc(adv["joined_at"]),
                "community_connected_at": _utc(adv["community_connected_at"]),
            }
        )
        activity = pd.DataFrame(
            {
                "advocate_id": ev["advocate_id"].astype("str"),
                "occurred_at": _utc(ev["occurred_at"]),
                "event_type": ev["event_type"].astype("str"),
                "source": ev["source"].astype("str"),
                "value": ev["value"].astype("float64"),
            }
        )
        scored = score_partition(
            activity, roster, as_of, local_model, spec=spec, config=config,
            with_reasons=with_reasons,
        )  # fmt: skip
        scored["reasons"] = scored["reasons"].map(list)
        return scored

    def bucket(frame: Any) -> Any:
        return frame.withColumn("_bucket", F.abs(F.hash("advocate_id")) % buckets)

    ev_sdf = bucket(spark.createDataFrame(_plain(events[EVENT_COLUMNS])))
    adv_sdf = bucket(spark.createDataFrame(_plain(advocates[ROSTER_COLUMNS])))
    scored = (
        ev_sdf.groupBy("_bucket")
        .cogroup(adv_sdf.groupBy("_bucket"))
        .applyInPandas(score_bucket, schema=OUTPUT_SCHEMA)
        .toPandas()
    )
    return finalize(_from_spark(scored), config)


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Categorical text columns (the canonical events' encoding) as plain strings for Spark."""
    out = frame.copy()
    for column in out.columns:
        if isinstance(out[column].dtype, pd.CategoricalDtype):
            out[column] = out[column].astype("str")
    return out


def _from_spark(frame: pd.DataFrame) -> pd.DataFrame:
    """Spark's pandas output back to the local engine's dtypes."""
    out = frame.copy()
    out["advocate_id"] = out["advocate_id"].astype("str")
    out["as_of"] = _utc(out["as_of"])
    for column in ("score", "_noise_n"):
        out[column] = out[column].astype("int64")
    for column in ("trend_30d", "score_30d_ago"):
        out[column] = out[column].astype("Int64")
    for column in ("tier", "momentum", "coverage"):
        out[column] = out[column].astype("str")
    for column in ("at_risk", "active_30d"):
        out[column] = out[column].astype(bool)
    out["probability"] = out["probability"].astype("float64")
    out["_noise_ss"] = out["_noise_ss"].astype("float64")
    out["reasons"] = out["reasons"].map(lambda r: [str(x) for x in (r if r is not None else [])])
    return out.sort_values("advocate_id", ignore_index=True)
