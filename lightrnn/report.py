"""Summary of a pipeline run: summary.json, a Markdown table and plots (torch-free).

Reads only files: per-round ``metrics_{r}.csv`` (``lightrnn train``), ``realloc_{r}.json``
(``lightrnn realloc``), ``{split}.json`` (``lightrnn evaluate``) and, optionally, the encoded
splits with their vocabulary (token counts and OOV rates) and Snakemake benchmark ``.tsv``
files. Everything in ``summary.json`` is a pure function of those files; the
numbers that change from run to run (tokens/s, seconds) are kept together under ``"timing"``, so
two runs of the same configuration have identical summaries once ``"timing"`` is dropped.
"""
from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path
from typing import Sequence

from lightrnn.atomic import atomic_open, atomic_write_json, atomic_write_text
from lightrnn.errors import LightRNNError
from lightrnn.metrics import FLOAT_COLUMNS, INT_COLUMNS, TIMING_COLUMNS

__all__ = ["ReportError", "read_metrics", "read_benchmark", "build_summary", "summary_markdown",
           "write_summary"]


class ReportError(LightRNNError, ValueError):
    """An input file of the report is missing a field or holds a value that is not a number."""


def _number(text: str, kind, path, line: int, column: str):
    if text is None or text == "":
        if kind is float:  # e.g. no validation split: an empty valid_ppl cell
            return math.nan
        raise ReportError(f"{path}, line {line}: column {column!r} is empty")
    try:
        return kind(float(text)) if kind is int else float(text)
    except ValueError:
        raise ReportError(f"{path}, line {line}: column {column!r} is not a number: {text!r}") from None


