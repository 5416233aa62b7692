"""vocab.tsv validation and the dataclass -> argparse helper."""
import argparse
import dataclasses

import pytest

from lightrnn.cli_args import add_dataclass_args, dataclass_from_args
from lightrnn.vocab import CorpusError, Vocab, build_vocab


@pytest.mark.parametrize("text, message", [
    ("<unk>\t1\n<eos>\t2\na\t3\na\t1\n", r"'a' appears twice"),
    ("<unk>\t1\n<eos>\t2\na\t-3\n", r"negative count -3"),
    ("<eos>\t2\na\t3\n", r"lacks the special word <unk>"),
    ("<unk>\t1\n<eos>\t2\na b\t3\n", r"v.tsv:3: expected 'word<TAB>count'|contains whitespace"),
    ("<unk>\t1\n<eos>\t2\na\t3\t4\n", r"v.tsv:3: expected 'word<TAB>count'"),
])
def test_vocab_load_rejects_bad_files(tmp_path, text, message):
    (tmp_path / "v.tsv").write_text(text, encoding="utf-8")
    with pytest.raises(CorpusError, match=message):
        Vocab.load(tmp_path / "v.tsv")


def test_vocab_ties_break_by_word_and_unknowns_map_to_unk(tmp_path):
    p = tmp_path / "t.txt"
    p.write_text("b a c\nc b a\n", encoding="utf-8")
    v = build_vocab(p)
    # every count is 2: ties sort by the word itself ('<' sorts before letters); <unk> (0) last
    assert v.words == ["<eos>", "a", "b", "c", "<unk>"]
    assert v.encode_line("a zzz").tolist() == [v.id("a"), v.unk_id, v.eos_id]


@dataclasses.dataclass
class _Demo:
    hidden_size: int = dataclasses.field(default=4, metadata={"help": "width of the thing"})
    use_bias: bool = dataclasses.field(default=True, metadata={"help": "whether to add a bias"})
    sizes: list[int] = dataclasses.field(default_factory=lambda: [1, 2], metadata={"help": "cut-offs"})
    name: str = dataclasses.field(default="x", metadata={"help": "a label", "choices": ("x", "y", "z")})
    seed: int = 0  # no metadata: the flag's help is the field's name


def test_dataclass_args_flags_help_and_overrides():
    parser = argparse.ArgumentParser()
    add_dataclass_args(parser, _Demo)
    text = " ".join(parser.format_help().split())
    assert "width of the thing (default: 4)" in text and "a label (default: x)" in text
    assert "--seed SEED seed (default: 0)" in text
    args = parser.parse_args(["--hidden-size", "8", "--no-use-bias", "--sizes", "3,5"])
    assert dataclass_from_args(_Demo, args) == _Demo(8, False, [3, 5], "x", 0)
    # a saved config sits under given flags, overrides above them
    args = parser.parse_args(["--name", "y"])
    assert dataclass_from_args(_Demo, args, base={"hidden_size": 2, "name": "z"}, use_bias=False) == _Demo(2, False, [1, 2], "y")
    with pytest.raises(SystemExit):
        parser.parse_args(["--sizes", "3,x"])
    with pytest.raises(SystemExit):  # not one of the field's choices
        parser.parse_args(["--name", "w"])
