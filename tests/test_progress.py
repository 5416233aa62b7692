"""Progress that a user watching a long job can see: log lines as they are written, a line at every
tenth of a long pass."""
import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from lightrnn.data import PassProgress

ROOT = Path(__file__).resolve().parents[1]


def _run_module():
    spec = importlib.util.spec_from_file_location("pipeline_run", ROOT / "pipeline" / "scripts" / "_run.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_a_rule_log_shows_each_line_while_the_job_runs(tmp_path):
    log = tmp_path / "train_0.log"
    fake = SimpleNamespace(log=[str(log)], rule="train_round")
    with _run_module().logged(fake):
        print("| round 0 | epoch 1 | step   200/41009 | ...")
        assert log.read_text().endswith("step   200/41009 | ...\n")  # on disk before the job ends
        print("to stderr", file=sys.stderr)
        assert log.read_text().endswith("to stderr\n")


def test_pass_progress_logs_every_tenth():
    lines = []
    p = PassProgress("loss pass", 1000, lines.append)
    for _ in range(40):
        p.update(25)
    p.close()
    assert len(lines) == 10
    assert lines[0].startswith("| loss pass |  10% | 100/1000 tokens")
    assert lines[-1].startswith("| loss pass | 100% | 1000/1000 tokens")
    quiet = PassProgress("x", 10, None)
    quiet.update(10)  # no log: nothing to call


def test_the_loss_pass_reports_its_progress(tiny_encoded):
    from lightrnn.config import ModelConfig
    from lightrnn.factory import build_model
    from lightrnn.realloc import accumulate_losses
    from lightrnn.table import WordTable

    V = len(tiny_encoded["vocab"])
    table = WordTable.random(V, 0)
    torch.manual_seed(0)
    model = build_model(ModelConfig(model="lightrnn", vocab_size=V, emb_dim=8, hidden_dim=8, num_layers=1,
                                    table_rows=table.n_rows, table_cols=table.n_cols), table)
    lines = []
    out = accumulate_losses(model, np.asarray(tiny_encoded["train"]), batch_size=4, bptt=5, log=lines.append)
    assert len(lines) == 10 and lines[-1].startswith("| loss pass | 100% |")
    assert f"{out['tokens']}/{out['tokens']} tokens" in lines[-1]
