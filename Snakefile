# LightRNN workflow: corpus -> vocabulary -> round-0 table -> (train round r -> reallocate) x rounds
# -> evaluation -> report.  `snakemake --cores 2` runs config/config.yaml (PTB, CPU).
import sys
from pathlib import Path

from snakemake.utils import min_version

min_version("8.0")

sys.path.insert(0, str(Path(workflow.basedir) / "pipeline"))
import workflow_config  # noqa: E402


# config/config.yaml (next to this Snakefile) holds every key's default; files given with
# --configfile and --config values are layered over it, so they only need the keys they change.
# (Not a `configfile:` directive: Snakemake resolves that against the working directory, which
# breaks --directory, and skips it entirely when --configfile is given.) A bad key or value
# stops the run with one line naming it.
_configfile_warning = workflow_config.configfile_flags_warning(sys.argv)
if _configfile_warning:
    print(_configfile_warning, file=sys.stderr)
try:
    _checked_config = workflow_config.load(Path(workflow.basedir) / "config", config)
except workflow_config.ConfigError as e:
    sys.exit(f"config: {e}")
config.clear()
config.update(_checked_config)


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
