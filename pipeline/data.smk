# Corpus -> text splits -> vocabulary (train only) -> encoded int32 splits -> round-0 table.


rule prepare_corpus:
    input:
        unpack(corpus_inputs),
    output:
        train=f"{RES}/data/train.txt",
        valid=f"{RES}/data/valid.txt",
        test=f"{RES}/data/test.txt",
    params:
        corpus=canonical("corpus"),
        code=CODE_DATA,
    conda:
        "../envs/lightrnn.yaml"
    log:
        f"{RES}/logs/prepare_corpus.log",
    script:
        "scripts/prepare_corpus.py"


rule build_vocab:
    input:
        f"{RES}/data/train.txt",
    output:
        f"{RES}/data/vocab.tsv",
    params:
        vocab=canonical("vocab"),
        code=CODE_DATA,
    conda:
        "../envs/lightrnn.yaml"
    log:
        f"{RES}/logs/build_vocab.log",
    script:
        "scripts/build_vocab.py"


rule encode:
    input:
        vocab=f"{RES}/data/vocab.tsv",
        text=f"{RES}/data/{{split}}.txt",
    output:
        f"{RES}/data/{{split}}.npy",
    params:
        code=CODE_DATA,
    conda:
        "../envs/lightrnn.yaml"
    log:
        f"{RES}/logs/encode_{{split}}.log",
    script:
        "scripts/encode.py"


rule init_table:
    input:
        f"{RES}/data/vocab.tsv",
    output:
        f"{RES}/tables/table_0.npz",
    params:
        init=canonical("init_table"),
        rows=config["model"]["table_rows"],
        cols=config["model"]["table_cols"],
        code=CODE_DATA,
    conda:
        "../envs/lightrnn.yaml"
    log:
        f"{RES}/logs/init_table.log",
    script:
        "scripts/init_table.py"
