# Shared helpers: paths, the number of rounds, narrow params, per-stage hashes of the sources.
import hashlib
import json
import sys
from pathlib import Path

# The package's own sources serve where the Snakefile's environment lacks it (--use-conda).
sys.path.append(str(Path(workflow.basedir)))
from lightrnn.config import OPERATIONAL_TRAIN_KEYS  # noqa: E402


wildcard_constraints:
    r=r"\d+",
    split=r"train|valid|test",


RES = config["results_dir"].rstrip("/")
PKG = Path(workflow.basedir) / "lightrnn"
CPP = Path(workflow.basedir) / "cpp"
# Training keys that change how a run goes but not its results: passed to `lightrnn train` but
# left out of the rule's params, so changing them reruns nothing.
OPERATIONAL_TRAIN = OPERATIONAL_TRAIN_KEYS


def source_hash(*names):
    """Hash of the package sources a stage depends on: editing them reruns that stage and later."""
    h = hashlib.sha256()
    for name in names:
        for f in sorted(PKG.glob(name)) + sorted(CPP.glob(name)):
            h.update(f.name.encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


CODE_DATA = source_hash("vocab.py", "corpus.py", "table.py", "cli_data.py")
CODE_MODEL = source_hash("config.py", "model.py", "baselines.py", "slim.py", "factory.py", "table.py",
                         "data.py", "train.py", "rounds.py", "distributed.py", "checkpoint.py", "metrics.py",
                         "cli_train.py", "cli_args.py", "corpus.py", "vocab.py")
CODE_REALLOC = source_hash("realloc.py", "assign.py", "assign_scipy.py", "cli_realloc.py", "assign/*.cpp", "assign/*.hpp",
                           "bindings.cpp")
CODE_REPORT = source_hash("report.py", "metrics.py", "viz.py", "compare.py")


def lightrnn_model():
    return config["model"]["model"] == "lightrnn"


def n_rounds():
    """Training rounds: peers (no table) train all their epochs in one round."""
    return int(config["rounds"]) if lightrnn_model() else 1


def round_epochs(r):
    """Epochs of round r: `train.epochs` is one count for every round or a list, one per round
    (reallocating early and often, then training longer, measured best on PTB: README).  Peers
    train the whole schedule's epochs in their one round."""
    per_round = workflow_config.round_epochs_list(config)
    # Peers: the schedule's total; 0.25 + 0.75 + 1 + ... sums exactly in binary floating point
    # only by luck, so round away the noise (a fraction is at least one batch, far above it).
    return per_round[r] if lightrnn_model() else round(sum(per_round), 9)


def last_checkpoint():
    return f"{RES}/train/checkpoint_{n_rounds() - 1}.pt"


def final_outputs():
    out = [f"{RES}/eval/valid.json", f"{RES}/eval/test.json", f"{RES}/summary.json", f"{RES}/summary.md"]
    return out + ([f"{RES}/compare.md", f"{RES}/plots/compare.png"] if config["compare"] else [])


def gpu_resources():
    """GPUs a training / reallocation job asks for: 0 by default, so `--cores 2` runs on a CPU."""
    return {"gpu": int(config["resources"]["gpu"])}


def canonical(section, drop=()):
    """A config section as key-sorted JSON without the ``drop`` keys: params compare by value,
    not by key order (the same keys in another order must not rerun anything)."""
    return json.dumps({k: v for k, v in config[section].items() if k not in drop}, sort_keys=True)


def corpus_inputs(wildcards):
    """Your own text files are inputs (editing them reruns); PTB comes from the package."""
    c = config["corpus"]
    return {s: c[s] for s in ("train", "valid", "test")} if c["source"] == "files" else {}
