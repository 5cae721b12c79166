"""The EAO model: pure torch (no files, no config parsing)."""

from eao.model.davenet import ResDavenet
from eao.model.eao import EverythingAtOnce, ModelConfig
from eao.model.fusion import FusionBlock, FusionTransformer
from eao.model.layers import GatedEmbeddingUnit

__all__ = [
    "EverythingAtOnce",
    "FusionBlock",
    "FusionTransformer",
    "GatedEmbeddingUnit",
    "ModelConfig",
    "ResDavenet",
]
