# Reallocate after round r-1: checkpoint r-1 -> table r (exact, certified assignment).

ruleorder: init_table > realloc


rule realloc:
    input:
        checkpoint=lambda w: f"{RES}/train/checkpoint_{int(w.r) - 1}.pt",
        train=f"{RES}/data/train.npy",
    output:
        table=f"{RES}/tables/table_{{r}}.npz",
        report=f"{RES}/realloc/realloc_{{r}}.json",
    params:
        realloc=canonical("realloc"),
        code=CODE_REALLOC,
    resources:
        **train_resources(),
    conda:
        "../envs/lightrnn.yaml"
    log:
        f"{RES}/logs/realloc_{{r}}.log",
    benchmark:
        f"{RES}/benchmarks/realloc_{{r}}.tsv"
    script:
        "scripts/realloc.py"
