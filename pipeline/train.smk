# Train round r: round 0 from random weights and table 0 (explicit rule), round r > 0 from
# checkpoint r-1 and table r (written by reallocation). Peers (full, adaptive, slim) train one
# round of all the rounds' epochs (`train.epochs`: one count per round, or a list).


rule train_round0:
    input:
        vocab=f"{RES}/data/vocab.tsv",
        train=f"{RES}/data/train.npy",
        valid=f"{RES}/data/valid.npy",
        table=f"{RES}/tables/table_0.npz",
    output:
        checkpoint=f"{RES}/train/checkpoint_0.pt",
        metrics=f"{RES}/train/metrics_0.csv",
    params:
        round=0,
        model=canonical("model"),
        train=canonical("train", drop=OPERATIONAL_TRAIN + ("epochs",)),
        epochs=round_epochs(0),
        code=CODE_MODEL,
    threads: max(1, config["train"]["num_threads"])
    resources:
        **gpu_resources(),
    conda:
        "../envs/lightrnn.yaml"
    log:
        f"{RES}/logs/train_0.log",
    benchmark:
        f"{RES}/benchmarks/train_0.tsv"
    script:
        "scripts/train.py"


rule train_round:
    input:
        vocab=f"{RES}/data/vocab.tsv",
        train=f"{RES}/data/train.npy",
        valid=f"{RES}/data/valid.npy",
        table=f"{RES}/tables/table_{{r}}.npz",
        init_from=lambda w: f"{RES}/train/checkpoint_{int(w.r) - 1}.pt",
    output:
        checkpoint=f"{RES}/train/checkpoint_{{r}}.pt",
        metrics=f"{RES}/train/metrics_{{r}}.csv",
    wildcard_constraints:
        r=r"[1-9]\d*",
    params:
        round=lambda w: int(w.r),
        train=canonical("train", drop=OPERATIONAL_TRAIN + ("epochs",)),
        epochs=lambda w: round_epochs(int(w.r)),
        code=CODE_MODEL,
    threads: max(1, config["train"]["num_threads"])
    resources:
        **gpu_resources(),
    conda:
        "../envs/lightrnn.yaml"
    log:
        f"{RES}/logs/train_{{r}}.log",
    benchmark:
        f"{RES}/benchmarks/train_{{r}}.tsv"
    script:
        "scripts/train.py"
