"""Benchmark of the exact LightRNN reallocation solver against dense and sparse peers.

Problems are LightRNN-shaped: V words in a ceil(sqrt V) x ceil(sqrt V) table, Zipf word counts,
each word's row and column distributions peaked on a few entries, cost = count * -log softmax
(what `lightrnn realloc` accumulates).  For every size, in one run, it times:

- ours:       lightrnn.assign.solve_table (exact on the FULL problem, certified by a dual bound);
- scipy:      scipy.optimize.linear_sum_assignment on the dense V x (R*C) matrix;
- lap, lapjv: the Jonker-Volgenant packages on the same dense matrix;
- sparse:     scipy.sparse.csgraph.min_weight_full_bipartite_matching on ours' FIRST candidate
              graph (k x k cells per word plus a fallback cell). That is a smaller, easier problem
              whose optimum need not be the full one (its objective shows it).

Each (size, solver) runs in its own subprocess, so the peak memory is that solver's alone:
peak = high-water resident memory during the solve minus the resident memory before it (inputs
already built; Linux /proc/self/clear_refs resets the high-water mark).  Dense peers are skipped
above --dense-limit-gb.

    python benchmarks/solver.py --sizes 1024,4096,16384,65536,262144,1048576 --threads 2

`--kind zipf-degenerate` builds the near-degenerate shape of early-training loss matrices instead
(every word's costs = its count x one shared row/column marginal + small word-specific deviations,
`--deviation`): near-ties everywhere, the hard case for an auction.

`--repeat N` solves N times per (size, solver) and shows the median time (sub-second solves vary
by 10-20% from run to run; the peak memory is that of the whole series).

Real problems: `--losses results/realloc/losses_1.npz` (written by `lightrnn realloc --losses`, and
by the workflow) times the same solvers on the loss matrices of a trained model instead, and
`--losses-set benchmarks/out/real` on every problem of the set that `benchmarks/real_matrices.py`
builds (each warm-started from the table its losses were computed with, as the workflow does).
`--gap-tol` and `--max-seconds` pass the solver's budget options to ours, `--method` its first solve's algorithm.
"""
from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import subprocess
import sys
import time
import zipfile

import numpy as np

SOLVERS = ("ours", "scipy", "lap", "lapjv", "sparse")
DENSE = ("scipy", "lap", "lapjv")
SOLVER_MODULES = {"ours": ("lightrnn.assign", "lightrnn.table"), "scipy": ("scipy.optimize",), "lap": ("lap",),
                  "lapjv": ("lapjv",), "sparse": ("scipy.sparse.csgraph",)}


KINDS = ("peaked", "zipf-degenerate")


def lightrnn_problem(V: int, seed: int, dtype, kind: str = "peaked",
                     deviation: float = 0.05) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Returns L_r (V, R), L_c (V, C) in `dtype`, R, C; built in blocks (bounded temporaries).

    Both kinds: Zipf counts (s = 1), L[w, i] = count_w * -log softmax(z_w)[i].
    kind="peaked": each word's logits z_w are noise plus a few peaks of its own (a trained model).
    kind="zipf-degenerate": z_w = one logit vector shared by all words + `deviation` * noise, the
    shape of an early-training loss matrix (every word predicts about the same row and column
    marginal), so L = count_w * shared marginal + small word-specific deviations: nearly rank one,
    with a huge number of near-ties between cells.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown problem kind {kind!r}; choose from {KINDS}")
    R = C = math.isqrt(V - 1) + 1 if V > 0 else 1
    rng = np.random.default_rng(seed)
    counts = np.maximum(1.0, np.floor(1e7 / np.arange(1, V + 1)))  # Zipf, s = 1
    out = []
    for side in (R, C):
        L = np.empty((V, side), dtype=dtype)
        # (side,) the marginal's logits; drawn only for this kind, so "peaked" problems are unchanged
        shared = 2.0 * rng.standard_normal(side) if kind == "zipf-degenerate" else None
        for b in range(0, V, 1 << 14):
            e = min(V, b + (1 << 14))
            z = rng.standard_normal((e - b, side), dtype=np.float32).astype(np.float64)  # (B, side)
            if kind == "peaked":
                for _ in range(3):  # a few peaks per word
                    z[np.arange(e - b), rng.integers(0, side, e - b)] += 4.0
            else:
                z = shared[None, :] + deviation * z
            z -= z.max(axis=1, keepdims=True)
            logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
            L[b:e] = counts[b:e, None] * -logp
        out.append(L)
    return out[0], out[1], R, C


