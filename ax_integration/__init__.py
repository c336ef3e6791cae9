"""Ax integration: NAS generation strategies with DiffusionNAG proposals, benchmark metrics, storage.

Everything that imports Ax lives here; :mod:`bo_diffnag` never does. Importing this package registers our
generation nodes with Ax's JSON/SQL storage.
"""

import logging

# Ax logs "SQL storage initialized" at INFO on import, before anyone can lower its level (``get_logger``
# sets the level itself); a filter on that one logger survives, and keeps every CLI's stdout clean.
logging.getLogger("ax.storage.sqa_store.with_db_settings_base").addFilter(lambda record: record.levelno >= logging.WARNING)

from ax_integration.metrics import BenchmarkMetric, BenchmarkRunner
from ax_integration.nodes import AcquisitionNode, InitialDesignNode, LocalSearchNode
from ax_integration.parameters import arch_to_parameters, parameter_configs, parameters_to_arch
from ax_integration.storage import register_nodes, registry_bundle, storage_config
from ax_integration.strategy import STRATEGIES, nas_generation_strategy

register_nodes()

__all__ = [
    "STRATEGIES",
    "AcquisitionNode",
    "BenchmarkMetric",
    "BenchmarkRunner",
    "InitialDesignNode",
    "LocalSearchNode",
    "arch_to_parameters",
    "nas_generation_strategy",
    "parameter_configs",
    "parameters_to_arch",
    "register_nodes",
    "registry_bundle",
    "storage_config",
]
