"""Compare two results directories of the workflow, leaving out what is run-dependent.

    python tests/cluster/compare_results.py A B              # exactly
    python tests/cluster/compare_results.py --rtol 1e-4 A B  # floats up to a relative tolerance
    python tests/cluster/compare_results.py --ignore train_ppl A B   # and without a column / key

Compared: the data files and tables (byte for byte, or array by array with --rtol), the
checkpoints' tensors, the metrics CSVs without their timing columns (tokens_per_s, elapsed_s),
the reallocation reports without their times (``*_seconds``, ``times``), the loss matrices, the
evaluations, and summary.json without its ``"timing"`` object. Not compared: logs, benchmarks,
plots and summary.md (made from summary.json, with the timings). Prints one line per file and
exits 1 if any differs.
"""
import argparse
import csv
import json
import math
import sys
from pathlib import Path

import numpy as np

from lightrnn.metrics import TIMING_COLUMNS as _TIMING

TIMING_COLUMNS = set(_TIMING)
IGNORED = set()  # --ignore: further CSV columns and JSON keys left out
ATOL = [1e-5]  # --atol: for arrays (weights, losses) with --rtol > 0


def drop_times(x):
    if isinstance(x, dict):
        return {k: drop_times(v) for k, v in x.items()
                if k != "timing" and k != "times" and not k.endswith("_seconds") and k not in IGNORED}
    if isinstance(x, list):
        return [drop_times(v) for v in x]
    return x


def close(a, b, rtol, where="", bad=None):
    """(equal, max relative difference) of two JSON-like values; strings and ints compare exactly.
    The paths of the values that differ are appended to ``bad``."""
    bad = [] if bad is None else bad
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            bad.append(f"{where or '/'} keys")
            return False, math.inf
        parts = [close(a[k], b[k], rtol, f"{where}/{k}", bad) for k in a]
        return all(p[0] for p in parts), max((p[1] for p in parts), default=0.0)
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            bad.append(f"{where} length")
            return False, math.inf
        parts = [close(x, y, rtol, f"{where}/{i}", bad) for i, (x, y) in enumerate(zip(a, b))]
        return all(p[0] for p in parts), max((p[1] for p in parts), default=0.0)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) \
            and (isinstance(a, float) or isinstance(b, float)):
        if math.isnan(a) and math.isnan(b):
            return True, 0.0
        rel = abs(a - b) / max(abs(a), abs(b), 1e-300)
        ok = a == b if rtol == 0 else rel <= rtol
    else:
        ok, rel = a == b, (0.0 if a == b else math.inf)
    if not ok:
        bad.append(f"{where} ({a!r} vs {b!r})")
    return ok, rel


