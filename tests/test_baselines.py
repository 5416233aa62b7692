"""Full-softmax and adaptive-softmax peers: cutoffs, exact per-token NLL, parameter counts, factory."""
import pytest
import torch

from lightrnn.baselines import AdaptiveSoftmaxLM, FullSoftmaxLM, auto_cutoffs
from lightrnn.config import ModelConfig
from lightrnn.factory import build_model, param_counts
from lightrnn.table import WordTable


def lstm_params(d, h, L):
    # per layer: W_ih (4h, in), W_hh (4h, h), b_ih and b_hh (4h each); layer 0 reads d, the rest h
    return sum(4 * h * ((d if l == 0 else h) + h + 2) for l in range(L))


@pytest.mark.parametrize("V,expected", [(10_000, [2000, 6000]), (100, [20, 60]), (3, [1]), (5, [1, 3])])
def test_auto_cutoffs_rule(V, expected):
    assert auto_cutoffs(V) == expected
    torch.nn.AdaptiveLogSoftmaxWithLoss(4, V, auto_cutoffs(V))  # accepted by torch


def test_auto_cutoffs_too_small():
    with pytest.raises(ValueError, match="at least 3 words, got 2"):
        auto_cutoffs(2)


@pytest.mark.parametrize("cutoffs", [[0, 5], [5, 5], [8, 3], [10]])
def test_bad_cutoffs_named(cutoffs):
    with pytest.raises(ValueError, match=r"adaptive_cutoffs \[.*\(vocab_size=10\)"):
        AdaptiveSoftmaxLM(ModelConfig(model="adaptive", vocab_size=10, emb_dim=4, hidden_dim=4,
                                      adaptive_cutoffs=cutoffs))


def test_full_softmax_parameter_count():
    V, d, h, L = 37, 6, 10, 2
    m = FullSoftmaxLM(ModelConfig(model="full", vocab_size=V, emb_dim=d, hidden_dim=h, num_layers=L))
    emb_out = V * d + V * h + V  # embedding, output weight, output bias
    assert param_counts(m) == {"total": emb_out + lstm_params(d, h, L), "embed_output": emb_out}


def test_adaptive_parameter_count():
    V, d, h, L = 100, 6, 16, 1
    m = AdaptiveSoftmaxLM(ModelConfig(model="adaptive", vocab_size=V, emb_dim=d, hidden_dim=h, num_layers=L,
                                      adaptive_cutoffs=[20, 60], adaptive_div_value=4.0))
    # head: h -> 20 shortlist + 2 cluster logits, no bias; tail i: h -> h/4^(i+1) -> cluster size
    head = h * (20 + 2)
    tails = (h * 4 + 4 * 40) + (h * 1 + 1 * 40)
    emb_out = V * d + head + tails
    assert param_counts(m) == {"total": emb_out + lstm_params(d, h, L), "embed_output": emb_out}


def test_adaptive_token_nll_is_exact_per_token():
    torch.manual_seed(0)
    V = 50
    m = AdaptiveSoftmaxLM(ModelConfig(model="adaptive", vocab_size=V, emb_dim=8, hidden_dim=8,
                                      adaptive_cutoffs=[5, 20])).double().eval()
    s = torch.randint(0, V, (7, 3))
    x, y = s[:-1], s[1:]
    hid = tuple(t.double() for t in m.init_hidden(3))
    out = m(x, y, hid)
    logp, _ = m.log_prob(x, hid)
    want = -logp.gather(-1, y[..., None]).squeeze(-1)  # (T, B)
    assert out.token_nll.shape == y.shape
    assert torch.allclose(out.token_nll, want, atol=1e-10)
    # the tails really are used: some targets fall in each cluster
    assert (y >= 20).any() and ((y >= 5) & (y < 20)).any()


def test_factory_errors():
    cfg = ModelConfig(model="lightrnn", vocab_size=10, emb_dim=4, hidden_dim=4)
    with pytest.raises(ValueError, match="needs a word table"):
        build_model(cfg)
    with pytest.raises(ValueError, match="table shape"):
        build_model(cfg, WordTable.random(10, 0, n_rows=2, n_cols=5))
    with pytest.raises(ValueError, match="holds 12 words"):
        build_model(cfg, WordTable.random(12, 0))
    with pytest.raises(ValueError, match="vocab_size is not set"):
        build_model(ModelConfig(model="full"))
    with pytest.raises(ValueError, match="model must be one of"):
        ModelConfig(model="transformer", vocab_size=10)


@pytest.mark.parametrize("kind", ["full", "adaptive", "slim", "lightrnn"])
def test_factory_builds_each_kind(kind):
    cfg = ModelConfig(model=kind, vocab_size=20, emb_dim=4, hidden_dim=4, num_layers=1)
    m = build_model(cfg, WordTable.random(20, 0) if kind == "lightrnn" else None)
    assert m.vocab_size == 20 and set(param_counts(m)) == {"total", "embed_output"}
