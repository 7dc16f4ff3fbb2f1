"""Configuration: YAML files in the stage folders, loaded once into typed, frozen dataclasses.

The defaults live beside the code that uses them: ``features/feature_spec.yaml``,
``training/params.yaml``, ``training/search_space.yaml`` and ``serving/scoring.yaml``. A source
checkout reads them from there; an installed wheel carries copies under
``engagement_score/_defaults``. Loading is explicit (nothing happens at import).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from engagement_score.contract import SOURCES, ContractError

#: Default file name -> stage folder in a source checkout.
DEFAULT_FILES: dict[str, str] = {
    "feature_spec.yaml": "features",
    "params.yaml": "training",
    "search_space.yaml": "training",
    "scoring.yaml": "serving",
}

OTHER_CATEGORY = "other"


def default_config_path(name: str) -> Path:
    """Where the default configuration file ``name`` lives (source checkout first, then wheel)."""
    stage = DEFAULT_FILES[name]
    checkout = Path(__file__).resolve().parents[2] / stage / name
    if checkout.is_file():
        return checkout
    packaged = resources.files("engagement_score") / "_defaults" / name
    return Path(str(packaged))


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read one YAML mapping, with a clear error naming the file when it is not one."""
    path = Path(path)
    if not path.is_file():
        raise ContractError("does not exist or is not a file", file=str(path))
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ContractError(f"is not valid YAML: {exc}", file=str(path)) from None
    if not isinstance(data, dict):
        raise ContractError("must hold a YAML mapping at the top level", file=str(path))
    return data


@dataclass(frozen=True)
class Category:
    """A group of event types with a plain-language name used in reasons."""

    name: str
    description: str
    event_types: tuple[str, ...]


@dataclass(frozen=True)
class FeatureSpec:
    """What the feature pipeline computes: categories of event types, windows and sources."""

    windows: tuple[int, ...]
    categories: tuple[Category, ...]
    sources: tuple[str, ...] = SOURCES
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def category_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.categories)

    def category_of(self, event_type: str) -> str:
        """The category of an event type; unknown types land in ``other``."""
        return self.type_to_category.get(event_type, OTHER_CATEGORY)

    @property
    def type_to_category(self) -> dict[str, str]:
        return {t: c.name for c in self.categories for t in c.event_types}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], file: str = "feature_spec.yaml") -> FeatureSpec:
        try:
            windows = tuple(sorted(int(w) for w in data["windows"]))
            raw_categories = data["categories"]
            categories = [
                Category(
                    name=str(name),
                    description=str(body.get("description", name)),
                    event_types=tuple(str(t) for t in (body.get("event_types") or [])),
                )
                for name, body in raw_categories.items()
            ]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ContractError(f"is not a valid feature spec ({exc!r})", file=file) from None
        if OTHER_CATEGORY not in {c.name for c in categories}:
            categories.append(Category(OTHER_CATEGORY, "other actions", ()))
        seen: dict[str, str] = {}
        for c in categories:
            for t in c.event_types:
                if t in seen:
                    raise ContractError(
                        f"event type {t!r} is in two categories ({seen[t]}, {c.name})", file=file
                    )
                seen[t] = c.name
        if not windows or min(windows) <= 0:
            raise ContractError("windows must be positive numbers of days", file=file)
        sources = tuple(str(s) for s in data.get("sources", SOURCES))
        known = {"windows", "categories", "sources", "version"}
        extra = {k: v for k, v in data.items() if k not in known}
        return cls(windows=windows, categories=tuple(categories), sources=sources, extra=extra)

    @classmethod
    def load(cls, path: str | Path | None = None) -> FeatureSpec:
        path = Path(path) if path else default_config_path("feature_spec.yaml")
        return cls.from_dict(load_yaml(path), file=str(path))


@dataclass(frozen=True)
class LabelConfig:
    """Engaged in ``[T, T + horizon_days)``: at least ``min_events`` qualifying events.

    An event qualifies when its type is not in ``exclude_event_types`` and, if
    ``qualifying_categories`` is not empty, its category is one of them.
    """

    horizon_days: int = 30
    min_events: int = 1
    exclude_event_types: tuple[str, ...] = ("login",)
    qualifying_categories: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LabelConfig:
        return cls(
            horizon_days=int(data.get("horizon_days", 30)),
            min_events=int(data.get("min_events", 1)),
            exclude_event_types=tuple(data.get("exclude_event_types", ("login",)) or ()),
            qualifying_categories=tuple(data.get("qualifying_categories", ()) or ()),
        )

    def qualifying_types_mask(self, event_types: Any, spec: FeatureSpec) -> Any:
        """Boolean mask over an array/Series of event types: which ones qualify."""
        import pandas as pd

        types = pd.Series(event_types)
        mask = ~types.isin(self.exclude_event_types)
        if self.qualifying_categories:
            mask &= types.map(spec.category_of).isin(self.qualifying_categories)
        return mask.to_numpy()
