"""Features stage: point-in-time per-advocate activity features (see ``features/README.md``)."""

from engagement_score.features.build import (
    FeatureDescription,
    build_features,
    build_features_partition,
    feature_columns,
    feature_descriptions,
    iter_features,
)

__all__ = [
    "FeatureDescription",
    "build_features",
    "build_features_partition",
    "feature_columns",
    "feature_descriptions",
    "iter_features",
]
