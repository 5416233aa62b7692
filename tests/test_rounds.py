"""The bootstrap's round policy (lightrnn.rounds) and what train() hands back to it, on a model
small enough to build in milliseconds."""
import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from lightrnn import checkpoint as ck
from lightrnn import rounds
from lightrnn.config import OPERATIONAL_TRAIN_KEYS, ModelConfig, TrainConfig
from lightrnn.factory import build_model
from lightrnn.metrics import METRIC_FIELDS
from lightrnn.table import WordTable
from lightrnn.train import TrainState, make_optimizer, train

V = 20
WORDS = [f"w{i}" for i in range(V)]
MODEL = ModelConfig(vocab_size=V, emb_dim=4, hidden_dim=4, num_layers=1)
CPU = torch.device("cpu")


def tokens(n=400, seed=0):
    return np.random.default_rng(seed).integers(0, V, n).astype(np.int32)


def checkpoint_after(cfg, state=None, table=None, optimizer_steps=0, hidden=None, world=1):
    """A checkpoint dict as `lightrnn train` writes it, of a fresh model after a few Adam/SGD steps."""
    torch.manual_seed(0)
    table = table or WordTable.random(V, seed=1)
    model = build_model(MODEL, table)
    opt = make_optimizer(model, cfg, cfg.lr)
    x = torch.as_tensor(tokens(9).astype(np.int64))[:, None]
    for _ in range(optimizer_steps):
        out = model(x[:-1], x[1:], model.init_hidden(1))
        opt.zero_grad()
        out.loss.backward()
        opt.step()
    state = state or TrainState(round=0, epoch=1, batch=3, lr=0.5, best_valid=4.2, step=10)
    ckpt = ck.make_checkpoint(model, opt, cfg.to_dict(), state.to_dict(), WORDS, hidden)
    ckpt["world_size"] = world
    return ckpt


def test_each_round_has_its_own_seed():
    cfg = TrainConfig(seed=7)
    assert [rounds.round_seed(cfg, r) for r in (0, 1, 2)] == [7, 1007, 2007]


@pytest.mark.parametrize("same_table", [True, False])
def test_carried_state_takes_over_lr_epoch_and_place_in_the_data(same_table):
    prev = TrainState(round=0, epoch=2, batch=5, lr=0.25, best_valid=3.5, step=99, metrics=[{"x": 1}]).to_dict()
    st = rounds.carried_state(prev, TrainConfig(lr=20.0), 1, same_table)
    assert (st.round, st.epoch, st.round_start_epoch, st.batch, st.round_start_batch) == (1, 2, 2, 5, 5)
    assert st.lr == 0.25 and st.step == 0 and st.metrics == []
    # the plateau baseline only holds under the table it was measured with
    assert st.best_valid == (3.5 if same_table else math.inf)


def test_without_carry_lr_a_round_starts_afresh():
    prev = TrainState(epoch=2, batch=5, lr=0.25, best_valid=3.5).to_dict()
    st = rounds.carried_state(prev, TrainConfig(lr=3.0, carry_lr=False), 4, same_table=True)
    assert st == TrainState(round=4, lr=3.0)


def test_a_state_saved_before_fractional_rounds_starts_at_the_epoch_boundary():
    prev = TrainState(epoch=1, lr=0.5).to_dict()
    del prev["batch"]  # checkpoints of whole-epoch rounds only
    assert rounds.carried_state(prev, TrainConfig(), 1, True).batch == 0


