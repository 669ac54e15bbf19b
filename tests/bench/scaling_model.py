#!/usr/bin/env python3
"""tests/bench/scaling_model.py: how data-parallel training of the IMDB model should scale.

A model with two measured inputs and one assumed one (lab 09, section 5):

    T(N) = T_compute(b) + T_allreduce(N, S)                 b = rows per rank, S = gradient bytes
    T_compute(b)      = one process's measured step at b rows (BM_LocalStep), interpolated
    T_allreduce(N, S) = 2 (N-1) alpha + 2 (N-1)/N * S / beta    (a ring: latency + bandwidth)

alpha and beta are fitted to this machine's measured all-reduce (BM_AllReduce at N = 2, shared
memory) to check the model against the measured 2-process step; for a cluster they are
assumptions (LINKS, typical figures, not measurements). Two ways to grow N:
  strong: the global batch B stays 100 (what the bench and the learning rate assume), b = B/N;
          efficiency = T(1) / (N T(N)).
  weak:   every rank keeps b rows (the global batch grows with N);
          efficiency = T_compute(b) / T(N).
Overlapping the all-reduce with backward can hide at most the part of the gradient that is final
before backward ends (the LSTM's and the head's) behind the backward still to run (the
embedding's, BM_EmbeddingBackward): the bound is printed beside each prediction.

Usage: tests/bench/scaling_model.py BENCH.json   (the --json output of run_distributed_bench.sh)
Leaves out: the wait for the slowest rank (load imbalance), contention for memory bandwidth when
many ranks share a node, and hierarchical (tree, two-level) all-reduce algorithms.
"""
import json
import math
import sys

GRADIENT_FLOATS = 130901  # Embedding 500x100 + LSTM 4*100*(100+100) + 2*400 + Linear 101
EMBEDDING_FLOATS = 50000  # the part whose gradient is final only at the end of backward
BYTES_PER_FLOAT = 4
GLOBAL_BATCH = 100

# Assumed links for the cluster predictions: (name, alpha in s, beta in bytes/s).
LINKS = [
    ("10 Gb/s Ethernet, TCP (assumed: 30 us, 1.1 GB/s)", 30e-6, 1.1e9),
    ("100 Gb/s InfiniBand (assumed: 2 us, 11 GB/s)", 2e-6, 11e9),
]


def ring_allreduce_s(procs, nbytes, alpha, beta):
    """Time of a ring all-reduce of nbytes over procs ranks; 0 for one rank."""
    if procs <= 1:
        return 0.0
    return 2 * (procs - 1) * alpha + 2 * (procs - 1) / procs * nbytes / beta


def interpolator(points):
    """T_compute(b) from measured (rows, seconds): linear between measured rows, exact at them.

    Measure the rows you predict (the bench measures ceil(100/N) for N up to 28): outside the
    measured range it refuses rather than guess how the fixed cost of a step behaves.
    """
    pts = sorted(points)
    if len(pts) < 1:
        raise ValueError("no one-process step times")

    def compute_s(rows):
        for (r0, t0), (r1, t1) in zip(pts, pts[1:] + pts[-1:]):
            if r0 == rows:
                return t0
            if r0 < rows < r1:
                return t0 + (t1 - t0) * (rows - r0) / (r1 - r0)
        raise ValueError(f"no one-process step measured at or around {rows} rows "
                         f"(measured: {[r for r, _ in pts]})")
    return compute_s


def fit_link(points):
    """(alpha, beta) fitting t = 2(N-1) alpha + 2(N-1)/N * S / beta to (N, S, t) points.

    Least squares in (alpha, 1/beta) on RELATIVE errors (each equation divided by its t), so the
    small messages, where the latency shows, count as much as the large ones.
    """
    rows = [(2 * (n - 1) / t, 2 * (n - 1) / n * s / t, 1.0) for n, s, t in points if n > 1]
    s11 = sum(u * u for u, _, _ in rows)
    s12 = sum(u * v for u, v, _ in rows)
    s22 = sum(v * v for _, v, _ in rows)
    r1 = sum(u * t for u, _, t in rows)
    r2 = sum(v * t for _, v, t in rows)
    det = s11 * s22 - s12 * s12
    if len(rows) < 2 or det <= 0:
        raise ValueError("fit_link needs all-reduce times at two or more sizes with N > 1")
    alpha = (r1 * s22 - r2 * s12) / det
    inv_beta = (s11 * r2 - s12 * r1) / det
    if inv_beta <= 0:
        raise ValueError("fit_link: the times do not grow with the size; cannot fit a bandwidth")
    return max(alpha, 0.0), 1.0 / inv_beta


