"""Evaluation on the test window: metrics per candidate and subpopulation, plots, results table.

Every candidate (the model, the baselines, the oracle on simulated data) is judged on the same test
rows. Subpopulations: everybody; the *active* (engaged by the label rule in the 30 days before T),
where telling the fading from the steady matters most; community connected or not at T; and new
advocates (first ``new_tenure_days`` days) versus established ones.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

EPS = 1e-6
#: Metrics where lower is better (the rest: higher is better).
LOWER_IS_BETTER: frozenset[str] = frozenset({"brier", "log_loss", "ece"})
METRICS: tuple[str, ...] = ("roc_auc", "pr_auc", "brier", "log_loss", "ece", "lift_top_decile")
TABLE_METRICS: tuple[tuple[str, str], ...] = (
    ("all", "roc_auc"),
    ("active", "roc_auc"),
    ("all", "pr_auc"),
    ("all", "brier"),
    ("all", "log_loss"),
    ("all", "ece"),
    ("active", "ece"),
    ("all", "lift_top_decile"),
    ("active", "lift_top_decile"),
)


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 20) -> float:
    """Weighted mean |observed rate - mean probability| over equal-width probability bins."""
    y = np.asarray(y, dtype=float)
    p = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
    if len(y) == 0:
        return float("nan")
    idx = np.minimum((p * bins).astype(int), bins - 1)
    count = np.bincount(idx, minlength=bins)
    gap = np.abs(np.bincount(idx, weights=y, minlength=bins) - np.bincount(idx, p, bins))
    return float(gap.sum() / count.sum())


def reliability_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Per equal-width probability bin: mean predicted, observed engaged rate and count.

    The data behind the reliability diagram, small enough to travel in the model's metadata.
    """
    y = np.asarray(y, dtype=float)
    p = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
    idx = np.minimum((p * bins).astype(int), bins - 1)
    count = np.bincount(idx, minlength=bins)
    predicted = np.bincount(idx, weights=p, minlength=bins)
    observed = np.bincount(idx, weights=y, minlength=bins)
    return [
        {
            "bin_mean_predicted": float(predicted[b] / count[b]),
            "observed_rate": float(observed[b] / count[b]),
            "count": int(count[b]),
        }
        for b in range(bins)
        if count[b] > 0
    ]


def lift_top_decile(y: np.ndarray, score: np.ndarray) -> float:
    """Positive rate among the top 10% by score divided by the overall positive rate.

    Ties at the cut are shared pro rata (each tied row counts with the same weight), so the lift of
    a score with many ties (e.g. a tally) does not depend on row order.
    """
    y = np.asarray(y, dtype=float)
    s = np.asarray(score, dtype=float)
    n = len(y)
    if n == 0 or y.mean() == 0:
        return float("nan")
    k = max(1, int(round(0.1 * n)))
    cut = np.sort(s)[::-1][k - 1]
    above = s > cut
    tied = s == cut
    weight_tied = (k - above.sum()) / tied.sum()
    top_rate = (y[above].sum() + weight_tied * y[tied].sum()) / k
    return float(top_rate / y.mean())


def binary_metrics(y: np.ndarray, p: np.ndarray, bins: int = 20) -> dict[str, float]:
    """ROC AUC, PR AUC, Brier, log loss, ECE and top-decile lift of probabilities ``p``."""
    y = np.asarray(y, dtype=int)
    p = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
    out: dict[str, float] = {
        "n": float(len(y)),
        "positive_rate": float(y.mean()) if len(y) else np.nan,
    }
    both = len(np.unique(y)) == 2
    out["roc_auc"] = float(roc_auc_score(y, p)) if both else float("nan")
    out["pr_auc"] = float(average_precision_score(y, p)) if both else float("nan")
    if len(y):
        pc = np.clip(p, EPS, 1 - EPS)
        out["brier"] = float(np.mean((p - y) ** 2))
        out["log_loss"] = float(-np.mean(y * np.log(pc) + (1 - y) * np.log(1 - pc)))
    else:
        out["brier"] = out["log_loss"] = float("nan")
    out["ece"] = expected_calibration_error(y, p, bins)
    out["lift_top_decile"] = lift_top_decile(y, p)
    return out


def subpopulations(
    frame: pd.DataFrame, advocates: pd.DataFrame, new_tenure_days: int = 90
) -> dict[str, np.ndarray]:
    """Row masks of the evaluation subpopulations.

    ``frame`` has ``advocate_id``, ``as_of`` and ``active``.

    ``connected``: community connected at or before T. ``new``: joined less than
    ``new_tenure_days`` days before T.
    """
    roster = advocates.set_index("advocate_id")
    joined = frame["advocate_id"].map(roster["joined_at"])
    if "community_connected_at" in roster.columns:
        connected_at = frame["advocate_id"].map(roster["community_connected_at"])
        connected = (connected_at.notna() & (connected_at <= frame["as_of"])).to_numpy()
    else:
        connected = np.zeros(len(frame), dtype=bool)
    tenure_days = (frame["as_of"] - joined).dt.total_seconds().to_numpy() / 86_400
    new = tenure_days < new_tenure_days
    active = frame["active"].to_numpy(dtype=bool)
    return {
        "all": np.ones(len(frame), dtype=bool),
        "active": active,
        "inactive": ~active,
        "connected": connected,
        "not_connected": ~connected,
        "new": new,
        "established": ~new,
    }


