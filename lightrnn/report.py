"""Summary of a pipeline run: summary.json, a Markdown table and plots (torch-free)."""
from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path
from typing import Sequence

from lightrnn.atomic import atomic_open, atomic_write_json, atomic_write_text

__all__ = ["read_metrics", "write_summary"]


def read_metrics(paths: Sequence[str | os.PathLike]) -> list[dict]:
    rows = []
    for p in paths:
        with open(p, newline="") as f:
            for r in csv.DictReader(f):
                rows.append({k: float(v) for k, v in r.items()})
    return rows


def _save(fig, path) -> None:
    with atomic_open(path, "wb") as f:
        fig.savefig(f, format="png", dpi=110)


def write_summary(metrics, reallocs, evals, vocab, table, summary_json, summary_md,
                  perplexity_png, realloc_png, table_png) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_metrics(metrics)
    re = [json.loads(Path(p).read_text()) for p in reallocs]
    ev = {json.loads(Path(p).read_text())["name"]: json.loads(Path(p).read_text()) for p in evals}
    test = ev.get("test", {})
    summary = {
        "model": test.get("model"),
        "params_total": test.get("params_total"),
        "params_embed_output": test.get("params_embed_output"),
        "valid_ppl": ev.get("valid", {}).get("ppl"),
        "test_ppl": test.get("ppl"),
        "test_tokens": test.get("tokens"),
        "epochs": [{k: r[k] for k in ("round", "epoch", "train_ppl", "valid_ppl", "lr")} for r in rows],
        "train_tokens_per_s": sum(r["tokens_per_s"] for r in rows) / max(1, len(rows)),
        "train_seconds": sum(r["elapsed_s"] for r in rows),
        "reallocations": [{"round": i + 1, "words_moved": x["words_moved"],
                           "objective_old_per_token": x["objective_old_per_token"],
                           "objective_new_per_token": x["objective_new_per_token"],
                           "certified": x["solver"]["certified"], "solver_seconds": x["solver"]["times"]["total"],
                           "pass_seconds": x["pass_seconds"]} for i, x in enumerate(re)],
    }
    # Timings vary between runs; keep them out of the reproducible part.
    atomic_write_json(summary_json, summary)
    lines = ["| model | params (total) | params (emb+out) | valid ppl | test ppl | train tok/s |",
             "|---|---|---|---|---|---|",
             f"| {summary['model']} | {summary['params_total']:,} | {summary['params_embed_output']:,} | "
             f"{summary['valid_ppl']:.2f} | {summary['test_ppl']:.2f} | {summary['train_tokens_per_s']:,.0f} |", ""]
    if re:
        lines += ["| reallocation | words moved | objective/token before | after | certified |", "|---|---|---|---|---|"]
        for x in summary["reallocations"]:
            lines.append(f"| round {x['round']} | {x['words_moved']} | {x['objective_old_per_token']:.4f} | "
                         f"{x['objective_new_per_token']:.4f} | {x['certified']} |")
        lines.append("")
    lines += ["| round | epoch | train ppl | valid ppl |", "|---|---|---|---|"]
    lines += [f"| {int(r['round'])} | {int(r['epoch'])} | {r['train_ppl']:.2f} | {r['valid_ppl']:.2f} |" for r in rows]
    atomic_write_text(summary_md, "\n".join(lines) + "\n")

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for rnd in sorted({int(r["round"]) for r in rows}):
        rr = [r for r in rows if int(r["round"]) == rnd]
        ax.plot([r["epoch"] for r in rr], [r["valid_ppl"] for r in rr], "o-", label=f"round {rnd} valid")
        ax.plot([r["epoch"] for r in rr], [r["train_ppl"] for r in rr], "x--", alpha=0.6, label=f"round {rnd} train")
    ax.set_xlabel("epoch")
    ax.set_ylabel("perplexity")
    ax.set_yscale("log")
    ax.legend(fontsize=7)
    ax.set_title(f"{summary['model']}: test ppl {summary['test_ppl']:.1f}", fontsize=9)
    fig.tight_layout()
    _save(fig, perplexity_png)
    plt.close(fig)

    fig, ax = plt.subplots(1, 2, figsize=(7, 3))
    if re:
        x = [d["round"] for d in summary["reallocations"]]
        ax[0].plot(x, [d["objective_old_per_token"] for d in summary["reallocations"]], "o-", label="before")
        ax[0].plot(x, [d["objective_new_per_token"] for d in summary["reallocations"]], "s-", label="after")
        ax[0].legend(fontsize=7)
        ax[1].bar(x, [d["words_moved"] for d in summary["reallocations"]])
    else:
        for a in ax:
            a.text(0.5, 0.5, "no reallocation", ha="center", va="center", transform=a.transAxes)
    ax[0].set_title("training NLL/token (predicted)", fontsize=9)
    ax[1].set_title("words moved", fontsize=9)
    fig.tight_layout()
    _save(fig, realloc_png)
    plt.close(fig)

    if table:
        from lightrnn.table import WordTable
        from lightrnn.viz import table_picture
        from lightrnn.vocab import Vocab

        words = Vocab.load(vocab).words
        table_picture(WordTable.load(table, vocab_size=len(words)), words, table_png)
    else:
        fig, ax = plt.subplots(figsize=(3, 1))
        ax.text(0.5, 0.5, "no word table (not a LightRNN model)", ha="center", va="center")
        ax.axis("off")
        _save(fig, table_png)
        plt.close(fig)
    print(json.dumps({k: summary[k] for k in ("model", "valid_ppl", "test_ppl")}))
    return summary
