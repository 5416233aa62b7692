import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
from _run import run_cli  # noqa: E402

sm = snakemake  # noqa: F821
p = json.loads(sm.params.realloc)
run_cli(sm, ["realloc", "--checkpoint", sm.input.checkpoint, "--train", sm.input.train,
             "--out-table", sm.output.table, "--report", sm.output.report, "--losses", sm.output.losses,
             "--batch-size", p["batch_size"], "--bptt", p["bptt"], "--sample", p["sample"], "--candidates", p["candidates"],
             "--method", p["method"], "--max-seconds", p["max_seconds"], "--gap-tol", p["gap_tol"],
             "--device", p["device"], "--num-threads", sm.threads],
        nproc=int(sm.config["resources"].get("nproc", 1)))
