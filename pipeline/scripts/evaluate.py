import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
from _run import run_cli  # noqa: E402

sm = snakemake  # noqa: F821
ev = json.loads(sm.params.evaluate)
run_cli(sm, ["evaluate", "--checkpoint", sm.input.checkpoint, "--data", sm.input.data, "--name", sm.wildcards.split,
             "--batch-size", ev["batch_size"], "--bptt", ev["bptt"], "--device", sm.params.device,
             "--out", sm.output[0]])
