import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
from _run import run_cli  # noqa: E402

init = json.loads(snakemake.params.init)  # noqa: F821
argv = ["init-table", "--vocab", snakemake.input[0], "--out", snakemake.output[0],  # noqa: F821
        "--method", init["method"], "--seed", init["seed"]]
if init.get("file"):
    argv += ["--from", init["file"]]
run_cli(snakemake, argv)  # noqa: F821
