# Summary (JSON + Markdown) and plots; `snakemake --report report.html` embeds them.




rule summarize:
    input:
        metrics=lambda w: [f"{RES}/train/metrics_{r}.csv" for r in range(n_rounds())],
        reallocs=lambda w: [f"{RES}/realloc/realloc_{r}.json" for r in range(1, n_rounds())],
        evals=[f"{RES}/eval/valid.json", f"{RES}/eval/test.json"],
        vocab=f"{RES}/data/vocab.tsv",
        table=lambda w: f"{RES}/tables/table_{n_rounds() - 1}.npz" if lightrnn_model() == "lightrnn" else [],
    output:
        summary=f"{RES}/summary.json",
        markdown=report(f"{RES}/summary.md", category="Summary"),
        perplexity=report(f"{RES}/plots/perplexity.png", category="Training"),
        realloc=report(f"{RES}/plots/reallocation.png", category="Reallocation"),
        table=report(f"{RES}/plots/table.png", category="Word table"),
    conda:
        "../envs/lightrnn.yaml"
    log:
        f"{RES}/logs/summarize.log",
    script:
        "scripts/summarize.py"