def predict(compute, procs, rows, alpha, beta, embedding_backward_s=0.0):
    """The predicted step at procs ranks of `rows` rows each.

    compute(rows) -> seconds (see interpolator). Returns a dict of seconds and the overlap bound
    (what overlapping the non-embedding buckets with backward could save at most).
    """
    t_compute = compute(rows)
    t_comm = ring_allreduce_s(procs, GRADIENT_FLOATS * BYTES_PER_FLOAT, alpha, beta)
    early = (GRADIENT_FLOATS - EMBEDDING_FLOATS) * BYTES_PER_FLOAT
    overlap_bound = min(ring_allreduce_s(procs, early, alpha, beta), embedding_backward_s)
    return {"procs": procs, "rows": rows, "compute_s": t_compute, "allreduce_s": t_comm,
            "step_s": t_compute + t_comm, "overlap_saves_at_most_s": overlap_bound}


def strong(compute, procs, alpha, beta, emb_s):
    """Global batch fixed: b = ceil(B/N) (the slowest rank sets the pace)."""
    p = predict(compute, procs, math.ceil(GLOBAL_BATCH / procs), alpha, beta, emb_s)
    t1 = predict(compute, 1, GLOBAL_BATCH, alpha, beta)["step_s"]
    p["efficiency"] = t1 / (procs * p["step_s"])
    return p


def weak(compute, procs, rows, alpha, beta, emb_s):
    """Rows per rank fixed: the global batch is N * rows."""
    p = predict(compute, procs, rows, alpha, beta, emb_s)
    p["efficiency"] = p["compute_s"] / p["step_s"]
    return p


def report(bench):
    """The fitted model, its check against the measured N = 2 step, and the cluster table."""
    local = bench["local_steps"]
    compute = interpolator([(s["rows"], s["step_ms_median"] / 1e3) for s in local])
    measured_ar = [(a["procs"], a["bytes"], a["time_us_median"] / 1e6)
                   for a in bench["allreduce"] if a["procs"] > 1]
    alpha, beta = fit_link(measured_ar)
    emb = {e["rows"]: e["time_us_median"] / 1e6 for e in bench.get("embedding_backward", [])}
    emb_100 = emb.get(GLOBAL_BATCH, 0.0)
    lines = ["T_compute(b), one process (per row: what a smaller batch costs per row):"]
    for s in local:
        lines.append(f"  b = {s['rows']:>3}: {s['step_ms_median']:.2f} ms "
                     f"({s['step_ms_median'] / s['rows']:.3f} ms per row)")
    lines.append(f"this machine's all-reduce (fitted to {len(measured_ar)} sizes at N = 2): "
                 f"alpha = {alpha * 1e6:.1f} us, beta = {beta / 1e9:.2f} GB/s")
    out = {"alpha_s": alpha, "beta_Bps": beta, "check": [],
           "cluster": []}
    for row in bench["steps"]:
        n = row["procs"]
        p = strong(compute, n, alpha, beta, emb.get(math.ceil(GLOBAL_BATCH / n), emb_100))
        err = p["step_s"] * 1e3 / row["step_ms_median"] - 1
        lines.append(f"check N = {n}: predicted step {p['step_s'] * 1e3:.2f} ms "
                     f"(compute {p['compute_s'] * 1e3:.2f} + all-reduce "
                     f"{p['allreduce_s'] * 1e3:.3f}), measured {row['step_ms_median']:.2f} ms "
                     f"({err:+.1%}); efficiency predicted {p['efficiency']:.2f}, measured "
                     f"{row['efficiency']:.2f}")
        out["check"].append({**p, "measured_step_s": row["step_ms_median"] / 1e3,
                             "measured_efficiency": row["efficiency"]})
    for name, a, b in LINKS:
        lines.append(f"{name}:")
        lines.append("  procs | strong (B = 100): rows, step ms, eff | weak (b = 100): step ms, "
                     "eff | overlap saves <=")
        for n in (1, 2, 4, 8, 16, 28):
            s = strong(compute, n, a, b, emb.get(math.ceil(GLOBAL_BATCH / n), emb_100))
            w = weak(compute, n, GLOBAL_BATCH, a, b, emb_100)
            lines.append(f"  {n:>5} | {s['rows']:>4} {s['step_s'] * 1e3:>8.2f} "
                         f"{s['efficiency']:>5.2f} | {w['step_s'] * 1e3:>8.2f} "
                         f"{w['efficiency']:>5.2f} | {w['overlap_saves_at_most_s'] * 1e3:.3f} ms")
            out["cluster"].append({"link": name, "strong": s, "weak": w})
    return lines, out


def main(argv):
    if len(argv) != 2:
        print(__doc__.split("\n\n")[0] + "\nusage: scaling_model.py BENCH.json", file=sys.stderr)
        return 2
    try:
        with open(argv[1]) as f:
            bench = json.load(f)
        lines, _ = report(bench)
    except KeyError as e:
        print(f"scaling_model: {argv[1]}: no {e} (run run_distributed_bench.sh with --json and "
              "1 among --procs)", file=sys.stderr)
        return 1
    except (OSError, ValueError) as e:
        print(f"scaling_model: {argv[1]}: {e}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
