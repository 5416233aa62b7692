"""Summary JSON/Markdown and plots of a finished run (lightrnn.report)."""
import contextlib

sm = snakemake  # noqa: F821
with open(sm.log[0], "w") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
    from lightrnn.report import write_summary

    write_summary(metrics=list(sm.input.metrics), reallocs=list(sm.input.reallocs), evals=list(sm.input.evals),
                  vocab=sm.input.vocab, table=sm.input.table[0] if sm.input.table else None,
                  summary_json=sm.output.summary, summary_md=sm.output.markdown,
                  perplexity_png=sm.output.perplexity, realloc_png=sm.output.realloc, table_png=sm.output.table,
                  benchmarks=list(sm.input.benchmarks))
