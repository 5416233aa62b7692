import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
from _run import run_cli  # noqa: E402

v = json.loads(snakemake.params.vocab)  # noqa: F821
argv = ["build-vocab", "--train", snakemake.input[0], "--out", snakemake.output[0],  # noqa: F821
        "--min-count", v["min_count"]]
if v.get("max_size"):
    argv += ["--max-size", v["max_size"]]
run_cli(snakemake, argv)  # noqa: F821
