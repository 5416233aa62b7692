"""Data-parallel training and reallocation on CPU with gloo and 2 processes (torchrun)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from lightrnn import checkpoint as ck
from lightrnn.cli import main

SMALL = ["--emb-dim", "16", "--hidden-dim", "16", "--num-layers", "1", "--bptt", "8", "--num-threads", "1",
         "--log-interval", "0", "--optimizer", "sgd", "--lr", "0.5", "--seed", "3", "--device", "cpu"]


def free_port() -> int:
    """A port nothing listens on now (a fixed one collided when another run held it)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(nproc, *argv):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc), "--master_addr",
           "127.0.0.1", "--master_port", str(free_port()), "-m", "lightrnn", *map(str, argv)]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture
def table(tiny_encoded):
    path = tiny_encoded["dir"] / "table_0.npz"
    assert main(["init-table", "--vocab", str(tiny_encoded["vocab_path"]), "--out", str(path), "--seed", "1"]) == 0
    return path


def train_args(enc, table, out, batch):
    return ["train", "--vocab", enc["vocab_path"], "--train", enc["train_path"], "--table", table,
            "--out", out, "--batch-size", batch, "--epochs", "1", *SMALL]


@pytest.mark.slow
def test_two_ranks_equal_one_process_with_the_same_global_batch(tiny_encoded, table, tmp_path):
    # 2 ranks x 2 streams == 1 process x 4 streams: the same streams, the same averaged gradient
    one = tmp_path / "one.pt"
    assert main([str(a) for a in train_args(tiny_encoded, table, one, 4)]) == 0
    two = tmp_path / "two.pt"
    r = torchrun(2, *train_args(tiny_encoded, table, two, 2))
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    a, b = ck.load(one)["model"], ck.load(two)["model"]
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-5, rtol=1e-4), k  # float reduction order differs
    assert r.stdout.count("model lightrnn:") == 1  # rank 0 alone logs


@pytest.mark.slow
def test_distributed_reallocation_losses_equal_single_process(tiny_encoded, table, tmp_path):
    ckpt = tmp_path / "c.pt"
    assert main([str(a) for a in train_args(tiny_encoded, table, ckpt, 4)]) == 0
    rep1, rep2 = tmp_path / "r1.json", tmp_path / "r2.json"
    common = ["--checkpoint", ckpt, "--train", tiny_encoded["train_path"], "--batch-size", "2", "--device", "cpu"]
    # one process over the two shards one after the other == two ranks, one shard each (all-reduced)
    from lightrnn.corpus import load_tokens
    from lightrnn.realloc import accumulate_losses

    tokens = load_tokens(tiny_encoded["train_path"])
    n = (len(tokens) // 4) * 2  # each rank's shard: (N // (world * B)) * B tokens
    model = ck.build_model_from_checkpoint(ck.load(ckpt))
    parts = [accumulate_losses(model, tokens[i * n:(i + 1) * n], batch_size=2) for i in (0, 1)]
    r = torchrun(2, "realloc", *common, "--out-table", tmp_path / "t2.npz", "--report", rep2,
                 "--losses", tmp_path / "l2.npz")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    z = np.load(tmp_path / "l2.npz")
    assert np.allclose(z["L_r"], parts[0]["L_r"] + parts[1]["L_r"], rtol=1e-10, atol=1e-8)
    assert np.allclose(z["L_c"], parts[0]["L_c"] + parts[1]["L_c"], rtol=1e-10, atol=1e-8)
    assert int(z["tokens"]) == parts[0]["tokens"] + parts[1]["tokens"]
    assert json.loads(rep2.read_text())["solver"]["certified"]


@pytest.mark.slow
def test_killed_two_rank_run_resumes_with_one_process(tiny_encoded, table, tmp_path):
    out = tmp_path / "k.pt"
    args = train_args(tiny_encoded, table, out, 2) + ["--epochs", "2", "--checkpoint-every", "3", "--max-steps", "7"]
    r = torchrun(2, *args)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    partial = tmp_path / "k.pt.partial"
    assert partial.exists() and not out.exists()
    assert ck.load(partial)["world_size"] == 2
    resumed = train_args(tiny_encoded, table, out, 2) + ["--epochs", "2", "--checkpoint-every", "3"]
    assert main([str(a) for a in resumed]) == 0
    final = ck.load(out)
    assert final["epoch"] == 2 and not partial.exists()