def dense_matrix(L_r: np.ndarray, L_c: np.ndarray) -> np.ndarray:
    V, R = L_r.shape
    C = L_c.shape[1]
    full = L_r.astype(np.float64)[:, :, None] + L_c.astype(np.float64)[:, None, :]  # (V, R, C)
    return full.reshape(V, R * C)


def candidate_graph(L_r: np.ndarray, L_c: np.ndarray, k: int):
    """CSR (V, R*C) of each word's k cheapest rows x k cheapest columns plus cell w (ours' start)."""
    import scipy.sparse as sp

    V, R = L_r.shape
    C = L_c.shape[1]
    kr, kc = min(k, R), min(k, C)
    rows = np.argpartition(L_r, kr - 1, axis=1)[:, :kr]  # (V, kr)
    cols = np.argpartition(L_c, kc - 1, axis=1)[:, :kc]  # (V, kc)
    cells = (rows[:, :, None].astype(np.int64) * C + cols[:, None, :]).reshape(V, kr * kc)
    cells = np.concatenate([cells, np.arange(V, dtype=np.int64)[:, None]], axis=1)  # fallback cell
    w = np.repeat(np.arange(V), cells.shape[1])
    flat = cells.reshape(-1)
    cost = L_r[w, flat // C].astype(np.float64) + L_c[w, flat % C]
    g = sp.coo_matrix((cost, (w, flat)), shape=(V, R * C)).tocsr()
    g.sum_duplicates()  # the fallback may repeat a candidate: same cost, keep one
    # SciPy's csgraph reads an explicit 0 as "no arc", and real loss matrices hold zero-cost cells
    # (words absent from the training text). Every word is matched once, so adding 1 to every arc
    # moves all matchings' costs by V and keeps the optimum; objectives are recomputed from L_r, L_c.
    g.data = cost_of(L_r, L_c, g) + 1.0
    return g


def cost_of(L_r, L_c, g) -> np.ndarray:
    C = L_c.shape[1]
    w = np.repeat(np.arange(g.shape[0]), np.diff(g.indptr))
    return L_r[w, g.indices // C].astype(np.float64) + L_c[w, g.indices % C]


def table_objective(L_r, L_c, rows, cols) -> float:
    w = np.arange(L_r.shape[0])
    return float(L_r[w, rows].astype(np.float64).sum() + L_c[w, cols].astype(np.float64).sum())


def _rss_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def load_losses(path: str) -> tuple[np.ndarray, np.ndarray, int, int]:
    """L_r (V, R), L_c (V, C), R, C from a `lightrnn realloc --losses` file."""
    with np.load(path) as z:
        L_r, L_c = np.ascontiguousarray(z["L_r"]), np.ascontiguousarray(z["L_c"])
    return L_r, L_c, L_r.shape[1], L_c.shape[1]


def losses_vocab_size(path: str) -> int:
    """V of a losses file, read from L_r's .npy header: the parent process needs only the size,
    and loading the matrix for it would read V x R values (4 GB at V = 1M) for nothing."""
    with zipfile.ZipFile(path) as zf, zf.open("L_r.npy") as f:
        major, _ = np.lib.format.read_magic(f)
        read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
        return int(read_header(f)[0][0])


def worker(name: str, V: int, seed: int, dtype: str, threads: int, k: int, losses: str | None = None,
           current: str | None = None, repeat: int = 1, kind: str = "peaked", deviation: float = 0.05,
           opts: dict | None = None) -> dict:
    """Builds the problem, runs one solver `repeat` times, returns its figures (median time; run in
    a subprocess)."""
    if losses:
        L_r, L_c, R, C = load_losses(losses)
        V, dtype = L_r.shape[0], str(L_r.dtype)
        # words the loss pass never saw (flat costs): the solver sets them aside
        flat = int(((L_r.min(1) == L_r.max(1)) & (L_c.min(1) == L_c.max(1))).sum())
    else:
        L_r, L_c, R, C = lightrnn_problem(V, seed, np.dtype(dtype), kind, deviation)
    res: dict = {"solver": name, "V": V, "R": R, "C": C, "dtype": dtype, "flat_words": flat if losses else 0,
                 "problem": losses or ("synthetic" if kind == "peaked" else f"synthetic {kind} deviation={deviation}")}
    prep = None
    if name == "sparse":  # ours' first candidate graph: the same k as its automatic choice
        from lightrnn.assign import auto_candidates

        prep = candidate_graph(L_r, L_c, k or auto_candidates(V))
    # Imports before the clock starts: a first import of scipy.sparse.csgraph alone takes ~40 ms.
    for module in SOLVER_MODULES[name]:
        importlib.import_module(module)
    cur = None
    if name == "ours" and current:  # read once, outside the timed solves
        from lightrnn.table import WordTable

        cur = WordTable.load(current, vocab_size=V)
    try:
        open("/proc/self/clear_refs", "w").write("5")  # reset the high-water mark
    except OSError:
        pass
    base = _rss_kb("VmRSS:")
    times = []
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        rows, cols = solve_once(name, L_r, L_c, R, C, V, threads, k, cur, prep, res, opts or {})
        times.append(time.perf_counter() - t0)
    res["time"] = float(np.median(times))
    res["times"] = [round(t, 4) for t in times]
    res["peak_mb"] = max(0, _rss_kb("VmHWM:") - base) / 1024
    res["inputs_mb"] = (L_r.nbytes + L_c.nbytes) / 2**20
    res["objective"] = table_objective(L_r, L_c, rows, cols)
    cells = np.asarray(rows, dtype=np.int64) * C + cols
    res["valid"] = bool(np.unique(cells).size == V)
    return res


def solve_once(name: str, L_r: np.ndarray, L_c: np.ndarray, R: int, C: int, V: int, threads: int, k: int,
               current, prep, res: dict, opts: dict) -> tuple[np.ndarray, np.ndarray]:
    """One solve by `name` (ours warm-started from the WordTable `current`, if any); returns each
    word's (row, col) and adds ours' figures to `res`."""
    if name == "ours":
        from lightrnn.assign import solve_table

        sol = solve_table(L_r, L_c, current=current, threads=threads, k=k, **opts)
        rows, cols = sol.rows, sol.cols
        res.update(certified=sol.certified, stopped=sol.stopped, rounds=sol.pricing_rounds,
                   lazy_rounds=sol.lazy_rounds, lower_bound=sol.lower_bound if np.isfinite(sol.lower_bound) else None,
                   arcs=sol.arcs, method=sol.method, phases={k2: round(v, 3) for k2, v in sol.times.items()})
    elif name in DENSE:
        full = dense_matrix(L_r, L_c)  # building the matrix is part of a dense peer's cost
        if name == "scipy":
            from scipy.optimize import linear_sum_assignment

            _, cell = linear_sum_assignment(full)
        elif name == "lap":
            import lap

            _, cell, _ = lap.lapjv(full, extend_cost=True)
        else:
            import lapjv

            cell, _, _ = lapjv.lapjv(full) if V == R * C else (None, None, None)
            if cell is None:
                raise RuntimeError("lapjv needs a square matrix")
        rows, cols = np.asarray(cell) // C, np.asarray(cell) % C
    else:
        from scipy.sparse.csgraph import min_weight_full_bipartite_matching

        _, cell = min_weight_full_bipartite_matching(prep)
        rows, cols = cell // C, cell % C
    return rows, cols


def run_one(name: str, V: int, args) -> dict:
    cmd = [sys.executable, __file__, "--worker", name, "--sizes", str(V), "--seed", str(args.seed),
           "--threads", str(args.threads), "--k", str(args.k), "--dtype", dtype_for(V, args),
           "--repeat", str(args.repeat), "--kind", args.kind, "--deviation", str(args.deviation)]
    if args.losses:
        cmd += ["--losses", args.losses]
    if args.current:
        cmd += ["--current", args.current]
    cmd += ["--gap-tol", str(args.gap_tol), "--max-seconds", str(args.max_seconds), "--method", args.method]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:  # one slow solver must not lose the other rows
        return {"solver": name, "V": V, "error": f"timed out after {args.timeout:g} s (--timeout)"}
    if p.returncode != 0:
        return {"solver": name, "V": V, "error": (p.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def dtype_for(V: int, args) -> str:
    if args.dtype != "auto":
        return args.dtype
    return "float64" if V <= 65536 else "float32"  # float32 keeps V = 1M inputs at 8 GB


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1024,4096,16384,65536,262144,1048576",
                    help="comma-separated vocabulary sizes V")
    ap.add_argument("--solvers", default=",".join(SOLVERS), help="comma-separated solvers to time")
    ap.add_argument("--kind", default="peaked", choices=KINDS,
                    help="synthetic problem: peaked (a trained model: each word peaked on a few rows/columns) or "
                         "zipf-degenerate (early training: count x one shared marginal + small word deviations)")
    ap.add_argument("--deviation", type=float, default=0.05,
                    help="--kind zipf-degenerate: std of each word's logit deviation from the shared marginal")
    ap.add_argument("--dense-limit-gb", type=float, default=2.5, help="skip dense peers whose float64 matrix is larger")
    ap.add_argument("--threads", type=int, default=2, help="solver threads")
    ap.add_argument("--k", type=int, default=0, help="candidate rows/columns per word (0 = the solver's automatic choice)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the synthetic problem")
    ap.add_argument("--repeat", type=int, default=1, help="solves per (size, solver); the median time is shown")
    ap.add_argument("--dtype", default="auto", choices=["auto", "float32", "float64"],
                    help="loss matrix type (auto: float64 up to 65,536 words, float32 above)")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per solver run")
    ap.add_argument("--json", help="also write all results to this file")
    ap.add_argument("--losses", help="time the loss matrices in this .npz (lightrnn realloc --losses) instead of synthetic ones")
    ap.add_argument("--current", help="with --losses: warm-start ours from this table (.npz), the table the losses "
                                      "were computed with, as `lightrnn realloc` does")
    ap.add_argument("--losses-set", help="time every problem directory (losses.npz + table.npz) under this folder "
                                         "(benchmarks/real_matrices.py); --only-problems picks some")
    ap.add_argument("--only-problems", help="with --losses-set: comma-separated problem names")
    ap.add_argument("--gap-tol", type=float, default=0.0, help="ours: stop at this proven relative gap (0 = exact)")
    ap.add_argument("--max-seconds", type=float, default=0.0, help="ours: time budget (0 = none)")
    ap.add_argument("--method", default="auto", choices=["auto", "auction", "ssp"], help="ours: the first solve's algorithm")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if args.losses:
        sizes = [losses_vocab_size(args.losses)]
    if args.worker:
        opts = {"gap_tol": args.gap_tol, "max_seconds": args.max_seconds or None, "method": args.method}
        print(json.dumps(worker(args.worker, sizes[0], args.seed, args.dtype, args.threads, args.k, args.losses,
                                args.current, args.repeat, args.kind, args.deviation, opts)))
        return
    solvers = [s for s in args.solvers.split(",") if s]
    bad = [s for s in solvers if s not in SOLVERS]
    if bad:
        ap.error(f"unknown solvers {bad}; choose from {SOLVERS}")
    # (problem name or None, V, losses file, warm-start table): synthetic sizes, one --losses file,
    # or every problem of a --losses-set
    problems = problem_set(args) if args.losses_set else [(None, V, args.losses, args.current) for V in sizes]
    named = args.losses_set is not None
    results = []
    print((f"{'problem':>15} " if named else "") + f"{'V':>9} {'solver':>7} {'time s':>9} {'peak MB':>9} {'objective':>20} "
          f"{'vs ours':>8}  notes", flush=True)
    for label, V, args.losses, args.current in problems:
        ours = None
        for name in solvers:
            if name in DENSE and V * V * 8 > args.dense_limit_gb * 2**30:  # the float64 V x (R*C) matrix
                r = {"solver": name, "V": V, "skipped": f"dense matrix over --dense-limit-gb {args.dense_limit_gb}"}
            else:
                r = run_one(name, V, args)
            if named:
                r["problem"] = label
            results.append(r)
            if name == "ours" and "time" in r:
                ours = r
            print((f"{label:>15} " if named else "") + format_row(r, ours), flush=True)
    if args.json:
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        from lightrnn.atomic import atomic_write_json

        atomic_write_json(args.json, results)


def problem_set(args) -> list[tuple[str, int, str, str]]:
    """The problems of a real-matrix set (benchmarks/real_matrices.py): (name, V, losses, table)."""
    from pathlib import Path

    dirs = sorted(d for d in Path(args.losses_set).iterdir() if (d / "losses.npz").exists() and (d / "table.npz").exists())
    if args.only_problems:
        keep = set(args.only_problems.split(","))
        dirs = [d for d in dirs if d.name in keep]
    if not dirs:
        sys.exit(f"{args.losses_set}: no problem directories (run benchmarks/real_matrices.py)")
    return [(d.name, losses_vocab_size(str(d / "losses.npz")), str(d / "losses.npz"), str(d / "table.npz"))
            for d in dirs]


def format_row(r: dict, ours: dict | None) -> str:
    head = f"{r['V']:>9} {r['solver']:>7}"
    if "skipped" in r:
        return f"{head} {'-':>9} {'-':>9} {'-':>20} {'-':>8}  cannot run: {r['skipped']}"
    if "error" in r:
        return f"{head} {'-':>9} {'-':>9} {'-':>20} {'-':>8}  failed: {r['error']}"
    ratio = "" if ours is None else f"{r['time'] / ours['time']:.2f}x"
    notes = "" if r["valid"] else "INVALID TABLE "
    if len(r.get("times", [])) > 1:
        notes += f"median of {len(r['times'])} ({min(r['times']):.3f}-{max(r['times']):.3f} s) "
    if r["solver"] == "ours":
        lb = r["lower_bound"]
        gap = "none" if lb is None else f"{(r['objective'] - lb) / max(abs(r['objective']), 1e-300):.2e}"
        notes += (f"certified={r['certified']} stopped={r.get('stopped')} rel.gap={gap} flat={r.get('flat_words', 0)} "
                  f"rounds={r['rounds']} (lazy {r.get('lazy_rounds', 0)}) arcs={r['arcs']} {r['method']} {r['phases']} {r['dtype']}")
    elif ours is not None:
        rel = (r["objective"] - ours["objective"]) / max(abs(ours["objective"]), 1e-300)
        notes += f"objective - ours = {rel:+.2e} relative"
        if r["solver"] == "sparse":
            notes += " (candidate graph only)"
    return f"{head} {r['time']:>9.3f} {r['peak_mb']:>9.1f} {r['objective']:>20.10g} {ratio:>8}  {notes}"


if __name__ == "__main__":
    main()
