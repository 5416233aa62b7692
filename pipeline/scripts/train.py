"""Train one round through `lightrnn train` (resumes from OUT.partial after an interruption)."""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
from _flags import flags  # noqa: E402
from _run import run_cli  # noqa: E402

from lightrnn.config import OPERATIONAL_TRAIN_KEYS  # noqa: E402

sm = snakemake  # noqa: F821
train = dict(json.loads(sm.params.train), epochs=sm.params.epochs)
# Operational keys are not params (changing them must not rerun training); threads follow the job's.
train.update({k: sm.config["train"][k] for k in OPERATIONAL_TRAIN_KEYS}, num_threads=sm.threads)
argv = ["train", "--vocab", sm.input.vocab, "--train", sm.input.train, "--valid", sm.input.valid,
        "--out", sm.output.checkpoint, "--metrics", sm.output.metrics, "--round", sm.params.round]
if sm.params.round == 0:
    model = json.loads(sm.params.model)
    argv += flags(model)
    if model["model"] == "lightrnn":
        argv += ["--table", sm.input.table]
else:
    argv += ["--init-from", sm.input.init_from, "--table", sm.input.table]
run_cli(sm, argv + flags(train), nproc=int(sm.config["resources"].get("nproc", 1)))
