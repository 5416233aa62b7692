"""Train one round through `lightrnn train` (resumes from OUT.partial after an interruption)."""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
from _run import run_cli  # noqa: E402

sm = snakemake  # noqa: F821
train = dict(json.loads(sm.params.train))
train["epochs"] = sm.params.epochs
argv = ["train", "--vocab", sm.input.vocab, "--train", sm.input.train, "--valid", sm.input.valid,
        "--out", sm.output.checkpoint, "--metrics", sm.output.metrics, "--round", sm.params.round]
if sm.params.round == 0:
    argv += __import__("_flags").flags(json.loads(sm.params.model))
    if json.loads(sm.params.model).get("model", "lightrnn") == "lightrnn":
        argv += ["--table", sm.input.table]
else:
    argv += ["--init-from", sm.input.init_from, "--table", sm.input.table]
argv += __import__("_flags").flags(train)
run_cli(sm, argv)