def test_optimizer_state_is_carried_only_when_asked_and_of_the_same_kind():
    adam = TrainConfig(optimizer="adam", lr=0.01, reset_optimizer=False)
    prev = checkpoint_after(adam, optimizer_steps=2)
    model = build_model(MODEL, WordTable.random(V, seed=1))

    def fresh(cfg):
        return make_optimizer(model, cfg, 0.01)

    opt = fresh(adam)
    assert rounds.carry_optimizer(opt, prev, adam, lr=0.003)
    assert opt.state_dict()["state"][0]["step"] == 2 and all(g["lr"] == 0.003 for g in opt.param_groups)
    for cfg in (dataclasses.replace(adam, reset_optimizer=True),  # the default: a fresh optimizer
                dataclasses.replace(adam, optimizer="sgd")):  # another kind: nothing to carry
        opt = fresh(cfg)
        assert not rounds.carry_optimizer(opt, prev, cfg, lr=0.003) and opt.state_dict()["state"] == {}
    assert not rounds.carry_optimizer(fresh(adam), {**prev, "optimizer": None}, adam, lr=0.003)


def test_architecture_and_vocabulary_of_the_previous_round():
    prev = checkpoint_after(TrainConfig())
    assert rounds.architecture_clash(prev, {"emb_dim": 4, "num_layers": 1}) == {}
    assert rounds.architecture_clash(prev, {"emb_dim": 8, "num_layers": 1}) == {"emb_dim": (8, 4)}
    assert rounds.vocab_matches(prev, WORDS) and not rounds.vocab_matches(prev, WORDS[::-1])
    assert rounds.vocab_matches({**prev, "vocab_words": None}, WORDS[::-1])


def test_a_partial_checkpoint_resumes_only_the_same_run():
    cfg = TrainConfig(epochs=2, lr=0.5)
    table = WordTable.random(V, seed=1)
    partial = checkpoint_after(cfg, TrainState(round=1), table)

    def why(**kw):
        args = {"model_cfg": MODEL, "cfg": cfg, "round_": 1, "table": table, "vocab_words": WORDS, **kw}
        return rounds.resume_mismatch(partial, **args)

    assert why() is None
    # how the run goes, not what it computes: a resumption may change these
    assert set(OPERATIONAL_TRAIN_KEYS) < rounds.RESUME_MAY_CHANGE
    changed = dict(num_threads=3, checkpoint_every=7, log_interval=1, max_steps=5, device="cuda")
    assert set(changed) == rounds.RESUME_MAY_CHANGE
    assert why(cfg=dataclasses.replace(cfg, **changed)) is None
    assert why(cfg=dataclasses.replace(cfg, lr=0.4)) == "other settings"
    assert why(cfg=dataclasses.replace(cfg, epochs=3)) == "other settings"
    assert why(round_=2) == "other settings"
    assert why(model_cfg=dataclasses.replace(MODEL, dropout=0.1)) == "other settings"
    assert why(table=WordTable.random(V, seed=2)) == "another table or vocabulary"
    assert why(vocab_words=WORDS[::-1]) == "another table or vocabulary"


def test_start_round_from_scratch_is_seeded_per_round():
    cfg = TrainConfig(seed=3, lr=0.7)
    table = WordTable.random(V, seed=1)
    a, b, c = (rounds.start_round(MODEL, cfg, r, table, CPU) for r in (0, 0, 1))
    assert a.state == TrainState(round=0, lr=0.7) and a.hidden is None and a.notes == []
    assert a.optimizer.param_groups[0]["lr"] == 0.7
    sa, sb, sc = (x.model.state_dict() for x in (a, b, c))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_start_round_from_the_previous_round():
    cfg = TrainConfig(optimizer="adam", lr=0.01, reset_optimizer=False)
    prev = checkpoint_after(cfg, optimizer_steps=1)
    new_table = WordTable.random(V, seed=5)
    start = rounds.start_round(MODEL, cfg, 1, new_table, CPU, prev=prev)
    weights = start.model.state_dict()
    assert all(torch.equal(weights[k], prev["model"][k]) for k in prev["model"])  # weights stay with positions
    assert start.model.table == new_table
    assert (start.state.round, start.state.epoch, start.state.batch, start.state.lr) == (1, 1, 3, 0.5)
    assert start.state.best_valid == math.inf  # a new table: a new plateau baseline
    assert start.optimizer.state_dict()["state"][0]["step"] == 1 and start.optimizer.param_groups[0]["lr"] == 0.5
    same = rounds.start_round(MODEL, cfg, 1, ck.table_from_checkpoint(prev), CPU, prev=prev)
    assert same.state.best_valid == 4.2
    broken = {**prev, "model": {k: v[:1] for k, v in prev["model"].items()}}
    with pytest.raises(ck.CheckpointError, match="^--init-from c0.pt: weights do not fit"):
        rounds.start_round(MODEL, cfg, 1, new_table, CPU, prev=broken, prev_name="--init-from c0.pt")


