"""Slim Embedding Layers (Li, Kulhanek, Wang, Zhao, Wu, AAAI 2018, arXiv:1711.09873).

Each word's d-dimensional vector is cut into K parts of d/K; each part is one of M shared
sub-vectors. The word-part -> sub-vector map is fixed before training, random (seeded) and
balanced (every sub-vector serves floor or ceil of V*K/M word-parts: the ids are listed equally
often and shuffled, as in the paper's Algorithm 1); only the M sub-vectors train. Parameters
M*d/K instead of V*d.

The output layer never forms the V x d matrix: it splits the hidden state into K parts, takes
the K*M partial dot products with the pool once per step, and each word's logit is the sum of the
K partials its map names (plus a per-word bias).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from lightrnn.baselines import LSTMBody, _WordLM
from lightrnn.config import ModelConfig

__all__ = ["balanced_map", "auto_pool_size", "SlimEmbedding", "SlimOutput", "SlimLM"]


def balanced_map(vocab_size: int, parts: int, pool: int, seed: int) -> np.ndarray:
    """(V, K) int64: sub-vector id of each word-part; each id used floor/ceil(V*K/M) times."""
    ids = np.arange(vocab_size * parts, dtype=np.int64) % pool
    np.random.default_rng(seed).shuffle(ids)
    return ids.reshape(vocab_size, parts)


def auto_pool_size(vocab_size: int, parts: int) -> int:
    """M when not given: V*K/20, so the compressed layers hold ~20x fewer parameters."""
    return max(1, min(vocab_size * parts, (vocab_size * parts) // 20))


def _check(vocab_size: int, dim: int, parts: int, pool: int, what: str) -> None:
    if parts < 1:
        raise ValueError(f"slim_parts (K) must be >= 1, got {parts}")
    if pool < 1:
        raise ValueError(f"slim_pool (M) must be >= 1, got {pool}")
    if dim % parts != 0:
        raise ValueError(f"{what} {dim} is not divisible by slim_parts K={parts}")
    if pool > vocab_size * parts:
        raise ValueError(f"slim_pool M={pool} exceeds V*K={vocab_size * parts} word-parts: nothing would be shared")


class SlimEmbedding(nn.Module):
    """Embedding whose vectors are K concatenated sub-vectors from a shared pool of M.

    Shape: input (*) ids -> output (*, dim).
    """

    def __init__(self, vocab_size: int, dim: int, parts: int, pool: int, seed: int) -> None:
        super().__init__()
        _check(vocab_size, dim, parts, pool, "embedding width d")
        self.vocab_size, self.dim, self.parts, self.pool_size = vocab_size, dim, parts, pool
        self.pool = nn.Parameter(torch.empty(pool, dim // parts).uniform_(-0.1, 0.1))  # (M, d/K)
        self.register_buffer("mapping", torch.from_numpy(balanced_map(vocab_size, parts, pool, seed)))  # (V, K)

    def forward(self, input: Tensor) -> Tensor:
        sub = self.pool[self.mapping[input]]  # (*, K, d/K)
        return sub.reshape(*input.shape, self.dim)  # (*, d)

    def materialize(self) -> Tensor:
        """(V, d): the full matrix the pool stands for (for tests and inspection only)."""
        return self.pool[self.mapping].reshape(self.vocab_size, self.dim)


class SlimOutput(nn.Module):
    """Output layer with slim word vectors: logits from K*M partial dot products.

    Shape: hidden (N, h) -> logits (N, V).
    """

    def __init__(self, vocab_size: int, in_features: int, parts: int, pool: int, seed: int) -> None:
        super().__init__()
        _check(vocab_size, in_features, parts, pool, "hidden width h")
        self.vocab_size, self.in_features, self.parts, self.pool_size = vocab_size, in_features, parts, pool
        self.pool = nn.Parameter(torch.empty(pool, in_features // parts).uniform_(-0.1, 0.1))  # (M, h/K)
        self.bias = nn.Parameter(torch.zeros(vocab_size))  # (V,)
        self.register_buffer("mapping", torch.from_numpy(balanced_map(vocab_size, parts, pool, seed)))  # (V, K)

    def forward(self, hidden: Tensor) -> Tensor:
        N = hidden.shape[0]
        h = hidden.view(N, self.parts, -1)  # (N, K, h/K)
        partial = torch.einsum("nkd,md->nkm", h, self.pool)  # (N, K, M): every part x every sub-vector
        logits = self.bias.expand(N, -1)
        for k in range(self.parts):  # K gathers of (N, V): never the V x h matrix
            logits = logits + partial[:, k, :].index_select(1, self.mapping[:, k])
        return logits  # (N, V)

    def materialize(self) -> Tensor:
        """(V, h) word vectors the pool stands for (tests only)."""
        return self.pool[self.mapping].reshape(self.vocab_size, self.in_features)


class SlimLM(_WordLM):
    """LSTM LM with slim input embedding and/or slim output layer (``config.slim_*``).

    Shape: input, target (T, B); ``log_prob`` (T, B, V).
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        V, K = config.vocab_size, config.slim_parts
        M = config.slim_pool or auto_pool_size(V, K)
        self.pool_size = M
        emb = SlimEmbedding(V, config.emb_dim, K, M, config.slim_seed) if config.slim_input else None
        self.body = LSTMBody(config, embedding=emb)
        if config.slim_output:
            self.decoder = SlimOutput(V, config.hidden_dim, K, M, config.slim_seed + 1)
        else:
            self.decoder = nn.Linear(config.hidden_dim, V)

    def _token_nll(self, out: Tensor, target: Tensor) -> Tensor:
        return nn.functional.cross_entropy(self.decoder(out), target, reduction="none")

    def _log_prob(self, out: Tensor) -> Tensor:
        return nn.functional.log_softmax(self.decoder(out), dim=-1)

    def _embed_output_modules(self) -> list[nn.Module]:
        return [self.body.embedding, self.decoder]
