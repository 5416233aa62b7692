# Summary (JSON + Markdown) and plots; `snakemake --report report.html` embeds them.


rule summarize:
    input:
        metrics=[f"{RES}/train/metrics_{r}.csv" for r in range(n_rounds())],
        reallocs=[f"{RES}/realloc/realloc_{r}.json" for r in range(1, n_rounds())],
        evals=[f"{RES}/eval/valid.json", f"{RES}/eval/test.json"],
        vocab=f"{RES}/data/vocab.tsv",
        train=f"{RES}/data/train.npy",
        valid=f"{RES}/data/valid.npy",
        test=f"{RES}/data/test.npy",
        table=[f"{RES}/tables/table_{n_rounds() - 1}.npz"] if lightrnn_model() else [],
        benchmarks=[f"{RES}/benchmarks/train_{r}.tsv" for r in range(n_rounds())]
        + [f"{RES}/benchmarks/realloc_{r}.tsv" for r in range(1, n_rounds())],
    output:
        summary=report(f"{RES}/summary.json", caption="report/summary.rst", category="Summary"),
        markdown=report(f"{RES}/summary.md", caption="report/summary.rst", category="Summary"),
        perplexity=report(f"{RES}/plots/perplexity.png", caption="report/perplexity.rst", category="Training"),
        realloc=report(f"{RES}/plots/reallocation.png", caption="report/reallocation.rst",
                       category="Reallocation"),
        table=report(f"{RES}/plots/table.png", caption="report/table.rst", category="Word table"),
    params:
        code=CODE_REPORT,
    conda:
        "../envs/lightrnn.yaml"
    log:
        f"{RES}/logs/summarize.log",
    script:
        "scripts/summarize.py"


rule compare:
    input:
        summaries=[f"{RES}/summary.json"] + [f"{d}/summary.json" for d in config["compare"]],
    output:
        markdown=report(f"{RES}/compare.md", caption="report/compare.rst", category="Comparison"),
        plot=report(f"{RES}/plots/compare.png", caption="report/compare.rst", category="Comparison"),
    params:
        code=CODE_REPORT,
    conda:
        "../envs/lightrnn.yaml"
    log:
        f"{RES}/logs/compare.log",
    script:
        "scripts/compare.py"
