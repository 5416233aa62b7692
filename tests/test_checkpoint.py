"""Checkpoint format: weights_only loading, exact RNG restore, model rebuild, clear errors on bad files."""
import pickle
import random

import numpy as np
import pytest
import torch

from lightrnn import checkpoint as ck
from lightrnn.config import ModelConfig
from lightrnn.factory import build_model
from lightrnn.table import WordTable

V = 23


def tiny_model(kind: str, seed: int = 0):
    torch.manual_seed(seed)
    cfg = ModelConfig(model=kind, vocab_size=V, emb_dim=8, hidden_dim=8, num_layers=2, dropout=0.2)
    return build_model(cfg, WordTable.random(V, seed) if kind == "lightrnn" else None)


def saved(tmp_path, model, name="c.pt", **kw):
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    seq = torch.randint(0, V, (6, 3))  # (T + 1, B)
    model(seq[:-1], seq[1:], model.init_hidden(3)).loss.backward()
    opt.step()  # so the optimizer has state to save
    state = {"step": 1, "epoch": 0, "round": 2, "metrics": [{"epoch": 1, "valid_ppl": 12.5}]}
    path = tmp_path / name
    ck.save(path, ck.make_checkpoint(model, opt, {"lr": 0.01}, state, [f"w{i}" for i in range(V)], **kw))
    return path


def draws():
    return (random.random(), random.gauss(0, 1), float(np.random.rand()), float(np.random.randn()),
            torch.rand(3).tolist(), torch.randn(2).tolist())


def test_rng_state_round_trips_through_a_weights_only_file(tmp_path):
    random.gauss(0, 1), np.random.randn()  # leave a cached Gaussian in both generators
    ck.save(tmp_path / "c.pt", {"rng": ck.get_rng_state()})
    expected = draws()
    draws()  # move every generator on
    ck.set_rng_state(torch.load(tmp_path / "c.pt", weights_only=True)["rng"])
    assert draws() == expected


@pytest.mark.parametrize("kind", ["lightrnn", "full", "adaptive", "slim"])
def test_rebuilt_model_is_identical(tmp_path, kind):
    model = tiny_model(kind)
    path = saved(tmp_path, model, hidden=model.init_hidden(3))
    raw = torch.load(path, weights_only=True)  # plain tensors and primitives only
    assert raw["format"] == "lightrnn-checkpoint" and raw["version"] == 1 and raw["round"] == 2
    assert raw["vocab_words"][3] == "w3" and raw["metrics"][0]["valid_ppl"] == 12.5
    assert raw["optimizer"]["state"]  # Adam moments are in the file
    assert len(raw["hidden"]) == 2 and raw["hidden"][0].shape == (2, 3, 8)
    rebuilt = ck.build_model_from_checkpoint(ck.load(path))
    assert type(rebuilt) is type(model) and rebuilt.config == model.config
    model.eval(), rebuilt.eval()
    x = torch.randint(0, V, (6, 2))
    with torch.no_grad():
        a, _ = model.log_prob(x, model.init_hidden(2))
        b, _ = rebuilt.log_prob(x, rebuilt.init_hidden(2))
    assert torch.equal(a, b)
    if kind == "lightrnn":
        assert rebuilt.table == model.table
        assert raw["table_cells"].dtype == torch.int32 and raw["table_shape"] == list(model.table.shape)
    else:
        assert raw["table_cells"] is None


def test_table_override_keeps_row_and_column_vectors_in_place(tmp_path):
    model = tiny_model("lightrnn")
    path = saved(tmp_path, model)
    other = WordTable.random(V, 99)
    rebuilt = ck.build_model_from_checkpoint(ck.load(path), table=other)
    assert rebuilt.table == other and rebuilt.table != model.table
    a, b = model.state_dict(), rebuilt.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_bad_files_raise_checkpoint_error_naming_the_file(tmp_path):
    good = saved(tmp_path, tiny_model("full"))
    data = good.read_bytes()
    cases = {
        "truncated.pt": data[: len(data) // 2],
        "empty.pt": b"",
        "text.pt": b"hello, I am not a checkpoint\n",
    }
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ck.CheckpointError, match=f"{name}: not a readable checkpoint"):
            ck.load(tmp_path / name)
    # a pickle with arbitrary objects is refused by weights_only loading, not executed
    with open(tmp_path / "evil.pt", "wb") as f:
        pickle.dump({"format": "lightrnn-checkpoint", "x": random.Random()}, f)
    with pytest.raises(ck.CheckpointError, match="evil.pt: not a readable checkpoint"):
        ck.load(tmp_path / "evil.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "foreign.pt")
    with pytest.raises(ck.CheckpointError, match="foreign.pt: not a LightRNN checkpoint"):
        ck.load(tmp_path / "foreign.pt")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(ck.CheckpointError, match="list.pt: not a LightRNN checkpoint"):
        ck.load(tmp_path / "list.pt")
    raw = torch.load(good, weights_only=True)
    torch.save({**raw, "version": 7}, tmp_path / "future.pt")
    with pytest.raises(ck.CheckpointError, match="future.pt: checkpoint version 7, this code reads 1"):
        ck.load(tmp_path / "future.pt")
    torch.save({k: v for k, v in raw.items() if k != "model"}, tmp_path / "nomodel.pt")
    with pytest.raises(ck.CheckpointError, match=r"nomodel.pt: checkpoint lacks \['model'\]"):
        ck.load(tmp_path / "nomodel.pt")
    torch.save({**raw, "model_config": "full"}, tmp_path / "badcfg.pt")
    with pytest.raises(ck.CheckpointError, match="badcfg.pt: 'model_config' is a str"):
        ck.load(tmp_path / "badcfg.pt")
    with pytest.raises(ck.CheckpointError, match="no such checkpoint file"):
        ck.load(tmp_path / "missing.pt")
    # weights that do not fit the saved architecture
    torch.save({**raw, "model_config": {**raw["model_config"], "hidden_dim": 9}}, tmp_path / "mismatch.pt")
    with pytest.raises(ck.CheckpointError, match=r"weights do not fit the architecture in its model_config "
                                                 r"\(full, 2 x 9 LSTM.*\): \S+ is \(\d+(, \d+)*\) in the file, "
                                                 r"\(\d+(, \d+)*\) in the model"):
        ck.build_model_from_checkpoint(ck.load(tmp_path / "mismatch.pt"))


def test_failed_save_leaves_the_previous_file_intact(tmp_path):
    path = saved(tmp_path, tiny_model("full"))
    before = path.read_bytes()
    with pytest.raises(Exception):
        ck.save(path, {"format": "lightrnn-checkpoint", "bad": lambda: None})  # cannot be pickled
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pt"]  # no temporary file left behind
