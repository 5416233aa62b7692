"""Model configuration: one typed dataclass, saved in every checkpoint, read back on load.

The architecture of a checkpoint is rebuilt from this config alone (``build_model(config)``).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

MODEL_TYPES = ("lightrnn", "full", "adaptive", "slim")


class DictConfig:
    """to_dict / from_dict for the config dataclasses (checkpoints store configs as plain dicts)."""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict):
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown {cls.__name__} keys: {sorted(unknown)}")
        return cls(**d)


@dataclass
class ModelConfig(DictConfig):
    model: str = "lightrnn"  # which language model: lightrnn | full | adaptive | slim
    vocab_size: int = 0  # V: words including <unk> and <eos>; set from the vocabulary
    emb_dim: int = 200  # d: input embedding width (LightRNN: width of row and column vectors)
    hidden_dim: int = 200  # h: LSTM width, also the width the output heads read
    num_layers: int = 2  # stacked LSTM layers
    dropout: float = 0.0  # dropout on embeddings, between LSTM layers and before the output
    init_range: float = 0.1  # > 0: every parameter uniform in +-init_range at creation (Zaremba et al. 2014: 0.1); 0: each model's own
    table_rows: int = 0  # LightRNN R; 0 means ceil(sqrt(V))
    table_cols: int = 0  # LightRNN C; 0 means ceil(sqrt(V))
    adaptive_cutoffs: list[int] = field(default_factory=list)  # adaptive softmax cluster edges; [] = automatic
    adaptive_div_value: float = 4.0  # adaptive softmax: each tail cluster is this much narrower
    slim_parts: int = 4  # Slim: K, parts each embedding vector is cut into (d % K == 0)
    slim_pool: int = 0  # Slim: M, shared sub-vectors per layer; 0 means automatic
    slim_input: bool = True  # Slim: compress the input embedding
    slim_output: bool = True  # Slim: compress the output layer
    slim_seed: int = 0  # Slim: seed of the fixed random balanced word-part -> sub-vector map

    def __post_init__(self) -> None:
        if self.model not in MODEL_TYPES:
            raise ValueError(f"model must be one of {MODEL_TYPES}, got {self.model!r}")
        for name in ("emb_dim", "hidden_dim", "num_layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.init_range >= 0.0:
            raise ValueError(f"init_range must be >= 0, got {self.init_range}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        self.adaptive_cutoffs = [int(c) for c in self.adaptive_cutoffs]

    @property
    def side(self) -> int:
        """ceil(sqrt(V)): the default table side."""
        return math.isqrt(self.vocab_size - 1) + 1 if self.vocab_size > 0 else 0

    @property
    def rows(self) -> int:
        return self.table_rows or self.side

    @property
    def cols(self) -> int:
        return self.table_cols or self.side
