# Reallocate after round r-1: checkpoint r-1 -> table r (exact, certified assignment).
# (table 0 comes from init_table; the constraint r >= 1 keeps the two rules apart.)


rule realloc:
    input:
        checkpoint=lambda w: f"{RES}/train/checkpoint_{int(w.r) - 1}.pt",
        train=f"{RES}/data/train.npy",
    output:
        table=f"{RES}/tables/table_{{r}}.npz",
        report=f"{RES}/realloc/realloc_{{r}}.json",
        losses=f"{RES}/realloc/losses_{{r}}.npz",
    wildcard_constraints:
        r=r"[1-9]\d*",
    params:
        realloc=canonical("realloc"),
        code=CODE_REALLOC,
    threads: max(1, config["train"]["num_threads"])
    resources:
        **gpu_resources(),
    conda:
        "../envs/lightrnn.yaml"
    log:
        f"{RES}/logs/realloc_{{r}}.log",
    benchmark:
        f"{RES}/benchmarks/realloc_{{r}}.tsv"
    script:
        "scripts/realloc.py"