def evaluate_candidates(
    y: np.ndarray,
    probabilities: Mapping[str, np.ndarray],
    populations: Mapping[str, np.ndarray],
    bins: int = 20,
) -> pd.DataFrame:
    """Long table: one row per (candidate, population, metric) with the value."""
    y = np.asarray(y, dtype=int)
    rows = []
    for candidate, p in probabilities.items():
        p = np.asarray(p, dtype=float)
        for population, mask in populations.items():
            for metric, value in binary_metrics(y[mask], p[mask], bins).items():
                rows.append((candidate, population, metric, value))
    return pd.DataFrame(rows, columns=["candidate", "population", "metric", "value"])


def metric_dict(metrics: pd.DataFrame, candidate: str) -> dict[str, float]:
    """``{"population.metric": value}`` for one candidate (the promotion gate's input)."""
    sub = metrics[metrics["candidate"] == candidate]
    return {f"{r.population}.{r.metric}": float(r.value) for r in sub.itertuples()}


def results_table(
    metrics: pd.DataFrame, columns: tuple[tuple[str, str], ...] = TABLE_METRICS
) -> pd.DataFrame:
    """Wide table: candidates as rows, (population, metric) as columns, in candidate order."""
    wide = metrics.pivot_table(
        index="candidate", columns=["population", "metric"], values="value", sort=False
    )
    order = list(dict.fromkeys(metrics["candidate"]))
    out = pd.DataFrame(index=order)
    for population, metric in columns:
        key = (population, metric)
        out[f"{metric} ({population})"] = wide[key].reindex(order) if key in wide else np.nan
    out.index.name = "candidate"
    return out


def _cell(value: float, digits: int) -> str:
    if pd.isna(value):
        return ""
    if float(value).is_integer() and abs(value) >= 10:  # counts
        return f"{int(value):,}"
    return f"{value:.{digits}f}"


def to_markdown(table: pd.DataFrame, digits: int = 3) -> str:
    """A GitHub markdown table (no tabulate dependency)."""
    header = ["candidate", *table.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join([" --- "] * len(header)) + "|"]
    for name, row in table.iterrows():
        cells = [_cell(v, digits) for v in row.to_numpy()]
        lines.append("| " + " | ".join([str(name), *cells]) + " |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- plots


def reliability_figure(y: np.ndarray, probabilities: Mapping[str, np.ndarray], bins: int = 20):
    """Observed engagement rate against mean predicted probability per bin, per candidate."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 6))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect")
    y = np.asarray(y, dtype=float)
    for name, p in probabilities.items():
        p = np.clip(np.asarray(p, dtype=float), 0, 1)
        idx = np.minimum((p * bins).astype(int), bins - 1)
        count = np.bincount(idx, minlength=bins)
        keep = count > 0
        mean_p = np.bincount(idx, p, bins)[keep] / count[keep]
        rate = np.bincount(idx, y, bins)[keep] / count[keep]
        ax.plot(mean_p, rate, marker="o", markersize=3, label=name)
    ax.set_xlabel("predicted probability (score / 100)")
    ax.set_ylabel("observed share engaged in the next 30 days")
    ax.set_title("Reliability on the test window")
    ax.legend(loc="upper left", fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    fig.tight_layout()
    return fig


def lift_figure(y: np.ndarray, probabilities: Mapping[str, np.ndarray], n_bins: int = 10):
    """Observed engagement rate per decile of each candidate's score (decile 1 = highest)."""
    import matplotlib.pyplot as plt

    y = np.asarray(y, dtype=float)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    width = 0.8 / max(1, len(probabilities))
    for i, (name, p) in enumerate(probabilities.items()):
        order = np.argsort(-np.asarray(p, dtype=float), kind="stable")
        chunks = np.array_split(y[order], n_bins)
        rates = [c.mean() / y.mean() if len(c) and y.mean() else np.nan for c in chunks]
        ax.bar(
            np.arange(1, n_bins + 1) + (i - len(probabilities) / 2) * width,
            rates,
            width,
            label=name,
        )
    ax.axhline(1.0, color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("decile of score (1 = highest)")
    ax.set_ylabel("lift (engaged rate / overall rate)")
    ax.set_title("Lift by decile on the test window")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def shap_figure(
    contributions: np.ndarray, X: pd.DataFrame, feature_names: list[str], top: int = 15
):
    """SHAP beeswarm (log-odds contributions) of a sample of test rows."""
    import matplotlib.pyplot as plt
    import shap

    explanation = shap.Explanation(
        values=contributions[:, :-1],
        base_values=contributions[:, -1],
        data=X.loc[:, feature_names].to_numpy(dtype=float),
        feature_names=feature_names,
    )
    plt.figure(figsize=(8, 6))
    shap.plots.beeswarm(explanation, max_display=top, show=False)
    fig = plt.gcf()
    fig.tight_layout()
    return fig
