"""Run a `lightrnn` subcommand from a Snakemake script with its output in the rule's log."""
import contextlib
import sys


def run_cli(snakemake, argv, nproc=1):
    """In this process, or with ``nproc > 1`` under torchrun (one data-parallel rank each)."""
    from lightrnn.cli import main

    argv = [str(a) for a in argv]
    if nproc > 1:
        import subprocess

        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc),
               "-m", "lightrnn", *argv]
        with open(snakemake.log[0], "w") as log:
            print(" ".join(cmd), file=log, flush=True)
            rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT).returncode
        if rc != 0:
            sys.exit(f"torchrun lightrnn {argv[0]} failed (exit {rc}); see {snakemake.log[0]}")
        return
    with open(snakemake.log[0], "w") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        print("lightrnn " + " ".join(argv), flush=True)
        rc = main(argv)
    if rc != 0:
        sys.exit(f"lightrnn {argv[0]} failed (exit {rc}); see {snakemake.log[0]}")
