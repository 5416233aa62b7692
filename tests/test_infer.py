"""Inference: load, scoring = evaluate, exact top-k/top-p = brute force, sampling = log_prob."""
import json
import math

import numpy as np
import pytest
import torch

from lightrnn import checkpoint as ck
from lightrnn.cli import main
from lightrnn.config import ModelConfig
from lightrnn.factory import build_model
from lightrnn.infer import TrainedModel, lightrnn_top_many, load
from lightrnn.table import WordTable
from lightrnn.train import evaluate
from lightrnn.vocab import Vocab

# a 37-word vocabulary in a non-square 5 x 9 table (8 empty cells)
V_SMALL = 37
# V=10 in 4x4 with a whole empty row (row 3) and empty cells in the others
EMPTY_ROW_TABLE = WordTable([0, 0, 0, 0, 1, 1, 1, 2, 2, 2], [0, 1, 2, 3, 0, 1, 3, 0, 2, 3], 4, 4)


def words_for(V):
    return [f"w{i}" for i in range(V - 2)] + ["<unk>", "<eos>"]


def make_tm(kind, V=V_SMALL, table=None, scale=1.0, seed=0, double=True, **kw):
    """A random model wrapped for inference; ``scale`` widens the weights (peaked distributions)."""
    torch.manual_seed(seed)
    cfg = ModelConfig(model=kind, vocab_size=V, emb_dim=8, hidden_dim=8, num_layers=2, **kw)
    if kind == "lightrnn" and table is None:
        table = WordTable.random(V, seed, cfg.rows, cfg.cols)
    m = build_model(cfg, table)
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(0, scale)
    if double:
        m = m.double()
    return TrainedModel(m, Vocab(words_for(V), np.zeros(V, dtype=np.int64)))


@torch.no_grad()
def brute_top(tm, context, k=None, p=None):
    """Top words by scanning every word's log-prob from model.log_prob."""
    ids, _ = tm.encode(context)
    seq = torch.tensor([tm.vocab.eos_id] + ids)[:, None]  # (T, 1)
    logp, _ = tm.model.log_prob(seq, tm.model.init_hidden(1))
    return logp[-1, 0]  # (V,)


def assert_exact_top(res, logp, k=None, p=None, tol=1e-9):
    """``res`` holds the k (or nucleus) best words of ``logp`` (ties within tol allowed)."""
    ref, _ = torch.sort(logp, descending=True)
    m = res.logp.numel()
    if k is not None and p is None:
        assert m == min(k, logp.numel())
    if p is not None:
        mass = ref.exp().cumsum(0)
        want = int((mass < p - tol).sum()) + 1
        assert m in (want, want + 1) or m == k  # a boundary tie may add one word
    assert torch.allclose(res.logp, ref[:m], atol=tol)
    assert torch.allclose(logp[res.ids], res.logp, atol=tol)  # each word carries its own probability
    assert len(set(res.ids.tolist())) == m


CASES = [("lightrnn", dict(table_rows=5, table_cols=9)), ("lightrnn", dict(table_rows=9, table_cols=5)),
         ("full", {}), ("adaptive", {}), ("slim", dict(slim_parts=2, slim_pool=10))]


@pytest.mark.parametrize("kind,kw", CASES)
@pytest.mark.parametrize("k", [1, 5, 10, V_SMALL])
def test_exact_top_k_equals_brute_force(kind, kw, k):
    for seed in range(3):
        tm = make_tm(kind, seed=seed, **kw)
        for context in ("", "w1", "w3 w7 w2 w30"):
            h, last, _ = tm.context_state(context)
            assert_exact_top(tm.top(h, last, k=k), brute_top(tm, context), k=k)


def test_exact_top_k_with_an_empty_row():
    tm = make_tm("lightrnn", V=10, table=EMPTY_ROW_TABLE, table_rows=4, table_cols=4)
    h, last, _ = tm.context_state("w1 w2")
    for k in (1, 3, 10, 50):
        res = tm.top(h, last, k=k)
        assert_exact_top(res, brute_top(tm, "w1 w2"), k=k)
    assert res.rows_total == 3  # the empty row is never fed