def read_metrics(paths: Sequence[str | os.PathLike]) -> list[dict]:
    """Rows of the per-epoch metrics CSV files, in order, with typed values.

    Raises ReportError naming the file and line of a missing column or a bad value.
    """
    rows = []
    for p in paths:
        with open(p, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = [c for c in INT_COLUMNS + FLOAT_COLUMNS + TIMING_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise ReportError(f"{p}: metrics file lacks columns {missing}")
            for line, r in enumerate(reader, start=2):
                row = {c: _number(r[c], int, p, line, c) for c in INT_COLUMNS}
                # Part of the epoch the row covers (< 1 where a fractional round ended inside
                # it); files written before the column existed hold whole epochs only.
                frac = r.get("epoch_fraction")
                row["epoch_fraction"] = 1.0 if frac in (None, "") else _number(frac, float, p, line, "epoch_fraction")
                row.update({c: _number(r[c], float, p, line, c) for c in FLOAT_COLUMNS + TIMING_COLUMNS})
                rows.append(row)
    return rows


def read_benchmark(path: str | os.PathLike, column: str = "s") -> float:
    """One job's figure from a Snakemake ``benchmark:`` TSV: wall-clock seconds (``s``) or peak
    resident memory in MB (``max_rss``)."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    if not rows or column not in rows[0]:
        raise ReportError(f"{path}: not a Snakemake benchmark file (no {column!r} column)")
    return _number(rows[-1][column], float, path, len(rows) + 1, column)


def _curve(rows: list[dict], job_seconds: dict[str, float], train_tokens: int | None) -> list[dict]:
    """Validation perplexity after each metrics row against training tokens (the fraction of the
    training split read so far) and seconds: training alone, and wall-clock with the reallocation
    jobs (``realloc_{r}`` runs before round r) that came before the row."""
    out, train_s, frac = [], 0.0, 0.0
    for r in rows:
        train_s += r["elapsed_s"]
        frac += r["epoch_fraction"]
        realloc_s = sum(s for k, s in job_seconds.items()
                        if k.startswith("realloc_") and k[8:].isdigit() and int(k[8:]) <= r["round"])
        out.append({"round": r["round"], "tokens": None if train_tokens is None else round(frac * train_tokens),
                    "train_seconds": round(train_s, 3), "wall_seconds": round(train_s + realloc_s, 3),
                    "valid_ppl": r["valid_ppl"]})
    return out


def _read_json(path, keys: Sequence[str]) -> dict:
    try:
        obj = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ReportError(f"{path}: not valid JSON ({e})") from None
    missing = [k for k in keys if k not in obj]
    if missing:
        raise ReportError(f"{path}: lacks fields {missing}")
    return obj


def split_stats(splits: dict[str, str | os.PathLike], vocab: str | os.PathLike) -> dict[str, dict]:
    """{split: {"tokens", "unk", "oov_rate"}} of encoded splits (``lightrnn.corpus.token_stats``)."""
    from lightrnn.corpus import load_tokens, token_stats
    from lightrnn.vocab import Vocab

    unk_id = Vocab.load(vocab).unk_id
    return {name: token_stats(load_tokens(path), unk_id) for name, path in splits.items()}


def build_summary(metrics, reallocs, evals, benchmarks: Sequence[str | os.PathLike] = (),
                  splits: dict[str, str | os.PathLike] | None = None, vocab: str | os.PathLike | None = None) -> dict:
    """The run's summary as a dict (see the module docstring for what ``"timing"`` holds).

    ``splits`` ({name: encoded .npy}) with their ``vocab`` add each split's token count and OOV
    rate under ``"splits"``.
    """
    rows = read_metrics(metrics)
    re = [_read_json(p, ("round", "words_moved", "objective_old_per_token", "objective_new_per_token",
                         "solver", "pass_seconds")) for p in reallocs]
    ev = {}
    for p in evals:
        e = _read_json(p, ("name", "ppl", "loss", "tokens", "model", "params_total", "params_embed_output"))
        ev[e["name"]] = e
    last = ev.get("test") or next(iter(ev.values()), {})
    summary = {
        "model": last.get("model"),
        "params_total": last.get("params_total"),
        "params_embed_output": last.get("params_embed_output"),
        "rounds": len({r["round"] for r in rows}),
        "epochs_total": round(sum(r["epoch_fraction"] for r in rows), 6),
        "valid_ppl": ev.get("valid", {}).get("ppl"),
        "test_ppl": ev.get("test", {}).get("ppl"),
        "test_tokens": ev.get("test", {}).get("tokens"),
        "splits": split_stats(splits, vocab) if splits and vocab else {},
        "epochs": [{k: r[k] for k in INT_COLUMNS + ("epoch_fraction",) + FLOAT_COLUMNS} for r in rows],
        # reallocation after training round `after_round` wrote the table of round after_round + 1
        "reallocations": [{"after_round": int(x["round"]), "words_moved": int(x["words_moved"]),
                           "objective_old_per_token": x["objective_old_per_token"],
                           "objective_new_per_token": x["objective_new_per_token"],
                           "certified": bool(x["solver"].get("certified"))} for x in re],
    }
    timing = {
        "train_tokens_per_s": sum(r["tokens_per_s"] for r in rows) / max(1, len(rows)),
        "train_epoch_seconds": sum(r["elapsed_s"] for r in rows),
        "realloc_pass_seconds": [x["pass_seconds"] for x in re],
        "realloc_solver_seconds": [x["solver"].get("times", {}).get("total") for x in re],
    }
    if benchmarks:
        timing["job_seconds"] = {Path(b).stem: read_benchmark(b) for b in benchmarks}
        timing["job_max_rss_mb"] = {Path(b).stem: read_benchmark(b, "max_rss") for b in benchmarks}
    train_tokens = summary["splits"].get("train", {}).get("tokens")
    timing["curve"] = _curve(rows, timing.get("job_seconds", {}), train_tokens)
    summary["timing"] = timing
    return summary


def _fmt(x, spec: str) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def summary_markdown(summary: dict) -> str:
    """Markdown tables: final results, reallocations, per-epoch perplexities, job times."""
    t = summary["timing"]
    lines = ["| model | params (total) | params (emb+out) | valid ppl | test ppl | train tok/s |",
             "|---|---|---|---|---|---|",
             f"| {summary['model']} | {_fmt(summary['params_total'], ',')} | "
             f"{_fmt(summary['params_embed_output'], ',')} | {_fmt(summary['valid_ppl'], '.2f')} | "
             f"{_fmt(summary['test_ppl'], '.2f')} | {_fmt(t['train_tokens_per_s'], ',.0f')} |", ""]
    if summary.get("splits"):
        lines += ["| split | tokens | <unk> tokens | OOV rate |", "|---|---|---|---|"]
        lines += [f"| {name} | {x['tokens']:,} | {x['unk']:,} | {100 * x['oov_rate']:.2f}% |"
                  for name, x in summary["splits"].items()]
        lines.append("")
    if summary["reallocations"]:
        lines += ["| reallocation | words moved | train NLL/token before | after (predicted) | certified | solver s |",
                  "|---|---|---|---|---|---|"]
        for x, s in zip(summary["reallocations"], t["realloc_solver_seconds"]):
            lines.append(f"| after round {x['after_round']} | {x['words_moved']:,} | "
                         f"{x['objective_old_per_token']:.4f} | {x['objective_new_per_token']:.4f} | "
                         f"{x['certified']} | {_fmt(s, '.2f')} |")
        lines.append("")
    lines += ["| round | epoch | lr | train ppl | valid ppl |", "|---|---|---|---|---|"]
    lines += [f"| {r['round']} | {_epoch_label(r)} | {r['lr']:.4g} | {_fmt(r['train_ppl'], '.2f')} | "
              f"{_fmt(r['valid_ppl'], '.2f')} |" for r in summary["epochs"]]
    if t.get("job_seconds"):
        lines += ["", "| job | wall seconds |", "|---|---|"]
        lines += [f"| {k} | {v:.1f} |" for k, v in sorted(t["job_seconds"].items())]
    return "\n".join(lines) + "\n"


def _epoch_label(row: dict) -> str:
    """The epoch number, with the part of it trained when a fractional round ended inside it."""
    f = row["epoch_fraction"]
    return str(row["epoch"]) if f >= 1 else f"{row['epoch']} ({f:.3g})"


def _save(fig, path) -> None:
    with atomic_open(path, "wb") as f:
        fig.savefig(f, format="png", dpi=110)


def _perplexity_plot(summary: dict, path) -> None:
    import matplotlib.pyplot as plt
    import numpy as np

    rows = summary["epochs"]
    done = np.cumsum([r["epoch_fraction"] for r in rows])  # epochs trained at each row's end
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(done, [r["valid_ppl"] for r in rows], "o-", label="valid")
    ax.plot(done, [r["train_ppl"] for r in rows], "x--", alpha=0.6, label="train (mean over the part trained)")
    # A dotted line where each new round (a new table) starts: one legend entry for all of them.
    starts = [done[k - 1] for k in range(1, len(rows)) if rows[k]["round"] != rows[k - 1]["round"]]
    for n, x in enumerate(starts):
        ax.axvline(x, color="grey", linestyle=":", linewidth=0.8, label="reallocation" if n == 0 else None)
    ax.set_xlabel("epochs trained (counted across rounds)")
    ax.set_ylabel("perplexity")
    ax.set_yscale("log")
    ax.legend(fontsize=7)
    ax.set_title(f"{summary['model']}: test ppl {_fmt(summary['test_ppl'], '.1f')}", fontsize=9)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def _realloc_plot(summary: dict, path) -> None:
    import matplotlib.pyplot as plt

    re = summary["reallocations"]
    fig, ax = plt.subplots(1, 2, figsize=(7, 3))
    if re:
        x = [d["after_round"] for d in re]
        ax[0].plot(x, [d["objective_old_per_token"] for d in re], "o-", label="old table")
        ax[0].plot(x, [d["objective_new_per_token"] for d in re], "s-", label="new table (predicted)")
        ax[0].legend(fontsize=7)
        ax[1].bar(x, [d["words_moved"] for d in re])
        for a in ax:
            a.set_xlabel("after training round")
            a.set_xticks(x)
    else:
        for a in ax:
            a.text(0.5, 0.5, "no reallocation", ha="center", va="center", transform=a.transAxes)
    ax[0].set_title("reallocation objective: training NLL/token", fontsize=9)
    ax[1].set_title("words moved", fontsize=9)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def write_summary(metrics, reallocs, evals, vocab, table, summary_json, summary_md,
                  perplexity_png, realloc_png, table_png, benchmarks: Sequence[str | os.PathLike] = (),
                  splits: dict[str, str | os.PathLike] | None = None) -> dict:
    """Write summary.json, the Markdown tables and three PNGs (all atomically); return the summary.

    ``table`` is the last round's word table (``None`` for models without one: the picture then
    says so); ``splits`` ({name: encoded .npy}) adds each split's size and OOV rate.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = build_summary(metrics, reallocs, evals, benchmarks, splits=splits, vocab=vocab)
    atomic_write_json(summary_json, summary)
    atomic_write_text(summary_md, summary_markdown(summary))
    _perplexity_plot(summary, perplexity_png)
    _realloc_plot(summary, realloc_png)
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
