"""Training, checkpoints, resume and the train/evaluate/realloc command line on a tiny corpus."""
import csv
import json
import math

import numpy as np
import pytest
import torch

from lightrnn import checkpoint as ck
from lightrnn.cli import main
from lightrnn.config import ModelConfig
from lightrnn.factory import build_model
from lightrnn.table import WordTable
from lightrnn.train import TrainConfig, TrainState, batchify, evaluate, make_optimizer, train

SMALL = ["--emb-dim", "16", "--hidden-dim", "16", "--num-layers", "2", "--batch-size", "4", "--bptt", "8",
         "--num-threads", "1", "--log-interval", "0"]


def cli_train(enc, out, *extra):
    d = enc["dir"]
    if not (d / "table_0.npz").exists():
        assert main(["init-table", "--vocab", str(enc["vocab_path"]), "--out", str(d / "table_0.npz"), "--seed", "1"]) == 0
    args = ["train", "--vocab", str(enc["vocab_path"]), "--train", str(enc["train_path"]), "--valid",
            str(enc["valid_path"]), "--table", str(d / "table_0.npz"), "--out", str(out), *SMALL, *extra]
    return main(args)


def params_of(path):
    return ck.load(path)["model"]


def test_batchify_columns_are_contiguous():
    data = batchify(np.arange(10, dtype=np.int32), 3)
    assert data.shape == (3, 3) and data[:, 1].tolist() == [3, 4, 5]


def test_resume_is_bit_identical(tiny_encoded, tmp_path):
    common = ["--epochs", "2", "--dropout", "0.3", "--optimizer", "adam", "--lr", "0.01", "--seed", "7"]
    assert cli_train(tiny_encoded, tmp_path / "full.pt", *common) == 0
    # stop mid-epoch after 13 steps (periodic checkpoints every 5), as an interruption would
    out = tmp_path / "split.pt"
    assert cli_train(tiny_encoded, out, *common, "--checkpoint-every", "5", "--max-steps", "13") == 0
    partial = tmp_path / "split.pt.partial"
    assert not out.exists() and ck.load(partial)["step"] == 13
    assert ck.load(partial)["hidden"] is not None  # the carried state is part of the checkpoint
    assert cli_train(tiny_encoded, out, *common, "--checkpoint-every", "5") == 0
    assert not partial.exists()
    a, b = params_of(tmp_path / "full.pt"), params_of(out)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_checkpoint_loads_weights_only_and_rejects_bad_files(tiny_encoded, tmp_path):
    out = tmp_path / "c.pt"
    assert cli_train(tiny_encoded, out, "--epochs", "1") == 0
    raw = torch.load(out, weights_only=True)
    assert raw["format"] == "lightrnn-checkpoint" and raw["model_config"]["hidden_dim"] == 16
    model = ck.build_model_from_checkpoint(ck.load(out))
    assert model.table == WordTable.load(tiny_encoded["dir"] / "table_0.npz")
    (tmp_path / "trunc.pt").write_bytes(out.read_bytes()[:1000])
    with pytest.raises(ck.CheckpointError, match="trunc.pt: not a readable checkpoint"):
        ck.load(tmp_path / "trunc.pt")
    torch.save({"a": torch.zeros(1)}, tmp_path / "foreign.pt")
    with pytest.raises(ck.CheckpointError, match="foreign.pt: not a LightRNN checkpoint"):
        ck.load(tmp_path / "foreign.pt")
    with pytest.raises(ck.CheckpointError, match="no such checkpoint"):
        ck.load(tmp_path / "missing.pt")
    assert main(["evaluate", "--checkpoint", str(tmp_path / "trunc.pt"), "--data", str(tiny_encoded["test_path"])]) == 2


def test_evaluate_equals_exp_mean_token_nll(tiny_encoded):
    V = len(tiny_encoded["vocab"])
    torch.manual_seed(0)
    m = build_model(ModelConfig(vocab_size=V, emb_dim=8, hidden_dim=8), WordTable.random(V, 0))
    tokens = tiny_encoded["test"]
    res = evaluate(m, tokens, batch_size=1, bptt=5)
    ids = torch.from_numpy(np.asarray(tokens, dtype=np.int64))
    with torch.no_grad():
        out = m(ids[:-1, None], ids[1:, None], m.init_hidden(1))
    assert res["tokens"] == len(tokens) - 1
    assert res["ppl"] == pytest.approx(math.exp(out.token_nll.double().mean().item()), rel=1e-5)


@pytest.mark.parametrize("kind", ["lightrnn", "full", "adaptive"])
def test_tiny_model_learns_tiny_corpus(tiny_encoded, kind):
    V = len(tiny_encoded["vocab"])
    torch.manual_seed(0)
    cfg = ModelConfig(model=kind, vocab_size=V, emb_dim=32, hidden_dim=32, num_layers=1)
    m = build_model(cfg, WordTable.random(V, 0) if kind == "lightrnn" else None)
    tc = TrainConfig(batch_size=8, bptt=10, epochs=8, optimizer="adam", lr=0.01, log_interval=0)
    state = train(m, tiny_encoded["train"], tiny_encoded["valid"], tc, TrainState(lr=tc.lr),
                  make_optimizer(m, tc, tc.lr), log=lambda s: None)
    assert len(state.metrics) == 8
    first, last = state.metrics[0]["valid_ppl"], state.metrics[-1]["valid_ppl"]
    assert last < 0.5 * first and last < V / 4


def test_cli_rounds_realloc_and_evaluate(tiny_encoded, tmp_path):
    d = tiny_encoded["dir"]
    common = ["--epochs", "1", "--optimizer", "adam", "--lr", "0.01"]
    assert cli_train(tiny_encoded, d / "ck0.pt", *common, "--metrics", str(d / "m0.csv")) == 0
    rows = list(csv.DictReader(open(d / "m0.csv")))
    assert len(rows) == 1 and float(rows[0]["valid_ppl"]) > 1
    assert main(["realloc", "--checkpoint", str(d / "ck0.pt"), "--train", str(tiny_encoded["train_path"]),
                 "--out-table", str(d / "table_1.npz"), "--report", str(d / "r0.json"), "--batch-size", "4"]) == 0
    report = json.loads((d / "r0.json").read_text())
    assert report["objective_new"] <= report["objective_old"] + 1e-9 and report["solver"]["certified"]
    assert main(["train", "--vocab", str(tiny_encoded["vocab_path"]), "--train", str(tiny_encoded["train_path"]),
                 "--valid", str(tiny_encoded["valid_path"]), "--table", str(d / "table_1.npz"), "--init-from",
                 str(d / "ck0.pt"), "--round", "1", "--out", str(d / "ck1.pt"), "--batch-size", "4", "--bptt", "8",
                 "--log-interval", "0", *common]) == 0
    c1 = ck.load(d / "ck1.pt")
    assert c1["epoch"] == 2 and c1["round"] == 1  # the epoch counter carries across rounds
    assert ck.table_from_checkpoint(c1) == WordTable.load(d / "table_1.npz")
    assert main(["evaluate", "--checkpoint", str(d / "ck1.pt"), "--data", str(tiny_encoded["test_path"]),
                 "--out", str(d / "test.json")]) == 0
    assert json.loads((d / "test.json").read_text())["ppl"] > 1
    # an architecture flag that contradicts --init-from is refused with a clear message
    assert main(["train", "--vocab", str(tiny_encoded["vocab_path"]), "--train", str(tiny_encoded["train_path"]),
                 "--init-from", str(d / "ck0.pt"), "--out", str(d / "x.pt"), "--hidden-dim", "64"]) == 2
