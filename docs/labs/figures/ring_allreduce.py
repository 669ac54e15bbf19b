#!/usr/bin/env python3
# docs/labs/figures/ring_allreduce.py: lab 09's picture of a ring all-reduce over 4 ranks.
#
# Each rank's buffer is cut into N chunks (columns); a cell lists the ranks whose values it
# holds summed ("0+1+2+3" = done). Reduce-scatter step k: rank r sends chunk (r - k) mod N to
# rank r+1, which adds it to its own; after N-1 steps rank r holds the full sum of chunk
# (r + 1) mod N. All-gather step k: rank r sends chunk (r + 1 - k) mod N, which the right
# neighbour copies. The cells a rank received in a step have a red border. The simulation is
# the algorithm itself, so the picture cannot disagree with it.
# Usage: ring_allreduce.py OUT.png [RANKS]
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import Rectangle

COLORS = ["#ffffff", "#d9ead3", "#b6d7a8", "#93c47d", "#6aa84f", "#38761d"]


def steps(n):
    """Yields (title, holds, received): holds[r][c] is the set of ranks summed in r's chunk c."""
    holds = [[{r} for _ in range(n)] for r in range(n)]
    yield "start: each rank holds its own gradient", [[set(x) for x in row] for row in holds], set()
    for k in range(n - 1):
        sent = [(r, (r - k) % n, set(holds[r][(r - k) % n])) for r in range(n)]
        received = set()
        for r, c, value in sent:
            holds[(r + 1) % n][c] |= value
            received.add(((r + 1) % n, c))
        yield f"reduce-scatter step {k + 1}", [[set(x) for x in row] for row in holds], received
    for k in range(n - 1):
        sent = [(r, (r + 1 - k) % n, set(holds[r][(r + 1 - k) % n])) for r in range(n)]
        received = set()
        for r, c, value in sent:
            holds[(r + 1) % n][c] = value
            received.add(((r + 1) % n, c))
        yield f"all-gather step {k + 1}", [[set(x) for x in row] for row in holds], received


def draw(ax, title, holds, received, n):
    for r in range(n):
        for c in range(n):
            ranks = holds[r][c]
            edge = "red" if (r, c) in received else "black"
            ax.add_patch(Rectangle((c, n - 1 - r), 1, 1, facecolor=COLORS[min(len(ranks), 5)],
                                   edgecolor=edge, lw=2.5 if edge == "red" else 0.8))
            label = "+".join(str(x) for x in sorted(ranks))
            ax.text(c + 0.5, n - 0.5 - r, label, ha="center", va="center",
                    fontsize=7 if len(ranks) > 2 else 9,
                    color="white" if len(ranks) == n else "black")
    ax.set_title(title, fontsize=9)
    ax.set_xlim(0, n)
    ax.set_ylim(0, n)
    ax.set_xticks([c + 0.5 for c in range(n)])
    ax.set_xticklabels([f"chunk {c}" for c in range(n)], fontsize=7)
    ax.set_yticks([n - 0.5 - r for r in range(n)])
    ax.set_yticklabels([f"rank {r}" for r in range(n)], fontsize=7)
    ax.set_aspect("equal")
    ax.tick_params(length=0)


def main(out, n=4):
    panels = list(steps(n))
    cols = n  # row 1: start + reduce-scatter, row 2: all-gather (+ the cost note)
    fig, axes = plt.subplots(2, cols, figsize=(3 * cols, 6.4))
    for i, (title, holds, received) in enumerate(panels[:n]):
        draw(axes[0][i], title, holds, received, n)
    for i, (title, holds, received) in enumerate(panels[n:]):
        draw(axes[1][i], title, holds, received, n)
    note = axes[1][cols - 1]
    note.axis("off")
    note.text(0, 0.5, f"{n} ranks, buffer of S bytes in {n} chunks.\n"
              f"Each step every rank sends one chunk\n(S/{n} bytes) to its right neighbour.\n"
              f"2({n}-1) = {2 * (n - 1)} steps: each rank sends\n"
              f"2(N-1)/N * S = {2 * (n - 1) / n:.2f} S bytes.\n\n"
              "red border: received this step", fontsize=9, va="center")
    fig.suptitle(f"Ring all-reduce over {n} ranks: reduce-scatter (top), then all-gather "
                 "(bottom)", fontsize=11)
    fig.tight_layout()
    fig.savefig(out, dpi=100, metadata={"Software": None})


if __name__ == "__main__":
    args = sys.argv[1:]
    main(args[0], *(int(a) for a in args[1:2]))
