"""Training, checkpoints, resume and the train/evaluate/realloc command line on a tiny corpus."""
import csv
import json
import math
import re

import numpy as np
import pytest
import torch

from lightrnn import checkpoint as ck
from lightrnn.cli import main
from lightrnn.config import ModelConfig
from lightrnn.factory import build_model
from lightrnn.table import WordTable
from lightrnn.train import (TrainConfig, TrainState, batchify, epoch_batches, evaluate, make_optimizer, round_end,
                            train)

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


@pytest.mark.parametrize("where", ["mid_epoch", "epoch_end"])
def test_resume_is_bit_identical(tiny_encoded, tmp_path, where):
    common = ["--epochs", "2", "--dropout", "0.3", "--optimizer", "adam", "--lr", "0.01", "--seed", "7"]
    assert cli_train(tiny_encoded, tmp_path / "full.pt", *common) == 0
    # batch 4, bptt 8 (SMALL): the number of steps in one epoch
    per_epoch = math.ceil((len(tiny_encoded["train"]) // 4 - 1) / 8)
    stop = 13 if where == "mid_epoch" else per_epoch
    assert 13 < per_epoch
    # stop after `stop` steps (periodic checkpoints every 5), as an interruption would
    out = tmp_path / "split.pt"
    assert cli_train(tiny_encoded, out, *common, "--checkpoint-every", "5", "--max-steps", str(stop)) == 0
    partial = tmp_path / "split.pt.partial"
    saved = ck.load(partial)
    assert not out.exists() and saved["step"] == stop
    if where == "mid_epoch":
        assert saved["state"]["batch"] == 13 and saved["epoch"] == 0
        assert saved["hidden"] is not None  # the carried state is part of the checkpoint
    else:
        assert saved["state"]["batch"] == 0 and saved["epoch"] == 1 and len(saved["metrics"]) == 1
    assert cli_train(tiny_encoded, out, *common, "--checkpoint-every", "5") == 0
    assert not partial.exists()
    a, b = params_of(tmp_path / "full.pt"), params_of(out)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert ck.load(out)["metrics"][-1]["valid_loss"] == ck.load(tmp_path / "full.pt")["metrics"][-1]["valid_loss"]


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
    result = train(m, tiny_encoded["train"], tiny_encoded["valid"], tc, TrainState(lr=tc.lr),
                   make_optimizer(m, tc, tc.lr), log=lambda s: None)
    state = result.state
    assert result.finished and result.hidden is None and len(state.metrics) == 8
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


def test_batchify_reads_a_memmap_and_checks_input(tmp_path):
    np.save(tmp_path / "t.npy", np.arange(23, dtype=np.int32))
    mm = np.load(tmp_path / "t.npy", mmap_mode="r")
    data = batchify(mm, 4)  # 23 // 4 = 5 rows, the last 3 tokens dropped
    assert data.dtype == torch.int64 and data.shape == (5, 4) and data.is_contiguous()
    assert data[:, 3].tolist() == [15, 16, 17, 18, 19] and data[0].tolist() == [0, 5, 10, 15]
    with pytest.raises(ValueError, match="1-D"):
        batchify(np.zeros((3, 3), dtype=np.int32), 2)
    with pytest.raises(ValueError, match="3 tokens cannot fill 4 streams"):
        batchify(mm[:3], 4)


def test_log_lines_csv_and_zaremba_schedule(tiny_encoded, tmp_path):
    V = len(tiny_encoded["vocab"])
    torch.manual_seed(0)
    m = build_model(ModelConfig(model="full", vocab_size=V, emb_dim=8, hidden_dim=8, num_layers=1))
    tc = TrainConfig(batch_size=4, bptt=8, epochs=4, lr=1.0, lr_decay=0.5, lr_decay_start=2, log_interval=10)
    lines = []
    state = train(m, tiny_encoded["train"], tiny_encoded["valid"], tc, TrainState(lr=tc.lr),
                  make_optimizer(m, tc, tc.lr), log=lines.append).state
    # lr 1 for epochs 1-2, then halved after every epoch (Zaremba), whatever validation does
    assert [r["lr"] for r in state.metrics] == [1.0, 1.0, 0.5, 0.25] and state.lr == 0.125
    num = r"\s*[0-9.e+-]+"
    pattern = (rf"\| round 0 \| epoch [1-4] \| step\s*\d+/\d+ \| lr{num} \| ms/batch{num} \| tok/s{num} "
               rf"\| loss{num} \| ppl{num}$")
    step_lines = [s for s in lines if s.startswith("| round")]
    assert step_lines and all(re.match(pattern, s) for s in step_lines), step_lines[:2]
    from lightrnn.metrics import METRIC_FIELDS, write_metrics_csv

    write_metrics_csv(tmp_path / "m.csv", state.metrics)
    with open(tmp_path / "m.csv") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    assert reader.fieldnames == METRIC_FIELDS and len(rows) == 4
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4] and all(float(r["valid_ppl"]) > 1 for r in rows)


def test_plateau_rule_decays_only_without_improvement(tiny_encoded):
    V = len(tiny_encoded["vocab"])
    torch.manual_seed(0)
    m = build_model(ModelConfig(model="full", vocab_size=V, emb_dim=8, hidden_dim=8, num_layers=1))
    # validation on uniform noise gets worse as the model learns the text: every epoch without a
    # new best must quarter the lr, never below min_lr
    noise = np.random.default_rng(0).integers(0, V, 400).astype(np.int32)
    tc = TrainConfig(batch_size=4, bptt=8, epochs=3, lr=1.0, lr_decay=0.25, lr_decay_start=0, min_lr=0.1, clip=5.0,
                     log_interval=0)
    state = train(m, tiny_encoded["train"], noise, tc, TrainState(lr=tc.lr),
                  make_optimizer(m, tc, tc.lr), log=lambda s: None).state
    best = math.inf
    lr = tc.lr
    for row in state.metrics:
        assert row["lr"] == lr
        improved = row["valid_loss"] < best
        best = min(best, row["valid_loss"])
        lr = lr if improved else max(tc.min_lr, lr * tc.lr_decay)
    assert state.lr == lr
    assert any(r["lr"] < tc.lr for r in state.metrics[1:]), "the rule was never exercised"


def test_two_rounds_with_carried_lr_equal_one_long_run(tiny_encoded, tmp_path):
    """carry_lr: 1 + 1 epochs through --init-from (same table, SGD, no dropout) == 2 epochs in one run."""
    d = tiny_encoded["dir"]
    common = ["--optimizer", "sgd", "--lr", "1", "--lr-decay-start", "1", "--lr-decay", "0.5", "--seed", "3"]
    assert cli_train(tiny_encoded, d / "long.pt", "--epochs", "2", *common) == 0
    assert cli_train(tiny_encoded, d / "r0.pt", "--epochs", "1", *common) == 0
    assert cli_train(tiny_encoded, d / "r1.pt", "--epochs", "1", "--init-from", str(d / "r0.pt"),
                     "--round", "1", "--metrics", str(d / "m1.csv"), *common) == 0
    long, r1 = ck.load(d / "long.pt"), ck.load(d / "r1.pt")
    assert [r["lr"] for r in long["metrics"]] == [1.0, 0.5]
    assert [r["lr"] for r in r1["metrics"]] == [0.5] and r1["epoch"] == 2
    assert [r["epoch"] for r in csv.DictReader(open(d / "m1.csv"))] == ["2"]
    assert all(torch.equal(long["model"][k], r1["model"][k]) for k in long["model"])


def test_new_table_starts_a_new_plateau_baseline(tiny_encoded, tmp_path):
    """carry_lr with a reallocated table: the round's first validation loss is not judged against
    the previous table's best (that decayed the lr at every round); with the same table it is."""
    d = tiny_encoded["dir"]
    common = ["--optimizer", "adam", "--lr", "0.01", "--lr-decay", "0.5", "--lr-decay-start", "0", "--clip", "5",
              "--init-range", "0", "--seed", "3"]
    assert cli_train(tiny_encoded, d / "p0.pt", "--epochs", "3", *common) == 0
    assert main(["init-table", "--vocab", str(tiny_encoded["vocab_path"]), "--out", str(d / "p_new.npz"),
                 "--seed", "7"]) == 0
    r0 = ck.load(d / "p0.pt")
    lr0, best0 = r0["state"]["lr"], r0["state"]["best_valid"]
    for name, table in (("p_same", d / "table_0.npz"), ("p_new", d / "p_new.npz")):
        assert cli_train(tiny_encoded, d / f"{name}.pt", "--epochs", "1", "--init-from", str(d / "p0.pt"),
                         "--round", "1", "--metrics", str(d / f"{name}.csv"), *common, "--table", str(table)) == 0
    same, new = ck.load(d / "p_same.pt")["state"], ck.load(d / "p_new.pt")["state"]
    # a random table makes the trained model worse than round 0's best: the case that matters
    assert new["best_valid"] > best0
    assert new["lr"] == lr0, "a new table decayed the lr"
    assert same["best_valid"] == min(best0, same["best_valid"])
    assert same["lr"] == (lr0 if same["best_valid"] < best0 else lr0 * 0.5)


def test_resume_refuses_another_table_and_bad_inputs(tiny_encoded, tmp_path, capsys):
    d = tiny_encoded["dir"]
    out = tmp_path / "x.pt"
    assert cli_train(tiny_encoded, out, "--epochs", "1", "--max-steps", "3") == 0
    assert (tmp_path / "x.pt.partial").exists()
    assert main(["init-table", "--vocab", str(tiny_encoded["vocab_path"]), "--out", str(d / "t9.npz"),
                 "--seed", "9"]) == 0
    args = ["train", "--vocab", str(tiny_encoded["vocab_path"]), "--train", str(tiny_encoded["train_path"]),
            "--out", str(out), *SMALL, "--epochs", "1"]
    assert main([*args, "--table", str(d / "t9.npz")]) == 2
    assert "another table or vocabulary" in capsys.readouterr().err
    assert main([*args, "--table", str(d / "table_0.npz"), "--lr", "0.3"]) == 2  # other settings
    assert "other settings" in capsys.readouterr().err
    # --no-resume starts afresh and finishes
    assert main([*args, "--table", str(d / "t9.npz"), "--no-resume"]) == 0 and out.exists()
    assert not (tmp_path / "x.pt.partial").exists()
    np.save(tmp_path / "short.npy", np.arange(5, dtype=np.int32))
    assert main(["train", "--vocab", str(tiny_encoded["vocab_path"]), "--train", str(tmp_path / "short.npy"),
                 "--table", str(d / "table_0.npz"), "--out", str(tmp_path / "y.pt"), *SMALL]) == 2
    assert "short.npy: 5 tokens are too few" in capsys.readouterr().err
    assert main(["evaluate", "--checkpoint", str(out), "--data", str(tmp_path / "short.npy"),
                 "--batch-size", "4"]) == 2
    assert main(["evaluate", "--checkpoint", str(out), "--data", str(tmp_path / "missing.npy")]) == 2


def test_round_end_of_fractional_rounds():
    """Fractions of an epoch end a round inside it; the next round ends where the schedule says,
    and rounding each fraction on its own never leaves a one-batch sliver before an epoch end."""
    def end(start_epoch, start_batch, epochs, nb):
        st = TrainState(epoch=start_epoch, round_start_epoch=start_epoch, batch=start_batch,
                        round_start_batch=start_batch)
        return round_end(st, TrainConfig(epochs=epochs), nb)

    assert end(0, 0, 0.25, 1328) == 332 and end(0, 332, 0.75, 1328) == 1328
    assert end(1, 0, 2, 1328) == 3 * 1328
    for nb in range(8, 400):  # 0.25 + 0.75 and 0.125 + 0.125 + 0.25 + 0.5 end on epoch 1 exactly
        a = end(0, 0, 0.25, nb)
        assert end(0, a, 0.75, nb) == nb
        b = end(0, 0, 0.125, nb)
        c = end(0, b, 0.125, nb)
        assert end(0, end(0, c, 0.25, nb), 0.5, nb) == nb
    assert epoch_batches(23 * 35 * 4, 4, 35) == 23  # the last batch is one token short


def test_fractional_rounds_go_on_in_the_data(tiny_encoded):
    """A 0.25-epoch round stops a quarter into the data; the next round (--init-from) trains
    the remaining 0.75 and ends the epoch; the metrics say which part of the epoch each row is."""
    d = tiny_encoded["dir"]
    common = ["--optimizer", "adam", "--lr", "0.01", "--batch-size", "4", "--bptt", "8", "--log-interval", "0"]
    assert cli_train(tiny_encoded, d / "f0.pt", *common, "--epochs", "0.25", "--metrics", str(d / "f0.csv")) == 0
    nb = epoch_batches(len(tiny_encoded["train"]), 4, 8)
    c0 = ck.load(d / "f0.pt")
    assert c0["state"]["epoch"] == 0 and c0["state"]["batch"] == round(0.25 * nb) == c0["state"]["step"]
    r0 = list(csv.DictReader(open(d / "f0.csv")))
    assert len(r0) == 1 and r0[0]["epoch"] == "1" and float(r0[0]["epoch_fraction"]) == pytest.approx(0.25, abs=1 / nb)
    assert float(r0[0]["valid_ppl"]) > 1
    assert main(["train", "--vocab", str(tiny_encoded["vocab_path"]), "--train", str(tiny_encoded["train_path"]),
                 "--valid", str(tiny_encoded["valid_path"]), "--init-from", str(d / "f0.pt"), "--round", "1",
                 "--out", str(d / "f1.pt"), "--metrics", str(d / "f1.csv"), "--epochs", "0.75", *common]) == 0
    c1 = ck.load(d / "f1.pt")
    assert c1["state"]["epoch"] == 1 and c1["state"]["batch"] == 0
    assert c0["state"]["step"] + c1["state"]["step"] == nb  # together exactly one epoch of batches
    r1 = list(csv.DictReader(open(d / "f1.csv")))
    assert len(r1) == 1 and r1[0]["epoch"] == "1"
    assert float(r0[0]["epoch_fraction"]) + float(r1[0]["epoch_fraction"]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="less than one batch"):
        m = build_model(ModelConfig(vocab_size=len(tiny_encoded["vocab"]), emb_dim=8, hidden_dim=8, num_layers=1),
                        WordTable.random(len(tiny_encoded["vocab"]), 0))
        tc = TrainConfig(batch_size=4, bptt=8, epochs=1e-6)
        train(m, tiny_encoded["train"], None, tc, TrainState(), make_optimizer(m, tc, tc.lr), log=lambda s: None)


def test_train_reads_recipe_from_a_workflow_config(tiny_encoded, tmp_path, capsys):
    cfg = tmp_path / "recipe.yaml"
    cfg.write_text("model: {emb_dim: 16, init_range: 0.05}\n"
                   "train: {epochs: [0.5, 2], optimizer: sgd, lr: 7.0, clip: 0.25, lr_decay_start: 1}\n")
    out = tmp_path / "ck1.pt"
    assert cli_train(tiny_encoded, out, "--config", str(cfg), "--round", "1", "--lr", "3.0") == 0
    saved = ck.load(out)
    assert saved["model_config"]["init_range"] == 0.05
    assert saved["train_config"]["epochs"] == 2  # the list's entry for --round 1
    assert saved["train_config"]["clip"] == 0.25 and saved["train_config"]["optimizer"] == "sgd"
    assert saved["train_config"]["lr"] == 3.0  # a flag given on the command line wins over the file
    capsys.readouterr()
    cfg.write_text("train: {epochs: [1], lrr: 2}\n")
    assert cli_train(tiny_encoded, tmp_path / "bad.pt", "--config", str(cfg)) == 2
    assert "unknown key train.lrr" in capsys.readouterr().err
    cfg.write_text("train: {epochs: [1]}\n")
    assert cli_train(tiny_encoded, tmp_path / "bad.pt", "--config", str(cfg), "--round", "3") == 2
    assert "no entry for --round 3" in capsys.readouterr().err


def test_valid_every_rows_cover_the_training_and_change_nothing_else(tiny_encoded):
    """valid_every adds validation rows inside epochs; each row covers the steps since the previous
    one (fractions and times add up to the epoch's), and the weights and the lr schedule (plateau
    rule, which reads only epoch-end validations) are those of a run without them."""
    V = len(tiny_encoded["vocab"])
    noise = np.random.default_rng(0).integers(0, V, 400).astype(np.int32)
    runs = {}
    for every in (0, 3):
        torch.manual_seed(0)
        m = build_model(ModelConfig(model="full", vocab_size=V, emb_dim=8, hidden_dim=8, num_layers=1))
        tc = TrainConfig(batch_size=4, bptt=8, epochs=2.5, lr=1.0, lr_decay=0.25, lr_decay_start=0, clip=5.0,
                         log_interval=0, valid_every=every)
        lines = []
        st = train(m, tiny_encoded["train"], noise, tc, TrainState(lr=tc.lr), make_optimizer(m, tc, tc.lr),
                   log=lines.append).state
        runs[every] = (st, [p.detach().clone() for p in m.parameters()], lines)
    (plain, w0, _), (dense, w3, lines) = runs[0], runs[3]
    assert all(torch.equal(a, b) for a, b in zip(w0, w3)) and plain.lr == dense.lr
    n_batches = epoch_batches(len(tiny_encoded["train"]), 4, 8)
    assert len(dense.metrics) == len(plain.metrics) + sum(1 for s in range(1, dense.step + 1)
                                                          if s % 3 == 0 and s % n_batches != 0 and s != dense.step)
    assert sum(1 for s in lines if s.startswith("| in round")) == len(dense.metrics) - len(plain.metrics)
    for e in (1, 2, 3):  # per epoch: the rows' fractions add up to the plain run's row, the ends agree
        rows = [r for r in dense.metrics if r["epoch"] == e]
        ref = next(r for r in plain.metrics if r["epoch"] == e)
        assert sum(r["epoch_fraction"] for r in rows) == pytest.approx(ref["epoch_fraction"], abs=1e-4)
        assert rows[-1]["valid_loss"] == ref["valid_loss"] and rows[-1]["lr"] == ref["lr"]
        tokens = sum(r["tokens_per_s"] * r["elapsed_s"] for r in rows)
        assert tokens == pytest.approx(ref["tokens_per_s"] * ref["elapsed_s"], rel=1e-6)
        assert all(r["valid_ppl"] > 1 for r in rows)
