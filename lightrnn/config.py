"""The typed configs: ``ModelConfig`` (the architecture, saved in every checkpoint and read back on
load) and ``TrainConfig`` (one training round), with the allowed values of their choice fields.

The architecture of a checkpoint is rebuilt from its ModelConfig alone (``build_model(config)``).
Each field's ``metadata["help"]`` is its ``lightrnn train --field-name`` help; ``"choices"``, where
present, the values the flag accepts.
"""
from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field

__all__ = ["MODEL_TYPES", "OPTIMIZERS", "DEVICE_PATTERN", "DEVICES", "OPERATIONAL_TRAIN_KEYS", "DictConfig",
           "ModelConfig", "TrainConfig"]

MODEL_TYPES = ("lightrnn", "full", "adaptive", "slim")
OPTIMIZERS = ("sgd", "adam")
# Device names a run accepts (config/schema.yaml's pattern for train.device and realloc.device).
DEVICE_PATTERN = r"auto|cpu|cuda(:[0-9]+)?"


class _DeviceNames(tuple):
    """The ``choices`` of a device flag: the names listed, and ``cuda:N`` for every N."""

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and re.fullmatch(DEVICE_PATTERN, name) is not None


DEVICES = _DeviceNames(("auto", "cpu", "cuda", "cuda:N"))

# TrainConfig keys that change how a run goes, not its results: the workflow passes them to
# `lightrnn train` but leaves them out of the job's params (changing one reruns nothing), and a
# resumed run may give them other values.
OPERATIONAL_TRAIN_KEYS = ("num_threads", "checkpoint_every", "log_interval")


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
    model: str = field(default="lightrnn", metadata={
        "help": "which language model: lightrnn | full | adaptive | slim", "choices": MODEL_TYPES})
    vocab_size: int = field(default=0, metadata={
        "help": "V: words including <unk> and <eos>; set from the vocabulary"})
    emb_dim: int = field(default=200, metadata={
        "help": "d: input embedding width (LightRNN: width of row and column vectors)"})
    hidden_dim: int = field(default=200, metadata={
        "help": "h: LSTM width, also the width the output heads read"})
    num_layers: int = field(default=2, metadata={"help": "stacked LSTM layers"})
    dropout: float = field(default=0.0, metadata={
        "help": "dropout on embeddings, between LSTM layers and before the output"})
    init_range: float = field(default=0.1, metadata={
        "help": "> 0: every parameter uniform in +-init_range at creation (Zaremba et al. 2014: 0.1); "
                "0: each model's own"})
    table_rows: int = field(default=0, metadata={"help": "LightRNN R; 0 means ceil(sqrt(V))"})
    table_cols: int = field(default=0, metadata={"help": "LightRNN C; 0 means ceil(sqrt(V))"})
    adaptive_cutoffs: list[int] = field(default_factory=list, metadata={
        "help": "adaptive softmax cluster edges; [] = automatic"})
    adaptive_div_value: float = field(default=4.0, metadata={
        "help": "adaptive softmax: each tail cluster is this much narrower"})
    slim_parts: int = field(default=4, metadata={
        "help": "Slim: K, parts each embedding vector is cut into (d % K == 0)"})
    slim_pool: int = field(default=0, metadata={"help": "Slim: M, shared sub-vectors per layer; 0 means automatic"})
    slim_input: bool = field(default=True, metadata={"help": "Slim: compress the input embedding"})
    slim_output: bool = field(default=True, metadata={"help": "Slim: compress the output layer"})
    slim_seed: int = field(default=0, metadata={
        "help": "Slim: seed of the fixed random balanced word-part -> sub-vector map"})

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


@dataclass
class TrainConfig(DictConfig):
    batch_size: int = field(default=20, metadata={"help": "B: parallel streams of the training text"})
    bptt: int = field(default=20, metadata={
        "help": "T: truncated back-propagation length (tokens per batch per stream)"})
    epochs: float = field(default=1.0, metadata={
        "help": "epochs in this run (one bootstrap round); a fraction ends it mid-epoch, e.g. 0.25"})
    optimizer: str = field(default="sgd", metadata={
        "help": "sgd | adam (the published LightRNN code uses Adam)", "choices": OPTIMIZERS})
    lr: float = field(default=20.0, metadata={
        "help": "initial learning rate (ignored when carry_lr takes the previous round's); 20 on this "
                "per-token mean = Zaremba's 1 on the loss summed over 20 steps"})
    lr_decay: float = field(default=0.5, metadata={"help": "factor applied to the learning rate when it decays"})
    lr_decay_start: int = field(default=4, metadata={
        "help": "0: decay when validation loss stops improving; N: decay after every epoch > N (Zaremba)"})
    min_lr: float = field(default=0.0, metadata={"help": "the learning rate never decays below this"})
    clip: float = field(default=0.25, metadata={
        "help": "clip the global gradient norm to this (0 = off); Zaremba's 5 on the summed loss"})
    weight_decay: float = field(default=0.0, metadata={"help": "L2 penalty passed to the optimizer"})
    seed: int = field(default=1, metadata={"help": "seeds weights, dropout and everything random in training"})
    device: str = field(default="auto", metadata={
        "help": "auto (cuda if available, else cpu) | cpu | cuda | cuda:N", "choices": DEVICES})
    checkpoint_every: int = field(default=0, metadata={
        "help": "save a resumable checkpoint every N steps (0 = only at the end)"})
    log_interval: int = field(default=200, metadata={"help": "steps between log lines"})
    eval_batch_size: int = field(default=10, metadata={"help": "streams used for validation / test perplexity"})
    valid_every: int = field(default=0, metadata={
        "help": "also validate every N steps inside an epoch, a metrics row each (0 = at epoch and round ends "
                "only); the learning-rate schedule still reads only the epoch-end validation"})
    max_steps: int = field(default=0, metadata={
        "help": "stop after this many steps in this run (0 = no limit; for tests and smoke runs)"})
    reset_optimizer: bool = field(default=True, metadata={
        "help": "fresh optimizer each round (published code); False carries its state"})
    carry_lr: bool = field(default=True, metadata={
        "help": "start a round from the previous round's lr, epoch counter and place in the data"})
    num_threads: int = field(default=0, metadata={"help": "torch CPU threads (0 = torch's default)"})

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be 'sgd' or 'adam', got {self.optimizer!r}")
        for name in ("batch_size", "bptt", "eval_batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("epochs", "checkpoint_every", "max_steps", "lr_decay_start", "num_threads", "valid_every"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if not 0 < self.lr_decay <= 1:
            raise ValueError(f"lr_decay must be in (0, 1], got {self.lr_decay}")