@pytest.mark.parametrize("kind,kw", CASES)
def test_exact_top_p_equals_brute_force(kind, kw):
    tm = make_tm(kind, scale=2.0, **kw)
    for context in ("", "w4 w5"):
        h, last, _ = tm.context_state(context)
        logp = brute_top(tm, context)
        for p in (0.05, 0.5, 0.9, 0.999):
            assert_exact_top(tm.top(h, last, p=p), logp, p=p)
            res = tm.top(h, last, k=3, p=p)
            assert res.logp.numel() <= 3
            assert_exact_top(res, logp, k=3, p=p)


def test_top_k_prunes_rows_when_rows_are_peaked():
    # 400 words in 20 x 20; a strong row bias concentrates P_r on a few rows
    tm = make_tm("lightrnn", V=400, seed=1)
    with torch.no_grad():
        tm.model.head.row_proj.bias.copy_(torch.linspace(12, 0, 20, dtype=torch.float64))
    h, last, _ = tm.context_state("w1 w2")
    res = tm.top(h, last, k=10)
    assert_exact_top(res, brute_top(tm, "w1 w2"), k=10)
    assert res.rows_evaluated < res.rows_total == 20


@pytest.mark.parametrize("first_rows,max_rows", [(1, None), (3, 2), (8, None), (1, 1)])
def test_batched_search_over_many_states_equals_brute_force(first_rows, max_rows):
    # 400 words in 16 x 25 (non-square): several batches, states finishing at different times
    tm = make_tm("lightrnn", V=400, seed=4, scale=0.7, table_rows=16, table_cols=25)
    B = 5
    seq = torch.randint(0, 398, (6, B), generator=torch.Generator().manual_seed(0))  # (T, B)
    with torch.no_grad():
        logp, _ = tm.model.log_prob(seq, tm.model.init_hidden(B))  # (T, B, V)
        hidden = tm.model(seq[:-1], seq[1:], tm.model.init_hidden(B)).hidden
        after = tm._after_last(hidden, seq[-1])
    for k, p in ((1, None), (10, None), (60, None), (None, 0.3), (None, 0.9), (20, 0.5)):
        got = lightrnn_top_many(tm.model, after, k, p, first_rows=first_rows, max_rows=max_rows)
        for b in range(B):
            assert_exact_top(got[b], logp[-1, b], k=k, p=p)
            assert got[b].rows_total == 16


@torch.no_grad()
def _pair_probs(tm, context):
    """Exact P(w1, w2 | context) (V, V) from model.log_prob."""
    V = len(tm.vocab)
    ids, _ = tm.encode(context)
    prefix = torch.tensor([tm.vocab.eos_id] + ids)[:, None].expand(-1, V)  # (T, V)
    seq = torch.cat([prefix, torch.arange(V)[None]], 0)  # (T + 1, V): column j ends with w1 = j
    logp, _ = tm.model.log_prob(seq, tm.model.init_hidden(V))  # (T + 1, V, V)
    return (logp[-2, 0][:, None] + logp[-1]).exp()  # P(w1) P(w2 | w1)


def _chi2_pvalue(counts, probs):
    from scipy.stats import chisquare

    counts, expected = np.asarray(counts, float), np.asarray(probs, float) * np.sum(counts)
    small = expected < 5  # pool the rare cells into one
    obs = np.append(counts[~small], counts[small].sum())
    exp = np.append(expected[~small], expected[small].sum())
    keep = exp > 0
    return chisquare(obs[keep], exp[keep] * obs[keep].sum() / exp[keep].sum()).pvalue


@pytest.mark.parametrize("kind,table", [("lightrnn", WordTable.random(7, 3, 3, 3)), ("full", None)])
def test_sampling_matches_log_prob(kind, table):
    tm = make_tm(kind, V=7, table=table, scale=1.5, seed=2, double=False,
                 **(dict(table_rows=3, table_cols=3) if table is not None else {}))
    n = 30_000
    samples = tm.generate("w1", max_tokens=2, num_samples=n, seed=5, stop_at_eos=False)
    ids = np.array([[tm.vocab.index[w] for w in s] for s in samples])  # (n, 2)
    counts = np.bincount(ids[:, 0] * 7 + ids[:, 1], minlength=49)
    probs = _pair_probs(tm, "w1").double().numpy().reshape(-1)
    assert probs.sum() == pytest.approx(1.0, abs=1e-5)
    assert _chi2_pvalue(counts, probs) > 1e-3
    # the test has power: the same counts reject a slightly different model
    other = _pair_probs(make_tm(kind, V=7, table=table, scale=1.5, seed=3, double=False,
                                **(dict(table_rows=3, table_cols=3) if table is not None else {})), "w1")
    assert _chi2_pvalue(counts, other.double().numpy().reshape(-1)) < 1e-6
    tv = 0.5 * np.abs(counts / n - probs).sum()
    assert tv < 0.02


