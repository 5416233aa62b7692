# Final evaluation of the last round's checkpoint (valid and test perplexity, <eos> counted).


def last_checkpoint():
    last = LAST if lightrnn_model() == "lightrnn" else 0
    return f"{RES}/train/checkpoint_{last}.pt"


rule evaluate:
    input:
        checkpoint=last_checkpoint(),
        data=f"{RES}/data/{{split}}.npy",
    output:
        f"{RES}/eval/{{split}}.json",
    params:
        evaluate=config["evaluate"],
    log:
        f"{RES}/logs/evaluate_{{split}}.log",
    script:
        "scripts/evaluate.py"
