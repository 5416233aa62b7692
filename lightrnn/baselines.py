"""Peers of LightRNN with the same interface: a full-softmax LSTM LM and an adaptive-softmax one.

Both read word ids sorted by training frequency (``lightrnn.vocab`` builds them so), which is
what :class:`torch.nn.AdaptiveLogSoftmaxWithLoss` needs for its head/tail split.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lightrnn.config import ModelConfig
from lightrnn.model import Hidden, LMOutput

__all__ = ["LSTMBody", "FullSoftmaxLM", "AdaptiveSoftmaxLM", "auto_cutoffs"]


def auto_cutoffs(vocab_size: int) -> list[int]:
    """Adaptive-softmax cluster edges when none are given.

    The head keeps the most frequent ~20% of words, then two tail clusters split at 60%
    (for V = 10,000: [2000, 6000]). Tiny vocabularies get a single edge in the middle.
    """
    if vocab_size < 3:
        raise ValueError(f"adaptive softmax needs at least 3 words, got {vocab_size}")
    edges = sorted({int(vocab_size * f) for f in (0.2, 0.6)})
    edges = [e for e in edges if 1 <= e < vocab_size - 1]
    return edges or [vocab_size // 2]


class LSTMBody(nn.Module):
    """Word embedding + stacked LSTM shared by the word-level peers.

    Shape: input (T, B) -> output (T, B, H) after dropout, hidden carried.
    """

    def __init__(self, config: ModelConfig, embedding: nn.Module | None = None) -> None:
        super().__init__()
        self.config = config
        d, h, L = config.emb_dim, config.hidden_dim, config.num_layers
        self.embedding = embedding if embedding is not None else nn.Embedding(config.vocab_size, d)
        self.drop = nn.Dropout(config.dropout)
        self.lstm = nn.LSTM(d, h, L, dropout=config.dropout if L > 1 else 0.0)
        if isinstance(self.embedding, nn.Embedding):
            nn.init.uniform_(self.embedding.weight, -0.1, 0.1)

    def init_hidden(self, batch_size: int) -> Hidden:
        w = next(self.lstm.parameters())
        shape = (self.config.num_layers, batch_size, self.config.hidden_dim)
        return (w.new_zeros(shape), w.new_zeros(shape))

    def forward(self, input: Tensor, hidden: Hidden) -> tuple[Tensor, Hidden]:
        x = self.drop(self.embedding(input))  # (T, B, d)
        out, hidden = self.lstm(x, hidden)  # (T, B, H)
        return self.drop(out), hidden


class _WordLM(nn.Module):
    """Shared plumbing: subclasses define ``_token_nll(out (N,H), target (N,))`` and
    ``_log_prob(out (N,H)) -> (N, V)`` and the set of embedding/output modules."""

    body: LSTMBody

    @property
    def vocab_size(self) -> int:
        return self.config.vocab_size

    def init_hidden(self, batch_size: int) -> Hidden:
        return self.body.init_hidden(batch_size)

    def forward(self, input: Tensor, target: Tensor, hidden: Hidden) -> LMOutput:
        if input.shape != target.shape or input.dim() != 2:
            raise ValueError(f"input and target must both be (T, B), got {tuple(input.shape)} and {tuple(target.shape)}")
        T, B = input.shape
        out, hidden = self.body(input, hidden)  # (T, B, H)
        nll = self._token_nll(out.reshape(T * B, -1), target.reshape(-1)).view(T, B)  # (T, B)
        return LMOutput(nll.mean(), nll, hidden)

    def log_prob(self, input: Tensor, hidden: Hidden) -> tuple[Tensor, Hidden]:
        """Exact log P(next word) over the vocabulary: (T, B, V)."""
        T, B = input.shape
        out, hidden = self.body(input, hidden)
        return self._log_prob(out.reshape(T * B, -1)).view(T, B, -1), hidden

    def _embed_output_modules(self) -> list[nn.Module]:
        raise NotImplementedError

    def param_counts(self) -> dict[str, int]:
        total = sum(p.numel() for p in self.parameters())
        emb_out = sum(p.numel() for m in self._embed_output_modules() for p in m.parameters())
        return {"total": total, "embed_output": emb_out}


class FullSoftmaxLM(_WordLM):
    """LSTM LM with a full V-way softmax (Zaremba et al. 2014 style).

    Shape: input, target (T, B); ``log_prob`` (T, B, V).
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        if config.vocab_size < 1:
            raise ValueError(f"vocab_size must be >= 1, got {config.vocab_size}")
        self.config = config
        self.body = LSTMBody(config)
        self.decoder = nn.Linear(config.hidden_dim, config.vocab_size)
        nn.init.uniform_(self.decoder.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)

    def _token_nll(self, out: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(self.decoder(out), target, reduction="none")

    def _log_prob(self, out: Tensor) -> Tensor:
        return F.log_softmax(self.decoder(out), dim=-1)

    def _embed_output_modules(self) -> list[nn.Module]:
        return [self.body.embedding, self.decoder]


class AdaptiveSoftmaxLM(_WordLM):
    """LSTM LM with :class:`torch.nn.AdaptiveLogSoftmaxWithLoss` (Grave et al. 2017).

    Word ids must be sorted by frequency. Cutoffs from ``config.adaptive_cutoffs`` or
    :func:`auto_cutoffs`.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        cutoffs = list(config.adaptive_cutoffs) or auto_cutoffs(config.vocab_size)
        V = config.vocab_size
        if any(not 0 < c < V for c in cutoffs) or cutoffs != sorted(set(cutoffs)):
            raise ValueError(f"adaptive_cutoffs {cutoffs} must be strictly increasing and each in [1, {V - 1}] "
                             f"(vocab_size={V})")
        self.cutoffs = cutoffs
        self.body = LSTMBody(config)
        self.asm = nn.AdaptiveLogSoftmaxWithLoss(config.hidden_dim, config.vocab_size, cutoffs,
                                                 div_value=config.adaptive_div_value)

    def _token_nll(self, out: Tensor, target: Tensor) -> Tensor:
        return -self.asm(out, target).output  # (N,) exact -log P(target)

    def _log_prob(self, out: Tensor) -> Tensor:
        return self.asm.log_prob(out)

    def _embed_output_modules(self) -> list[nn.Module]:
        return [self.body.embedding, self.asm]
