"""Build any of the four language models from a ModelConfig (and, for LightRNN, a table)."""
from __future__ import annotations

import torch
from torch import nn

from lightrnn.config import ModelConfig
from lightrnn.table import WordTable

__all__ = ["build_model", "param_counts"]


def build_model(config: ModelConfig, table: WordTable | None = None) -> nn.Module:
    """Instantiate ``config.model``: lightrnn (needs ``table``), full, adaptive or slim.

    With ``config.init_range > 0`` every parameter (LSTM weights and biases included) is then
    drawn uniform in +-init_range, as Zaremba et al. (2014) initialise their PTB LSTMs.
    """
    model = _build(config, table)
    if config.init_range > 0:
        with torch.no_grad():
            for p in model.parameters():
                p.uniform_(-config.init_range, config.init_range)
    return model


def _build(config: ModelConfig, table: WordTable | None) -> nn.Module:
    if config.vocab_size < 1:
        raise ValueError("config.vocab_size is not set")
    if config.model == "lightrnn":
        from lightrnn.model import LightRNN

        if table is None:
            raise ValueError("a LightRNN model needs a word table")
        return LightRNN(config, table)
    if config.model == "full":
        from lightrnn.baselines import FullSoftmaxLM

        return FullSoftmaxLM(config)
    if config.model == "adaptive":
        from lightrnn.baselines import AdaptiveSoftmaxLM

        return AdaptiveSoftmaxLM(config)
    if config.model == "slim":
        from lightrnn.slim import SlimLM

        return SlimLM(config)
    raise ValueError(f"unknown model type {config.model!r}")


def param_counts(model: nn.Module) -> dict[str, int]:
    """{"total": all parameters, "embed_output": embedding + output-layer parameters}."""
    return model.param_counts()
