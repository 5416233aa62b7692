"""The four language models share one interface; LightRNN's probabilities are exact."""
import math

import pytest
import torch

from lightrnn.config import ModelConfig
from lightrnn.factory import build_model
from lightrnn.model import LightRNN, LightRNNHead
from lightrnn.table import WordTable


def make(kind, V, d=8, h=8, layers=2, table_seed=0, table=None, **kw):
    torch.manual_seed(0)
    cfg = ModelConfig(model=kind, vocab_size=V, emb_dim=d, hidden_dim=h, num_layers=layers, **kw)
    if kind == "lightrnn" and table is None:
        table = WordTable.random(V, table_seed)
    return build_model(cfg, table).double().eval()


def lm_batch(V, T=6, B=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    s = torch.randint(0, V, (T + 1, B), generator=g)
    return s[:-1], s[1:]


def hidden64(m, B):
    return tuple(x.double() for x in m.init_hidden(B))


# a table with a whole empty row: V=10 in 4x4, rows 0..2 full or partly, row 3 empty
EMPTY_ROW_TABLE = WordTable([0, 0, 0, 0, 1, 1, 1, 2, 2, 2], [0, 1, 2, 3, 0, 1, 3, 0, 2, 3], 4, 4)

CASES = [("lightrnn", 10, None), ("lightrnn", 13, None), ("lightrnn", 30, None),
         ("lightrnn", 10, EMPTY_ROW_TABLE), ("full", 30, None), ("adaptive", 30, None), ("slim", 30, None)]


@pytest.mark.parametrize("kind,V,table", CASES)
def test_log_prob_sums_to_one_and_matches_loss(kind, V, table):
    if kind == "slim":
        pytest.importorskip("lightrnn.slim")
    m = make(kind, V, table=table)
    x, y = lm_batch(V)
    h = hidden64(m, 3)
    out = m(x, y, h)
    logp, h2 = m.log_prob(x, h)
    assert logp.shape == (6, 3, V)
    assert torch.allclose(logp.exp().sum(-1), torch.ones(6, 3, dtype=torch.float64), atol=1e-5)
    ref = -logp.gather(-1, y[..., None]).squeeze(-1)
    assert torch.allclose(out.token_nll, ref, atol=1e-9)
    assert out.loss.item() == pytest.approx(ref.mean().item(), abs=1e-9)
    assert torch.allclose(out.hidden[0], h2[0]) and torch.allclose(out.hidden[1], h2[1])


def test_empty_cells_get_no_mass():
    m = make("lightrnn", 10, table=EMPTY_ROW_TABLE)
    x, _ = lm_batch(10)
    logp, _ = m.log_prob(x, hidden64(m, 3))
    assert torch.isfinite(logp).all()  # every word has mass, and the V of them sum to 1 above


@pytest.mark.parametrize("kind", ["lightrnn", "full", "adaptive"])
def test_hidden_carry_split_equals_whole(kind):
    m = make(kind, 30)
    x, y = lm_batch(30, T=8)
    h = hidden64(m, 3)
    whole = m(x, y, h)
    a = m(x[:4], y[:4], h)
    b = m(x[4:], y[4:], a.hidden)
    assert torch.allclose(torch.cat([a.token_nll, b.token_nll]), whole.token_nll, atol=1e-10)


def test_lightrnn_parameter_count():
    V, d, L = 10_000, 200, 2
    m = make("lightrnn", V, d=d, h=d, layers=L)
    s = math.isqrt(V - 1) + 1
    lstm = sum(p.numel() for p in m.lstm.parameters())
    assert lstm == 4 * (d * d + d * d + 2 * d) * L  # (W_ih, W_hh, two biases) per layer
    assert m.param_counts()["embed_output"] == 4 * s * d + 2 * s
    assert m.param_counts()["total"] == 4 * s * d + 2 * s + lstm


def test_set_table_keeps_weights_and_changes_probabilities():
    m = make("lightrnn", 20)
    x, y = lm_batch(20)
    before = {k: v.clone() for k, v in m.state_dict().items()}
    old = m(x, y, hidden64(m, 3)).token_nll
    new_table = WordTable.random(20, seed=99)
    m.set_table(new_table)
    assert all(torch.equal(before[k], v) for k, v in m.state_dict().items())
    assert m.table == new_table
    new = m(x, y, hidden64(m, 3)).token_nll
    assert not torch.allclose(old, new)
    logp, _ = m.log_prob(x, hidden64(m, 3))
    assert torch.allclose(-logp.gather(-1, y[..., None]).squeeze(-1), new, atol=1e-9)
    with pytest.raises(ValueError, match="shape"):
        m.set_table(WordTable.random(20, 0, n_rows=4, n_cols=6))


def test_lightrnn_checks():
    with pytest.raises(ValueError, match="holds 10 words"):
        LightRNN(ModelConfig(vocab_size=11, emb_dim=4, hidden_dim=4), WordTable.random(10, 0))
    with pytest.raises(TypeError, match="WordTable"):
        LightRNNHead(4, "not a table")
    m = make("lightrnn", 10)
    x, y = lm_batch(10)
    with pytest.raises(ValueError, match="target\\[:-1\\] must equal input\\[1:\\]"):
        m(x, torch.flip(y, [0]), hidden64(m, 3))


@pytest.mark.slow  # 3-7 s each alone; far more when the machine is shared
@pytest.mark.parametrize("kind", ["lightrnn", "full", "adaptive", "slim"])
def test_overfits_tiny_sequence(kind):
    if kind == "slim":
        pytest.importorskip("lightrnn.slim")
    torch.manual_seed(0)
    V = 40
    cfg = ModelConfig(model=kind, vocab_size=V, emb_dim=32, hidden_dim=32, num_layers=1,
                      **({"slim_parts": 4, "slim_pool": 64} if kind == "slim" else {}))
    m = build_model(cfg, WordTable.random(V, 1) if kind == "lightrnn" else None)
    data = torch.randint(0, V, (21, 4))
    opt = torch.optim.Adam(m.parameters(), lr=0.03)
    for _ in range(80):
        out = m(data[:-1], data[1:], m.init_hidden(4))
        opt.zero_grad()
        out.loss.backward()
        opt.step()
    assert out.loss.item() < 0.1 * math.log(V)


@pytest.mark.parametrize("kind", ["lightrnn", "full", "adaptive", "slim"])
def test_init_range_draws_every_parameter_uniform(kind):
    torch.manual_seed(0)
    cfg = ModelConfig(model=kind, vocab_size=50, emb_dim=16, hidden_dim=32, init_range=0.3)
    model = build_model(cfg, WordTable.random(50, seed=0) if kind == "lightrnn" else None)
    for name, p in model.named_parameters():
        assert p.abs().max() <= 0.3, name
        assert p.abs().max() > 0.25, name  # PyTorch's own LSTM bound here is 1/sqrt(32) = 0.18; biases start at 0
    with pytest.raises(ValueError, match="init_range"):
        ModelConfig(model=kind, vocab_size=50, init_range=-0.1)
