"""This run beside the finished runs named by the `compare` key: one plot, one table (lightrnn.compare)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
from _run import logged  # noqa: E402

sm = snakemake  # noqa: F821
with logged(sm):
    from lightrnn.compare import write_compare

    write_compare(list(sm.input.summaries), png=sm.output.plot, markdown=sm.output.markdown)
    print(Path(sm.output.markdown).read_text(encoding="utf-8"), end="")
