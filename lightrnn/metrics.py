"""The per-epoch metrics CSV of ``lightrnn train --metrics``: its columns, in file order, and its
writer. The report (:mod:`lightrnn.report`) reads the files back by these names; torch-free."""
from __future__ import annotations

import csv
import io
import os

__all__ = ["METRIC_FIELDS", "INT_COLUMNS", "FLOAT_COLUMNS", "TIMING_COLUMNS", "write_metrics_csv"]

# One row per epoch, or per part of an epoch that a round trained (epoch_fraction < 1).
METRIC_FIELDS = ["round", "epoch", "epoch_fraction", "step", "lr", "train_loss", "train_ppl", "valid_loss",
                 "valid_ppl", "tokens_per_s", "elapsed_s"]
INT_COLUMNS = ("round", "epoch", "step")
TIMING_COLUMNS = ("tokens_per_s", "elapsed_s")  # differ from run to run; everything else is deterministic
FLOAT_COLUMNS = tuple(c for c in METRIC_FIELDS if c not in INT_COLUMNS + TIMING_COLUMNS + ("epoch_fraction",))


def write_metrics_csv(path: str | os.PathLike, rows: list[dict]) -> None:
    """Write ``rows`` (dicts with the METRIC_FIELDS keys) atomically; floats with 6 significant digits."""
    from lightrnn.atomic import atomic_write_text

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=METRIC_FIELDS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
    atomic_write_text(path, buf.getvalue())
