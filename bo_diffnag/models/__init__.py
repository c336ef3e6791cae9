"""Trainable networks for the search spaces: NB201 cells in the NB201 skeleton, OFA MobileNetV3 subnets, and
zero-cost proxies computed from them."""

from bo_diffnag.models.mbv3 import MobileNetV3Network
from bo_diffnag.models.nb201 import NB201Network
from bo_diffnag.models.networks import MODELS, OP_PARAMETER_COUNTS, build_model
from bo_diffnag.models.proxies import (
    PROXIES,
    SYNFLOW_INPUT_SHAPES,
    architecture_synflow,
    pairwise_mask,
    parameter_count_weights,
    proxy_value,
    synflow,
    synflow_pairwise_weights,
    synflow_weights,
)

__all__ = [
    "MODELS",
    "OP_PARAMETER_COUNTS",
    "PROXIES",
    "SYNFLOW_INPUT_SHAPES",
    "MobileNetV3Network",
    "NB201Network",
    "architecture_synflow",
    "build_model",
    "pairwise_mask",
    "parameter_count_weights",
    "proxy_value",
    "synflow",
    "synflow_pairwise_weights",
    "synflow_weights",
]
