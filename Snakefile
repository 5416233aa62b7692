# LightRNN workflow: corpus -> vocabulary -> round-0 table -> (train round r -> reallocate) x rounds
# -> evaluation -> report.  `snakemake --cores 2` runs config/config.yaml (PTB, CPU).
from snakemake.utils import min_version, validate

min_version("8.0")

configfile: "config/config.yaml"

validate(config, "config/schema.yaml")

include: "pipeline/common.smk"
include: "pipeline/data.smk"
include: "pipeline/train.smk"
include: "pipeline/realloc.smk"
include: "pipeline/evaluate.smk"
include: "pipeline/report.smk"


rule all:
    input:
        final_outputs(),
    default_target: True
