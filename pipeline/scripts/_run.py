"""Run a pipeline step from a Snakemake script with its output in the rule's log.

A step that fails ends its job with one line, the same line that ends the rule's log: the error
message of the `lightrnn` command line (file, flag or key, and value), or for an unexpected
exception its type and message (its traceback goes into the log above that line).
"""
import contextlib
import sys
import traceback
from pathlib import Path


def _last_error_line(log_path) -> str | None:
    """The `lightrnn CMD: error: ...` line a failed command printed into the log, if any."""
    with contextlib.suppress(OSError):
        lines = Path(log_path).read_text(encoding="utf-8", errors="replace").splitlines()
        for line in reversed(lines):
            if ": error: " in line and line.startswith("lightrnn "):
                return line.strip()
    return None


@contextlib.contextmanager
def logged(snakemake):
    """Run the body with stdout and stderr in the rule's log; on an error, end the log and the
    job with one line naming it."""
    log_path = snakemake.log[0]
    # Line-buffered: each line reaches the log file as it is written, so a running job's log
    # shows its progress (a block-buffered file showed nothing until 8 KiB had gathered).
    with open(log_path, "w", buffering=1) as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        try:
            yield log
        except SystemExit:
            raise
        except Exception as e:
            from lightrnn.cli import error_message

            message = error_message(e)
            if message is None:
                traceback.print_exc(file=log)
                message = f"{type(e).__name__}: {e} (traceback in {log_path})"
            print(f"error: {message}", file=log, flush=True)
            failure = message
        else:
            failure = None
    if failure is not None:
        sys.exit(f"{snakemake.rule}: error: {failure}")


def run_cli(snakemake, argv, nproc=1):
    """In this process, or with ``nproc > 1`` under torchrun (one data-parallel rank each)."""
    from lightrnn.cli import main

    argv = [str(a) for a in argv]
    log_path = snakemake.log[0]
    if nproc > 1:
        import subprocess

        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc),
               "-m", "lightrnn", *argv]
        with open(log_path, "w") as log:
            print(" ".join(cmd), file=log, flush=True)
            rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT).returncode
        if rc != 0:
            sys.exit(_last_error_line(log_path) or f"torchrun lightrnn {argv[0]} failed (exit {rc}); see {log_path}")
        return
    with logged(snakemake):
        print("lightrnn " + " ".join(argv), flush=True)
        rc = main(argv)
    if rc != 0:
        sys.exit(_last_error_line(log_path) or f"lightrnn {argv[0]} failed (exit {rc}); see {log_path}")
