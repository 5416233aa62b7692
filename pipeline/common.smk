# Shared helpers: paths, the last round, per-stage hashes of the package sources.
import hashlib
import json
from pathlib import Path

wildcard_constraints:
    r=r"\d+",
    split=r"train|valid|test",

RES = config["results_dir"].rstrip("/")
LAST = int(config["rounds"]) - 1
PKG = Path(workflow.basedir) / "lightrnn"
CPP = Path(workflow.basedir) / "cpp"


def source_hash(*names):
    """Hash of package sources a stage depends on: editing them reruns that stage and later."""
    h = hashlib.sha256()
    for name in names:
        for f in sorted(PKG.glob(name)) + sorted(CPP.glob(name)):
            h.update(f.name.encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


CODE_DATA = source_hash("vocab.py", "corpus.py", "cli_data.py")
CODE_MODEL = source_hash("config.py", "model.py", "baselines.py", "slim.py", "factory.py", "table.py",
                         "train.py", "checkpoint.py", "cli_train.py", "cli_args.py")
CODE_REALLOC = source_hash("realloc.py", "assign.py", "cli_realloc.py", "assign/*.cpp", "assign/*.hpp")


def lightrnn_model():
    return config["model"].get("model", "lightrnn")


def final_outputs():
    outs = [f"{RES}/eval/valid.json", f"{RES}/eval/test.json", f"{RES}/summary.json", f"{RES}/summary.md"]
    return outs

def train_resources():
    return {"gpu": int(config["resources"]["gpu"])}

def last_checkpoint():
    last = LAST if lightrnn_model() == "lightrnn" else 0
    return f"{RES}/train/checkpoint_{last}.pt"

def n_rounds():
    return int(config["rounds"]) if lightrnn_model() == "lightrnn" else 1


def canonical(section):
    """A config section as key-sorted JSON: params compare by value, not by key order (a config
    file that lists the same keys in another order must not rerun anything)."""
    return json.dumps(config[section], sort_keys=True)