def test_top_k_sampling_is_renormalised_top_k():
    tm = make_tm("lightrnn", V=V_SMALL, scale=1.5, double=False, table_rows=5, table_cols=9)
    n = 20_000
    samples = tm.generate("w2", max_tokens=1, num_samples=n, seed=1, top_k=4, temperature=0.5, stop_at_eos=False)
    counts = np.bincount([tm.vocab.index[s[0]] for s in samples], minlength=V_SMALL)
    logp = brute_top(tm, "w2").double()
    top = torch.topk(logp, 4).indices
    probs = np.zeros(V_SMALL)
    probs[top.numpy()] = torch.softmax(logp[top] / 0.5, 0).numpy()
    assert counts[probs == 0].sum() == 0
    assert _chi2_pvalue(counts, probs) > 1e-3


def test_generation_is_seeded_and_stops_at_eos():
    tm = make_tm("lightrnn", table_rows=5, table_cols=9, double=False)
    a = tm.generate("w1 w2", max_tokens=30, num_samples=4, seed=3)
    assert a == tm.generate("w1 w2", max_tokens=30, num_samples=4, seed=3)
    assert a != tm.generate("w1 w2", max_tokens=30, num_samples=4, seed=4)
    for s in a:
        assert 1 <= len(s) <= 30 and ("<eos>" not in s[:-1])
    with pytest.raises(ValueError, match="temperature"):
        tm.generate("w1", temperature=0)
    with pytest.raises(ValueError, match="top-p"):
        tm.generate("w1", top_p=1.5)


# ------------------------------------------------------------------------------ scoring
@pytest.mark.parametrize("kind", ["lightrnn", "full", "adaptive"])
def test_score_equals_evaluate(kind, tmp_path):
    tm = make_tm(kind, double=False, **(dict(table_rows=5, table_cols=9) if kind == "lightrnn" else {}))
    lines = ["w1 w2 w3 w4", "w5 oovword w6 <unk>", "w7", "w8 w9 w10 w11 w12 w13 w14 w15"] * 5
    path = tmp_path / "t.txt"
    path.write_text("\n".join(lines) + "\n")
    got = tm.score_file(path, bptt=7)
    ids = np.concatenate([[tm.vocab.eos_id]] + [tm.vocab.encode_line(s) for s in lines]).astype(np.int32)
    ref = evaluate(tm.model, ids, batch_size=1, bptt=7)
    assert got.tokens == ref["tokens"] == len(ids) - 1
    assert got.loss == ref["loss"] and got.ppl == ref["ppl"]  # same sums in the same order
    assert got.oov == 5 and got.unk == 10  # 'oovword' counted; literal <unk> is scored as itself
    per_token = []
    tm.score_file(path, bptt=3, on_token=lambda w, lp: per_token.append((w, lp)))
    assert [w for w, _ in per_token[:6]] == ["w1", "w2", "w3", "w4", "<eos>", "w5"]
    assert -np.mean([lp for _, lp in per_token]) == pytest.approx(ref["loss"], rel=1e-6)
    # encoded splits with several streams: identical to evaluate
    for B in (1, 3):
        s = tm.score_tokens(ids, batch_size=B, bptt=5, token_logprobs=True)
        r = evaluate(tm.model, ids, batch_size=B, bptt=5)
        assert (s.loss, s.tokens) == (r["loss"], r["tokens"])
        assert np.isfinite(s.token_logprobs).sum() == s.tokens
        assert -np.nanmean(s.token_logprobs) == pytest.approx(r["loss"], rel=1e-6)


def test_score_rejects_bad_text(tmp_path):
    tm = make_tm("full")
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"w1 w2\nw3 \xff\n")
    with pytest.raises(ValueError, match=r"bad.txt:2"):
        tm.score_file(bad)
    with pytest.raises(ValueError, match="no tokens"):
        tm.score_lines([])


# ------------------------------------------------------------------------------ load and CLI
def save_checkpoint(tm, path):
    ckpt = ck.make_checkpoint(tm.model.float(), None, {}, {"step": 1}, vocab_words=tm.vocab.words)
    ck.save(path, ckpt)


