"""LightRNN (Li et al., NIPS 2016) and Slim Embedding Layers (Li et al., AAAI 2018) in PyTorch.

Importing ``lightrnn`` is cheap: it loads neither torch nor the C++ solver. Submodules do:
``lightrnn.assign`` (the solver, numpy only), ``lightrnn.model`` (torch), ...
"""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "load"]


def load(path, map_location="cpu"):
    """Load a trained model with its vocabulary and table from a run's checkpoint.

    See :func:`lightrnn.infer.load`; imported lazily so that ``import lightrnn`` stays torch-free.
    """
    from lightrnn.infer import load as _load

    return _load(path, map_location=map_location)
