# Final evaluation of the last round's checkpoint (valid and test perplexity, <eos> counted).


rule evaluate:
    input:
        checkpoint=last_checkpoint(),
        data=f"{RES}/data/{{split}}.npy",
    output:
        f"{RES}/eval/{{split}}.json",
    params:
        evaluate=canonical("evaluate"),
        device=config["train"]["device"],
        code=CODE_MODEL,
    conda:
        "../envs/lightrnn.yaml"
    log:
        f"{RES}/logs/evaluate_{{split}}.log",
    script:
        "scripts/evaluate.py"