@pytest.mark.parametrize("kind,kw", CASES)
def test_load_rebuilds_every_model_type(kind, kw, tmp_path):
    tm = make_tm(kind, double=False, **kw)
    save_checkpoint(tm, tmp_path / "c.pt")
    got = load(tmp_path / "c.pt")
    assert got.config == tm.config and got.vocab.words == tm.vocab.words and not got.model.training
    assert (got.table is not None) == (kind == "lightrnn")
    if got.table is not None:
        assert got.table == tm.table
    x = torch.tensor([[36], [1], [2]])
    a, _ = tm.model.log_prob(x, tm.model.init_hidden(1))
    b, _ = got.model.log_prob(x, got.model.init_hidden(1))
    assert torch.equal(a, b)


def test_load_rejects_truncated_and_foreign_files(tmp_path):
    import lightrnn

    tm = make_tm("lightrnn", double=False, table_rows=5, table_cols=9)
    good = tmp_path / "c.pt"
    save_checkpoint(tm, good)
    trunc = tmp_path / "trunc.pt"
    trunc.write_bytes(good.read_bytes()[:2000])
    text = tmp_path / "notes.pt"
    text.write_text("hello\n")
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    for path, msg in ((trunc, "not a readable checkpoint"), (text, "not a readable checkpoint"),
                      (foreign, "not a LightRNN checkpoint"), (tmp_path / "none.pt", "no such checkpoint")):
        with pytest.raises(ck.CheckpointError, match=msg) as e:
            lightrnn.load(path)
        assert str(path) in str(e.value)


def test_cli_score_predict_generate_table(tmp_path, capsys):
    tm = make_tm("lightrnn", double=False, table_rows=5, table_cols=9)
    c = tmp_path / "c.pt"
    save_checkpoint(tm, c)
    text = tmp_path / "t.txt"
    text.write_text("w1 w2 w3\nw4 zzz\n")
    assert main(["score", "--checkpoint", str(c), "--text", str(text), "--out", str(tmp_path / "s.json"),
                 "--tokens-out", str(tmp_path / "s.tsv")]) == 0
    res = json.loads((tmp_path / "s.json").read_text())
    assert res["tokens"] == 7 and res["oov"] == 1 and math.isfinite(res["ppl"])
    rows = (tmp_path / "s.tsv").read_text().splitlines()
    assert len(rows) == 7 and rows[4].startswith("w4\t") and rows[5].startswith("zzz\t")
    assert -np.mean([float(r.split("\t")[1]) for r in rows]) == pytest.approx(res["loss"], rel=1e-5)
    capsys.readouterr()
    assert main(["predict", "--checkpoint", str(c), "--context", "w1 w2", "-k", "3", "--json"]) == 0
    pred = json.loads(capsys.readouterr().out)
    assert [w for w, _ in pred["words"]] == [w for w, _ in tm.predict("w1 w2", 3)["words"]]
    assert main(["generate", "--checkpoint", str(c), "--prompt", "w1", "--num-samples", "2", "--top-p", "0.9",
                 "--out", str(tmp_path / "g.json")]) == 0
    assert len(json.loads((tmp_path / "g.json").read_text())["samples"]) == 2
    capsys.readouterr()
    assert main(["table", "--checkpoint", str(c), "--word", "w3", "--json"]) == 0
    nb = json.loads(capsys.readouterr().out)
    r, col = int(tm.table.rows[3]), int(tm.table.cols[3])
    assert nb["row"] == r and nb["col"] == col
    assert sorted(nb["row_words"]) == sorted(f"w{i}" if i < 35 else tm.vocab.words[i]
                                              for i in tm.table.cell_word[r] if i >= 0 and i != 3)
    assert all(tm.table.cols[tm.vocab.index[w]] == col for w in nb["col_words"])
    # errors: one line, status 2
    assert main(["table", "--checkpoint", str(c), "--word", "nope"]) == 2
    assert "not in the vocabulary" in capsys.readouterr().err
    (tmp_path / "bad.pt").write_bytes(b"\x00" * 10)
    assert main(["predict", "--checkpoint", str(tmp_path / "bad.pt")]) == 2
    assert "bad.pt" in capsys.readouterr().err


def test_table_needs_lightrnn():
    with pytest.raises(ValueError, match="no word table"):
        make_tm("full").neighbours("w1")
