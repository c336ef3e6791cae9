"""Storage registration: our generation nodes, metrics and runners in Ax's JSON and SQL stores.

Importing :mod:`ax_integration` registers the generation nodes in Ax's core JSON registries (which Ax's
SQL store also uses for generation strategies), so ``Client.save_to_json_file`` / ``load_from_json_file``
and SQL storage work without extra arguments. Experiments whose metrics or runner are our
:class:`~ax_integration.metrics.BenchmarkMetric` / :class:`~ax_integration.metrics.BenchmarkRunner` need
:func:`storage_config` (or :func:`registry_bundle`) for SQL storage, as every custom Ax metric does.
"""

from __future__ import annotations

from typing import Any

from ax.api.configs import StorageConfig
from ax.storage.json_store.registry import CORE_DECODER_REGISTRY, CORE_ENCODER_REGISTRY
from ax.storage.metric_registry import CORE_METRIC_REGISTRY
from ax.storage.registry_bundle import RegistryBundle
from ax.storage.runner_registry import CORE_RUNNER_REGISTRY

from ax_integration.metrics import BenchmarkMetric, BenchmarkRunner
from ax_integration.nodes import AcquisitionNode, InitialDesignNode, LocalSearchNode

NODE_CLASSES = (InitialDesignNode, AcquisitionNode, LocalSearchNode)


def node_to_dict(node: Any) -> dict[str, Any]:
    """JSON form of one of our nodes: its constructor arguments (proposals are recomputed from the experiment)."""
    return {"__type": type(node).__name__, **node.init_kwargs()}


def register_nodes() -> None:
    """Add the generation nodes to Ax's core JSON encoder/decoder registries (idempotent)."""
    for cls in NODE_CLASSES:
        CORE_ENCODER_REGISTRY[cls] = node_to_dict
        CORE_DECODER_REGISTRY[cls.__name__] = cls


def registry_bundle() -> RegistryBundle:
    """A registry bundle with our metric and runner, for SQL storage of benchmark experiments."""
    return RegistryBundle(
        metric_clss={**CORE_METRIC_REGISTRY, BenchmarkMetric: None},
        runner_clss={**CORE_RUNNER_REGISTRY, BenchmarkRunner: None},
    )


def storage_config(url: str) -> StorageConfig:
    """An Ax ``StorageConfig`` for ``url`` (``sqlite:///runs.db``, ``postgresql://...``) that knows our classes."""
    return StorageConfig(url=url, registry_bundle=registry_bundle())