@pytest.mark.parametrize("old_world, new_world, rank", [(2, 2, 1), (2, 1, 0), (1, 2, 1)])
def test_resume_on_the_same_or_another_number_of_ranks(old_world, new_world, rank):
    B = 2
    cfg = TrainConfig(batch_size=B)
    hidden = [torch.arange(old_world * B, dtype=torch.float32).reshape(1, old_world * B, 1).expand(1, -1, 4)] * 2
    st = TrainState(round=0, epoch=0, batch=6, step=6, lr=1.0)
    partial = checkpoint_after(cfg, st, hidden=hidden, world=old_world)
    start = rounds.start_round(MODEL, cfg, 0, ck.table_from_checkpoint(partial), CPU, resume=partial, rank=rank,
                               world=new_world, resume_name="c.pt.partial")
    assert start.state.step == 6 and start.notes[-1] == "resuming c.pt.partial at epoch 1, batch " \
        f"{start.state.batch}, step 6"
    if old_world == new_world:  # this rank's columns of the gathered state
        assert start.state.batch == 6
        assert start.hidden[0][0, :, 0].tolist() == [float(rank * B + i) for i in range(B)]
    else:  # the same fraction of the epoch, the carried state dropped
        assert start.state.batch == 6 * old_world // new_world and start.hidden is None
        assert "epoch position scaled, state reset" in start.notes[0]


def test_train_returns_what_the_next_round_needs():
    torch.manual_seed(0)
    cfg = TrainConfig(batch_size=4, bptt=5, epochs=1, lr=0.1, log_interval=0)
    toks = tokens()
    n_batches = len(range(0, len(toks) // 4 - 1, 5))

    def run(st, **kw):
        model = build_model(MODEL, WordTable.random(V, seed=1))
        return train(model, toks, toks[:100], dataclasses.replace(cfg, **kw), st,
                     make_optimizer(model, cfg, cfg.lr), log=lambda s: None)

    stopped = run(TrainState(lr=cfg.lr), max_steps=3)  # inside the epoch
    assert not stopped.finished and stopped.state.batch == 3 and stopped.state.metrics == []
    assert stopped.hidden is not None and stopped.hidden[0].shape == (1, 4, 4) and not stopped.hidden[0].requires_grad
    assert not hasattr(stopped.state, "last_hidden")
    at_boundary = run(TrainState(lr=cfg.lr), max_steps=n_batches, epochs=2)  # one epoch of two
    assert not at_boundary.finished and at_boundary.hidden is None and at_boundary.state.epoch == 1
    done = run(TrainState(lr=cfg.lr))
    assert done.finished and done.hidden is None and (done.state.epoch, done.state.batch) == (1, 0)
    assert [list(row) for row in done.state.metrics] == [METRIC_FIELDS]  # the metrics CSV's columns


def test_one_definition_of_the_operational_keys():
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    assert set(OPERATIONAL_TRAIN_KEYS) <= fields
    common = (Path(__file__).resolve().parents[1] / "pipeline" / "common.smk").read_text()
    assert "from lightrnn.config import OPERATIONAL_TRAIN_KEYS" in common
    assert not any(f'"{k}"' in common for k in OPERATIONAL_TRAIN_KEYS), "common.smk spells the keys out again"
