#!/usr/bin/env python3
# docs/labs/figures/pipeline_schedule.py: lab 09's picture of a GPipe schedule.
#
# 2 stages x 4 micro-batches: every stage runs the forwards (F) of all micro-batches, then their
# backwards (B) in reverse order; a backward takes twice a forward (it computes two gradients).
# Each box starts as soon as its input is ready: F(s, m) after F(s-1, m) and F(s, m-1),
# B(s, m) after B(s+1, m) and the stage's previous box. Idle time, the bubble, is shaded; its
# share is (S-1)/(M+S-1) of the step whatever the F:B ratio.
# Usage: pipeline_schedule.py OUT.png [STAGES MICRO_BATCHES]
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import Rectangle

T_F, T_B = 1.0, 2.0


def schedule(stages, micro):
    """Returns {(kind, stage, m): (start, end)} for GPipe with the rule above."""
    box = {}
    for s in range(stages):
        for m in range(micro):
            start = max(box[("F", s - 1, m)][1] if s else 0.0,
                        box[("F", s, m - 1)][1] if m else 0.0)
            box[("F", s, m)] = (start, start + T_F)
    for s in reversed(range(stages)):
        prev_end = box[("F", s, micro - 1)][1]
        for m in reversed(range(micro)):
            ready = box[("B", s + 1, m)][1] if s + 1 < stages else 0.0
            start = max(ready, prev_end)
            box[("B", s, m)] = (start, start + T_B)
            prev_end = start + T_B
    return box


def main(out, stages=2, micro=4):
    box = schedule(stages, micro)
    end = max(e for _, e in box.values())
    fig, ax = plt.subplots(figsize=(10, 1.1 + 0.8 * stages))
    for s in range(stages):
        y = stages - 1 - s
        ax.add_patch(Rectangle((0, y + 0.1), end, 0.8, facecolor="#dddddd", hatch="//",
                               edgecolor="#999999", lw=0))
    for (kind, s, m), (t0, t1) in box.items():
        y = stages - 1 - s
        color = "#9fc5e8" if kind == "F" else "#f6b26b"
        ax.add_patch(Rectangle((t0, y + 0.1), t1 - t0, 0.8, facecolor=color, edgecolor="black"))
        ax.text((t0 + t1) / 2, y + 0.5, f"{kind}{m}", ha="center", va="center", fontsize=10)
    busy = stages * micro * (T_F + T_B)
    bubble = 1 - busy / (stages * end)
    ax.set_xlim(0, end)
    ax.set_ylim(0, stages)
    ax.set_yticks([stages - 1 - s + 0.5 for s in range(stages)])
    ax.set_yticklabels([f"stage {s}" for s in range(stages)])
    ax.set_xlabel("time (a forward of one micro-batch = 1)")
    ax.set_title(f"GPipe, {stages} stages x {micro} micro-batches: F = forward, B = backward, "
                 f"hatched = bubble ({bubble:.0%} of stage time = (S-1)/(M+S-1))", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110, metadata={"Software": None})


if __name__ == "__main__":
    args = sys.argv[1:]
    main(args[0], *(int(a) for a in args[1:3]))
