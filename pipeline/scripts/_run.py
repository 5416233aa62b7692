"""Run a `lightrnn` subcommand from a Snakemake script with its output in the rule's log."""
import contextlib
import sys


def run_cli(snakemake, argv):
    from lightrnn.cli import main

    argv = [str(a) for a in argv]
    with open(snakemake.log[0], "w") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        print("lightrnn " + " ".join(argv), flush=True)
        rc = main(argv)
    if rc != 0:
        sys.exit(f"lightrnn {argv[0]} failed (exit {rc}); see {snakemake.log[0]}")
