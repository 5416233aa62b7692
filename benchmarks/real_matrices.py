"""Build the benchmark set of REAL reallocation loss matrices (never committed).

Each problem is what `lightrnn realloc --losses` writes after a LightRNN training round on real
text: L_r (V, R), L_c (V, C) and the table the losses were computed with (the solver's warm
start, as in the workflow).  Early in training these matrices are nearly degenerate (every word
prefers nearly the same rows), which is what makes them harder than the synthetic benchmark.

    python benchmarks/make_bigvocab_corpus.py            # data/bigvocab (once, ~3 minutes)
    python benchmarks/real_matrices.py --out benchmarks/out/real
    python benchmarks/solver.py --losses-set benchmarks/out/real --solvers ours

Problems (`--only NAME,...` builds a subset; a problem already complete in --out is kept unless
`--rebuild`):
- bv30k-e0.125, bv30k-e1: the 30,000 most frequent words of the large-vocabulary corpus
  (174 x 174 table), after 1/8 epoch and after 1 epoch of training from a random table;
- bv200k-e0.125, bv200k-e1: 200,000 words (448 x 448), after 1/8 epoch and after 1 epoch;
- bvall-e0.125, bvall-e1: every word of the training split (min_count 1: about 435,000, 660 x 660),
  after 1/8 epoch and after 1 epoch;
- ptb-r1 .. ptb-r8: PTB's reallocations from a finished default workflow run, copied from its
  results directory (`--ptb-results results`; skipped when it has none);
- PREFIX-r1 ..: the reallocations of another finished workflow run (`--workflow
  results/bigvocab:bv200k-s0.05`: config/bigvocab.yaml's two reallocations, each from a 5% sampled
  pass that leaves three quarters of the 201,216 words unseen);
- PREFIX-r1 ..: the reallocations of a bootstrap directory of checkpoints (`--checkpoints DIR
  --train-npy train.npy --prefix ptb13`, e.g. from `benchmarks/bootstrap_ptb.py`): the loss pass
  of each round's checkpoint with the table it trained with.

Training uses `lightrnn train`'s defaults (the workflow's recipe); the loss pass (the one of
`lightrnn realloc`, batch 64 x 35 tokens) covers the whole training split.  Each problem directory holds losses.npz, table.npz (the warm start) and
problem.json (how it was made, with the time of each step); a directory is written under a
temporary name and renamed when complete (`problem_dir`), so an interrupted run leaves no half problem.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

# name: (vocabulary size or 0 for every word, epochs of training before the loss pass)
BIGVOCAB = {
    "bv30k-e0.125": (30000, 0.125),
    "bv200k-e0.125": (200000, 0.125),
    "bvall-e0.125": (0, 0.125),
    "bv30k-e1": (30000, 1.0),
    "bv200k-e1": (200000, 1.0),
    "bvall-e1": (0, 1.0),
}


def run(cmd: list[str], log: Path) -> float:
    """Runs a lightrnn command, appending its output to `log`; returns its wall time."""
    t0 = time.time()
    with open(log, "a") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        f.flush()
        r = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed (exit {r.returncode}); see {log}")
    return time.time() - t0


@contextlib.contextmanager
def problem_dir(out: Path, name: str, meta: dict):
    """Yields the directory of problem `name`, written under a temporary name and renamed when the
    body has finished; problem.json holds `meta` as the body left it."""
    tmp = out / f"{name}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    yield tmp
    (tmp / "problem.json").write_text(json.dumps({"name": name, **meta}, indent=2) + "\n")
    shutil.rmtree(out / name, ignore_errors=True)
    tmp.rename(out / name)


def loss_pass(checkpoint: Path, train: Path, out: Path, threads: int):
    """The reallocation's loss pass (as `lightrnn realloc --losses`, without the solve); returns
    its seconds and the table the checkpoint was trained with (the solver's warm start)."""
    import torch

    from lightrnn import checkpoint as ck
    from lightrnn.atomic import atomic_save_npz
    from lightrnn.corpus import load_tokens
    from lightrnn.realloc import accumulate_losses

    torch.set_num_threads(threads)
    ckpt = ck.load(str(checkpoint))
    model = ck.build_model_from_checkpoint(ckpt, device=torch.device("cpu"))
    losses = accumulate_losses(model, load_tokens(str(train), model.vocab_size), device="cpu")
    atomic_save_npz(str(out), L_r=losses["L_r"], L_c=losses["L_c"], tokens=losses["tokens"])
    return losses["seconds"], model.table


def build_bigvocab(name: str, size: int, epochs: float, corpus: Path, work: Path, out: Path, threads: int) -> None:
    lr = ["lightrnn"]
    shared = work / f"vocab-{size or 'all'}"
    shared.mkdir(parents=True, exist_ok=True)
    log = work / f"{name}.log"
    times = {}
    vocab, train = shared / "vocab.tsv", shared / "train.npy"
    if not train.exists():
        size_args = ["--max-size", str(size)] if size else ["--min-count", "1"]
        times["vocab"] = run(lr + ["build-vocab", "--train", str(corpus / "train.txt"), "--out", str(vocab)] + size_args, log)
        times["encode"] = run(lr + ["encode", "--vocab", str(vocab), "--text", str(corpus / "train.txt"),
                                    "--out", str(train)], log)
    meta = {"corpus": str(corpus), "vocab_size_requested": size or "all", "epochs": epochs,
            "seconds": times, "recipe": "lightrnn train defaults", "threads": threads}
    with problem_dir(out, name, meta) as tmp:
        table = tmp / "table.npz"
        times["init_table"] = run(lr + ["init-table", "--vocab", str(vocab), "--out", str(table),
                                        "--method", "random", "--seed", "1"], log)
        times["train"] = run(lr + ["train", "--vocab", str(vocab), "--train", str(train), "--table", str(table),
                                   "--out", str(tmp / "checkpoint.pt"), "--metrics", str(tmp / "metrics.csv"),
                                   "--epochs", str(epochs), "--num-threads", str(threads), "--device", "cpu"], log)
        times["loss_pass"], _ = loss_pass(tmp / "checkpoint.pt", train, tmp / "losses.npz", threads)
        (tmp / "checkpoint.pt").unlink()


def from_checkpoints(ckdir: Path, train: Path, prefix: str, out: Path, threads: int) -> list[str]:
    """The reallocations of a finished bootstrap directory (checkpoint_0.pt, checkpoint_1.pt, ...,
    as `benchmarks/bootstrap_ptb.py` writes): after round r, the loss pass of checkpoint_r.pt with
    the table it was trained with; the last round is not reallocated."""
    cks = sorted(ckdir.glob("checkpoint_*.pt"), key=lambda p: int(p.stem.split("_")[1]))
    names = []
    for path in cks[:-1]:
        r = int(path.stem.split("_")[1])
        name = f"{prefix}-r{r + 1}"
        meta = {"checkpoint": str(path), "train": str(train), "seconds": {}}
        with problem_dir(out, name, meta) as tmp:
            seconds, table = loss_pass(path, train, tmp / "losses.npz", threads)
            table.save(str(tmp / "table.npz"))
            meta["seconds"]["loss_pass"] = seconds
        names.append(name)
        print(f"{name}: loss pass {seconds:.0f} s", flush=True)
    return names


def copy_workflow(results: Path, out: Path, prefix: str = "ptb") -> list[str]:
    """The reallocations of a finished workflow run, named PREFIX-rN: losses_r.npz with the table
    they were computed with (tables/table_{r-1}.npz)."""
    names = []
    for losses in sorted((results / "realloc").glob("losses_*.npz")):
        r = int(losses.stem.split("_")[1])
        table = results / "tables" / f"table_{r - 1}.npz"
        if not table.exists():
            continue
        name = f"{prefix}-r{r}"
        with problem_dir(out, name, {"source": str(losses)}) as tmp:
            shutil.copyfile(losses, tmp / "losses.npz")
            shutil.copyfile(table, tmp / "table.npz")
        names.append(name)
    return names


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="benchmarks/out/real", help="problem directories go here")
    ap.add_argument("--corpus", default="data/bigvocab", help="large-vocabulary corpus (make_bigvocab_corpus.py)")
    ap.add_argument("--ptb-results", default="results", help="results directory of a finished default workflow run")
    ap.add_argument("--only", help="comma-separated problem names (default: all)")
    ap.add_argument("--checkpoints", help="also: the reallocations of this bootstrap directory "
                    "(checkpoint_r.pt of every round), named PREFIX-rN; needs --train-npy")
    ap.add_argument("--train-npy", help="with --checkpoints: the encoded training split the rounds trained on")
    ap.add_argument("--prefix", default="ptb13", help="with --checkpoints: problem name prefix")
    ap.add_argument("--workflow", action="append", default=[], metavar="DIR:PREFIX",
                    help="also: the reallocations of another finished workflow run, named PREFIX-rN "
                    "(e.g. results/bigvocab:bv200k-s0.05, the large-vocabulary run's sampled passes)")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads for training and the loss pass")
    ap.add_argument("--rebuild", action="store_true",
                    help="build the large-vocabulary problems again even where --out already holds them (by default "
                    "a complete problem directory is kept: each takes 8-60 minutes to build)")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = out / "_work"
    work.mkdir(exist_ok=True)
    only = set(args.only.split(",")) if args.only else None
    if only is None or any(n.startswith("ptb") for n in only):
        names = copy_workflow(Path(args.ptb_results), out)
        print(f"PTB: {len(names)} problems from {args.ptb_results}" if names else
              f"PTB: no finished workflow run in {args.ptb_results} (run `snakemake --cores 2` first)", flush=True)
    for spec in args.workflow:
        results, _, prefix = spec.rpartition(":")
        if not results or not prefix:
            sys.exit(f"--workflow {spec!r}: expected DIR:PREFIX")
        names = copy_workflow(Path(results), out, prefix)
        print(f"{prefix}: {len(names)} problems from {results}", flush=True)
    if args.checkpoints:
        if not args.train_npy:
            sys.exit("--checkpoints needs --train-npy")
        from_checkpoints(Path(args.checkpoints), Path(args.train_npy), args.prefix, out, args.threads)
    if (args.checkpoints or args.workflow) and only is None:
        return  # only the problems asked for; --only names the large-vocabulary ones to build too
    corpus = Path(args.corpus)
    for name, (size, epochs) in BIGVOCAB.items():
        if only is not None and name not in only:
            continue
        if not args.rebuild and all((out / name / f).exists() for f in ("losses.npz", "table.npz", "problem.json")):
            print(f"{name}: kept, already in {out} (--rebuild builds it again)", flush=True)
            continue
        if not (corpus / "train.txt").exists():
            sys.exit(f"{corpus}/train.txt: not found; run benchmarks/make_bigvocab_corpus.py first")
        t0 = time.time()
        build_bigvocab(name, size, epochs, corpus, work, out, args.threads)
        print(f"{name}: {time.time() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