def arrays_close(a, b, rtol, atol=1e-5):
    """(close, max relative difference); ``atol`` is used only with rtol > 0."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False, math.inf
    if a.dtype.kind not in "fc":
        return bool(np.array_equal(a, b)), (0.0 if np.array_equal(a, b) else math.inf)
    diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
    scale = np.maximum(np.maximum(np.abs(a), np.abs(b)).astype(np.float64), 1e-12)
    rel = float((diff / scale).max()) if a.size else 0.0
    ok = np.array_equal(a, b) if rtol == 0 else bool(np.allclose(a, b, rtol=rtol, atol=atol))
    return ok, rel


def compare_file(fa: Path, fb: Path, rel: str, rtol: float):
    """(ok, how) for one file."""
    if fa.read_bytes() == fb.read_bytes():
        return True, "same bytes"
    if rel.endswith(".npz"):
        za, zb = np.load(fa), np.load(fb)
        if sorted(za.files) != sorted(zb.files):
            return False, f"arrays {sorted(za.files)} != {sorted(zb.files)}"
        worst, bad = 0.0, []
        for k in za.files:
            ok, r = arrays_close(za[k], zb[k], rtol, ATOL[0])
            worst = max(worst, r)
            if not ok:
                bad.append(k)
        if bad:
            return False, f"arrays differ: {', '.join(bad)} (max rel diff {worst:.2e})"
        return True, f"arrays {'equal' if worst == 0 else f'close, max rel diff {worst:.2e}'}"
    if rel.endswith(".pt"):
        import torch

        ca, cb = (torch.load(f, map_location="cpu", weights_only=True) for f in (fa, fb))
        ma, mb = ca["model"], cb["model"]
        if ma.keys() != mb.keys():
            return False, "model keys differ"
        worst, bad, absdiff = 0.0, [], 0.0
        for k in ma:
            ok, r = arrays_close(ma[k].numpy(), mb[k].numpy(), rtol, ATOL[0])
            worst = max(worst, r)
            absdiff = max(absdiff, float((ma[k].double() - mb[k].double()).abs().max()) if ma[k].numel() else 0.0)
            if not ok:
                bad.append(k)
        if bad:
            return False, f"weights differ: {', '.join(bad[:4])} (max abs diff {absdiff:.2e})"
        return True, f"weights {'equal' if worst == 0 else f'close, max abs diff {absdiff:.2e}'}"
    if rel.endswith(".csv"):
        with open(fa, newline="") as f:
            ra = [{k: v for k, v in r.items() if k not in TIMING_COLUMNS | IGNORED} for r in csv.DictReader(f)]
        with open(fb, newline="") as f:
            rb = [{k: v for k, v in r.items() if k not in TIMING_COLUMNS | IGNORED} for r in csv.DictReader(f)]
        if ra == rb:
            return True, "same without timing columns"
        if rtol == 0:
            return False, "rows differ (timing columns aside)"
        num = lambda rows: [{k: float(v) if v not in ("", None) else math.nan for k, v in r.items()} for r in rows]
        bad = []
        ok, r = close(num(ra), num(rb), rtol, bad=bad)
        return ok, f"{'close' if ok else 'differ'} without timing columns, max rel diff {r:.2e}" + \
            ("" if ok else f": {'; '.join(bad[:4])}")
    if rel.endswith(".json"):
        ja, jb = (drop_times(json.loads(f.read_text())) for f in (fa, fb))
        if ja == jb:
            return True, "same without timings"
        bad = []
        ok, r = close(ja, jb, rtol, bad=bad)
        return ok, f"{'close' if ok else 'differ'} without timings, max rel diff {r:.2e}" + \
            ("" if ok else f": {'; '.join(bad[:4])}")
    return False, "bytes differ"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("a", type=Path)
    p.add_argument("b", type=Path)
    p.add_argument("--rtol", type=float, default=0.0, help="relative tolerance for floats (default: exact)")
    p.add_argument("--atol", type=float, default=1e-5,
                   help="absolute tolerance for arrays (weights, losses) with --rtol (default: 1e-5)")
    p.add_argument("--ignore", action="append", default=[], metavar="KEY",
                   help="leave out this CSV column / JSON key too (repeatable)")
    args = p.parse_args(argv)
    IGNORED.clear()
    IGNORED.update(args.ignore)
    ATOL[0] = args.atol
    skip = ("logs/", "benchmarks/", "plots/", "summary.md")
    files = sorted(str(f.relative_to(args.a)) for f in args.a.rglob("*") if f.is_file())
    files = [f for f in files if not f.startswith(skip)]
    other = sorted(str(f.relative_to(args.b)) for f in args.b.rglob("*") if f.is_file())
    other = [f for f in other if not f.startswith(skip)]
    failed = 0
    for rel in sorted(set(files) | set(other)):
        if rel not in files or rel not in other:
            print(f"  {rel}: only in {args.a if rel in files else args.b}")
            failed += 1
            continue
        ok, how = compare_file(args.a / rel, args.b / rel, rel, args.rtol)
        print(f"  {rel}: {how}")
        failed += not ok
    mode = "exactly" if args.rtol == 0 else f"up to rtol {args.rtol:g}"
    if args.ignore:
        mode += f", without {', '.join(args.ignore)}"
    if args.rtol:
        mode += f" (arrays: atol {args.atol:g})"
    print(f"compared {len(files)} files {mode}: {'all equal' if not failed else f'{failed} differ'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
