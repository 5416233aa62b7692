"""Finished runs side by side (torch-free): validation perplexity against wall-clock time and
against training tokens in one figure, and one Markdown table, from each run's ``summary.json``
(:mod:`lightrnn.report`). The workflow's ``compare`` key names the runs; the rule writes
``compare.png`` and ``compare.md`` into the report."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Sequence

from lightrnn.atomic import atomic_write_text
from lightrnn.report import ReportError, _fmt, _save

__all__ = ["load_summaries", "compare_markdown", "compare_plot", "write_compare"]


def load_summaries(paths: Sequence[str | os.PathLike]) -> dict[str, dict]:
    """{label: summary} of the runs' ``summary.json`` files, labelled by their results folder."""
    out = {}
    for p in paths:
        try:
            s = json.loads(Path(p).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise ReportError(f"{p}: cannot read the run's summary ({e})") from None
        if "curve" not in s.get("timing", {}):
            raise ReportError(f"{p}: the summary has no timing.curve (rerun that run's summarize job)")
        label = Path(p).resolve().parent.name
        out[label if label not in out else str(p)] = s
    return out


def _sum_jobs(summary: dict, prefix: str) -> float | None:
    jobs = {k: v for k, v in summary["timing"].get("job_seconds", {}).items() if k.startswith(prefix)}
    return sum(jobs.values()) if jobs else None


def _peak_train_mb(summary: dict) -> float | None:
    rss = [v for k, v in summary["timing"].get("job_max_rss_mb", {}).items() if k.startswith("train_")]
    return max(rss) if rss else None


def compare_markdown(summaries: dict[str, dict]) -> str:
    """One row per run: model, parameters, training tokens and time, reallocation time (pass and
    solve summed over the reallocations, and their jobs' wall-clock), speed, peak memory, final
    validation and test perplexity."""
    lines = ["| run | model | params (total) | params (emb+out) | training tokens | training s | "
             "reallocation s (pass + solve; jobs) | train tok/s | peak train RSS MB | valid ppl | test ppl |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for label, s in summaries.items():
        t = s["timing"]
        last = t["curve"][-1] if t["curve"] else {}
        tok = last.get("tokens")
        passes, solves = t.get("realloc_pass_seconds", []), t.get("realloc_solver_seconds", [])
        realloc = "none" if not passes else (
            f"{sum(passes):.0f} + {sum(x or 0 for x in solves):.0f}; {_fmt(_sum_jobs(s, 'realloc_'), '.0f')}")
        rate = tok / last["train_seconds"] if tok and last.get("train_seconds") else None
        lines.append(f"| {label} | {s['model']} | {_fmt(s['params_total'], ',')} | "
                     f"{_fmt(s['params_embed_output'], ',')} | {_fmt(tok, ',')} | "
                     f"{_fmt(last.get('train_seconds'), '.0f')} | {realloc} | {_fmt(rate, ',.0f')} | "
                     f"{_fmt(_peak_train_mb(s), ',.0f')} | {_fmt(s['valid_ppl'], '.1f')} | {_fmt(s['test_ppl'], '.1f')} |")
    return "\n".join(lines) + "\n"


def compare_plot(summaries: dict[str, dict], path: str | os.PathLike) -> None:
    """Validation perplexity after each metrics row: against wall-clock seconds (training plus
    the reallocation jobs before it) and against training tokens, one line per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(9, 3.6), sharey=True)
    for label, s in summaries.items():
        pts = [c for c in s["timing"]["curve"] if c["valid_ppl"] is not None and not math.isnan(c["valid_ppl"])]
        name = f"{label} ({s['model']})"
        ax[0].plot([c["wall_seconds"] / 60 for c in pts], [c["valid_ppl"] for c in pts], "o-", label=name)
        if all(c["tokens"] is not None for c in pts):
            ax[1].plot([c["tokens"] / 1e6 for c in pts], [c["valid_ppl"] for c in pts], "o-", label=name)
    ax[0].set_xlabel("wall-clock minutes (training + reallocation)")
    ax[1].set_xlabel("training tokens (millions)")
    ax[1].set_xscale("log")
    ax[0].set_ylabel("validation perplexity")
    ax[0].set_yscale("log")
    ax[0].legend(fontsize=7)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def write_compare(summary_paths: Sequence[str | os.PathLike], png: str | os.PathLike,
                  markdown: str | os.PathLike) -> dict[str, dict]:
    """Write the comparison figure and table (atomically) of the runs' summaries; return them."""
    summaries = load_summaries(summary_paths)
    atomic_write_text(markdown, compare_markdown(summaries))
    compare_plot(summaries, png)
    return summaries
