# LightRNN workflow: corpus -> vocabulary -> round-0 table -> (train round r -> reallocate) x rounds
# -> evaluation -> report.  `snakemake --cores 2` runs config/config.yaml (PTB, CPU).
from pathlib import Path

import yaml
from snakemake.utils import min_version, update_config, validate

min_version("8.0")


# config/config.yaml (next to this Snakefile) holds every key's default; files given with
# --configfile and --config values are layered over it, so they only need the keys they change.
# (Not a `configfile:` directive: Snakemake resolves that against the working directory, which
# breaks --directory, and skips it entirely when --configfile is given.)
with open(Path(workflow.basedir) / "config" / "config.yaml", encoding="utf-8") as _f:
    _defaults = yaml.safe_load(_f)
update_config(_defaults, config)
config.clear()
config.update(_defaults)

validate(config, "config/schema.yaml")


report: "pipeline/report/workflow.rst"


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
