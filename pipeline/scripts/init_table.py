import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
from _run import run_cli  # noqa: E402

sm = snakemake  # noqa: F821
init = json.loads(sm.params.init)
argv = ["init-table", "--vocab", sm.input[0], "--out", sm.output[0], "--method", init["method"], "--seed", init["seed"]]
if init["file"]:
    argv += ["--from", init["file"]]
if sm.params.rows:
    argv += ["--rows", sm.params.rows]
if sm.params.cols:
    argv += ["--cols", sm.params.cols]
run_cli(sm, argv)
