"""Summary JSON/Markdown and plots of a finished run (lightrnn.report)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
from _run import logged  # noqa: E402

sm = snakemake  # noqa: F821
with logged(sm):
    from lightrnn.report import write_summary

    write_summary(metrics=list(sm.input.metrics), reallocs=list(sm.input.reallocs), evals=list(sm.input.evals),
                  vocab=sm.input.vocab, table=sm.input.table[0] if sm.input.table else None,
                  summary_json=sm.output.summary, summary_md=sm.output.markdown,
                  perplexity_png=sm.output.perplexity, realloc_png=sm.output.realloc, table_png=sm.output.table,
                  benchmarks=list(sm.input.benchmarks),
                  splits={split: getattr(sm.input, split) for split in ("train", "valid", "test")})
