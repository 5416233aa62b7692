"""Slim Embedding Layers: balanced deterministic map, exact partial-product logits, sizes, errors."""
import numpy as np
import pytest
import torch

from lightrnn.config import ModelConfig
from lightrnn.factory import build_model
from lightrnn.slim import SlimEmbedding, SlimOutput, auto_pool_size, balanced_map


def test_map_is_balanced_and_deterministic():
    m = balanced_map(1000, 4, 300, seed=3)
    counts = np.bincount(m.ravel(), minlength=300)
    assert counts.min() == 4000 // 300 and counts.max() == -(-4000 // 300)
    assert np.array_equal(m, balanced_map(1000, 4, 300, seed=3))
    assert not np.array_equal(m, balanced_map(1000, 4, 300, seed=4))


def test_output_logits_equal_materialized_matrix():
    torch.manual_seed(0)
    out = SlimOutput(500, 32, 4, 60, seed=1)
    with torch.no_grad():
        out.bias.normal_()
    h = torch.randn(7, 32)
    ref = h @ out.materialize().T + out.bias  # (N, V) with the full V x h matrix
    assert torch.allclose(out(h), ref, atol=1e-5)
    emb = SlimEmbedding(500, 32, 4, 60, seed=1)
    ids = torch.tensor([[0, 5], [499, 5]])
    assert torch.equal(emb(ids), emb.materialize()[ids])


def test_parameter_count_formula_and_compression():
    V, d, K = 10_000, 200, 4
    M = auto_pool_size(V, K)
    slim = build_model(ModelConfig(model="slim", vocab_size=V, emb_dim=d, hidden_dim=d, slim_parts=K))
    full = build_model(ModelConfig(model="full", vocab_size=V, emb_dim=d, hidden_dim=d))
    assert slim.param_counts()["embed_output"] == M * d // K + M * d // K + V
    assert full.param_counts()["embed_output"] == V * d + V * d + V
    assert full.param_counts()["embed_output"] >= 10 * slim.param_counts()["embed_output"]
    assert slim.param_counts()["total"] - slim.param_counts()["embed_output"] == \
        full.param_counts()["total"] - full.param_counts()["embed_output"]  # the same LSTM


def test_mapping_saved_with_model():
    m = build_model(ModelConfig(model="slim", vocab_size=100, emb_dim=8, hidden_dim=8, slim_parts=2, slim_pool=20))
    sd = m.state_dict()
    assert "body.embedding.mapping" in sd and "decoder.mapping" in sd


@pytest.mark.parametrize("kw,msg", [
    (dict(emb_dim=10, slim_parts=4), "not divisible by slim_parts"),
    (dict(slim_pool=10**6), "exceeds V\\*K"),
    (dict(slim_parts=0), "slim_parts \\(K\\) must be >= 1"),
])
def test_bad_settings(kw, msg):
    cfg = dict(model="slim", vocab_size=100, emb_dim=8, hidden_dim=8, slim_parts=2, slim_pool=20)
    cfg.update(kw)
    with pytest.raises(ValueError, match=msg):
        build_model(ModelConfig(**cfg))


def test_negative_pool_rejected():
    with pytest.raises(ValueError, match="slim_pool \\(M\\) must be >= 1"):
        SlimOutput(100, 8, 2, 0, seed=0)
