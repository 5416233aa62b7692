import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
from _run import run_cli  # noqa: E402

run_cli(snakemake, ["encode", "--vocab", snakemake.input.vocab, "--text", snakemake.input.text,  # noqa: F821
                    "--out", snakemake.output[0]])  # noqa: F821
