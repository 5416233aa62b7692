"""One source of truth for defaults: config/config.yaml (the workflow's), the `default:` keys of
config/schema.yaml, the config dataclasses and the command line's flags must agree."""
import dataclasses
from pathlib import Path

import pytest
import yaml

from lightrnn.cli import build_parser
from lightrnn.config import DEVICE_PATTERN, DEVICES, MODEL_TYPES, OPTIMIZERS, ModelConfig, TrainConfig

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
SCHEMA = yaml.safe_load((ROOT / "config" / "schema.yaml").read_text())

# Workflow keys whose default is deliberately not the library's, and why.
WORKFLOW_ONLY = {
    "train.epochs": "one entry per LightRNN round; TrainConfig.epochs is one round's count",
    "train.num_threads": "the Snakemake threads of a job; the library leaves the choice to torch",
    "train.checkpoint_every": "workflow jobs resume after being killed; a library run saves at its end",
}


def config_leaves(config: dict, schema: dict, prefix: str = ""):
    """(dotted key, config.yaml value, schema property) for every setting of config.yaml."""
    for key, value in config.items():
        prop = schema["properties"].get(key)
        assert prop is not None, f"config.yaml key {prefix}{key} is not in schema.yaml"
        if prop.get("type") == "object":
            yield from config_leaves(value, prop, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value, prop


def schema_leaves(schema: dict, prefix: str = ""):
    for key, prop in schema["properties"].items():
        if prop.get("type") == "object":
            yield from schema_leaves(prop, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", prop


def test_schema_defaults_are_the_config_yaml_values():
    for key, value, prop in config_leaves(CONFIG, SCHEMA):
        assert "default" in prop, f"schema.yaml gives {key} no default"
        assert prop["default"] == value and type(prop["default"]) is type(value), \
            f"{key}: schema.yaml default {prop['default']!r}, config.yaml {value!r}"
    listed = {key for key, _, _ in config_leaves(CONFIG, SCHEMA)}
    unlisted = {key for key, _ in schema_leaves(SCHEMA)} - listed
    assert not unlisted, f"schema.yaml keys missing from config.yaml: {sorted(unlisted)}"


def test_dataclass_defaults_are_the_workflow_defaults():
    for section, cls in (("model", ModelConfig), ("train", TrainConfig)):
        fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "vocab_size"}
        assert set(CONFIG[section]) == set(fields), f"{section}: config.yaml and {cls.__name__} list other keys"
        for name, f in fields.items():
            if f"{section}.{name}" in WORKFLOW_ONLY:
                continue
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            assert CONFIG[section][name] == default, \
                f"{section}.{name}: config.yaml {CONFIG[section][name]!r}, {cls.__name__} {default!r}"


def test_command_line_defaults_are_the_workflow_defaults():
    parser = build_parser()
    realloc = parser.parse_args(["realloc", "--checkpoint", "c.pt", "--train", "t.npy", "--out-table", "t.npz",
                                 "--report", "r.json"])
    for key, value in CONFIG["realloc"].items():
        assert getattr(realloc, key) == value, f"lightrnn realloc --{key.replace('_', '-')} default differs"
    evaluate = parser.parse_args(["evaluate", "--checkpoint", "c.pt", "--data", "d.npy"])
    for key, value in CONFIG["evaluate"].items():
        assert getattr(evaluate, key) == value, f"lightrnn evaluate --{key.replace('_', '-')} default differs"


def test_choices_are_the_schema_values():
    """--model, --optimizer and every --device accept what config/schema.yaml accepts."""
    props = {key: prop for key, prop in schema_leaves(SCHEMA)}
    assert props["model.model"]["enum"] == list(MODEL_TYPES)
    assert props["train.optimizer"]["enum"] == list(OPTIMIZERS)
    for key in ("train.device", "realloc.device"):
        assert props[key]["pattern"] == f"^({DEVICE_PATTERN})$", key
    assert all(d in DEVICES for d in ("auto", "cpu", "cuda", "cuda:0", "cuda:12"))
    assert not any(d in DEVICES for d in ("gpu", "cuda:", "cuda:N", "cpu:0", None))
    parser = build_parser()
    base = {"train": ["train", "--vocab", "v", "--train", "t", "--out", "o"],
            "evaluate": ["evaluate", "--checkpoint", "c", "--data", "d"],
            "realloc": ["realloc", "--checkpoint", "c", "--train", "t", "--out-table", "o", "--report", "r"],
            "predict": ["predict", "--checkpoint", "c"]}
    for command, argv in base.items():
        assert parser.parse_args([*argv, "--device", "cuda:1"]).device == "cuda:1"
        with pytest.raises(SystemExit):
            parser.parse_args([*argv, "--device", "gpu"])
    for flag, good in (("--model", MODEL_TYPES), ("--optimizer", OPTIMIZERS)):
        for value in good:
            assert getattr(parser.parse_args([*base["train"], flag, value]), flag[2:]) == value
        with pytest.raises(SystemExit):
            parser.parse_args([*base["train"], flag, "other"])


def test_flag_help_is_the_field_metadata():
    """Every config field documents itself (metadata help); `lightrnn train --help` shows it."""
    parser = build_parser()
    train = next(a for a in parser._subparsers._group_actions[0].choices.items() if a[0] == "train")[1]
    text = " ".join(train.format_help().split())
    for cls in (ModelConfig, TrainConfig):
        for f in dataclasses.fields(cls):
            assert f.metadata.get("help"), f"{cls.__name__}.{f.name} has no help"
            assert " ".join(f.metadata["help"].split()) in text, f.name
