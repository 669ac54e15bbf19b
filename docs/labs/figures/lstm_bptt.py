#!/usr/bin/env python3
# docs/labs/figures/lstm_bptt.py: lab 04's picture of the LSTM cell and of BPTT over 3 steps.
#
# Left: one step in PyTorch's gate order (section 1 of the lab): a_t from two GEMMs, the gates
# i, f, g, o, the cell line c_{t-1} -> c_t (a multiply by f and an add: no weight matrix) and
# h_t = o * tanh(c_t). Right: the cell unrolled over t = 1..3; black arrows carry the forward
# values, red ones the gradients BPTT sends back one step: dc_{t-1} = dc_t * f_t along the cell
# line, and da_t W_hh into dh_{t-1}, added to the gradient arriving from the output at t-1.
# Usage: lstm_bptt.py OUT.png
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch


def box(ax, x, y, text, color="#cfe2f3", w=1.0, h=0.7):
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.05",
                                facecolor=color, edgecolor="black"))
    ax.text(x, y, text, ha="center", va="center", fontsize=10)


def op(ax, x, y, text):
    ax.add_patch(Circle((x, y), 0.32, facecolor="#fff2cc", edgecolor="black"))
    ax.text(x, y, text, ha="center", va="center", fontsize=11 if len(text) == 1 else 8)


def arrow(ax, p, q, color="black", style="-|>", ls="-", rad=0.0):
    ax.add_patch(FancyArrowPatch(p, q, arrowstyle=style, mutation_scale=12, color=color,
                                 linestyle=ls, lw=1.4, shrinkA=12, shrinkB=12,
                                 connectionstyle=f"arc3,rad={rad}"))


def label(ax, x, y, text, **kw):
    ax.text(x, y, text, ha="center", va="center", fontsize=10, **kw)


def cell(ax):
    ax.set_title("one LSTM step (gate order i, f, g, o)", fontsize=11)
    label(ax, -0.4, 5, "$c_{t-1}$")
    op(ax, 2.4, 5, "×")
    op(ax, 4.6, 5, "+")
    label(ax, 9.4, 5, "$c_t$")
    box(ax, 2.4, 2.2, "σ  f")
    box(ax, 3.7, 2.2, "σ  i")
    box(ax, 5.0, 2.2, "tanh g")
    box(ax, 6.5, 2.2, "σ  o")
    op(ax, 4.35, 3.6, "×")
    op(ax, 7.8, 3.9, "tanh")
    op(ax, 7.8, 2.2, "×")
    label(ax, 9.4, 2.2, "$h_t$")
    box(ax, 4.4, 0.6, "$a_t = x_t W_{ih}^T + h_{t-1} W_{hh}^T + b$   [B, 4H]", "#d9ead3", 6.2)
    label(ax, -0.4, 0.6, "$h_{t-1}$")
    label(ax, 4.4, -0.8, "$x_t$")
    arrow(ax, (-0.2, 5), (2.4, 5))
    arrow(ax, (2.4, 5), (4.6, 5))
    arrow(ax, (4.6, 5), (9.2, 5))
    arrow(ax, (2.4, 2.2), (2.4, 5))
    arrow(ax, (3.7, 2.2), (4.35, 3.6))
    arrow(ax, (5.0, 2.2), (4.35, 3.6))
    arrow(ax, (4.35, 3.6), (4.6, 5))
    arrow(ax, (7.8, 5.0), (7.8, 3.9), style="-|>")
    ax.plot([7.8], [5.0], "ko", ms=4)  # c_t branches to tanh
    arrow(ax, (7.8, 3.9), (7.8, 2.2))
    arrow(ax, (6.5, 2.2), (7.8, 2.2))
    arrow(ax, (7.8, 2.2), (9.2, 2.2))
    for x in (2.4, 3.7, 5.0, 6.5):
        arrow(ax, (x, 0.6), (x, 2.2))
    arrow(ax, (-0.2, 0.6), (1.3, 0.6))
    arrow(ax, (4.4, -0.7), (4.4, 0.6))
    label(ax, 3.5, 5.45, "the cell line: × f, + i g (no weight matrix)", color="#444444")
    ax.set_xlim(-1, 10)
    ax.set_ylim(-1.3, 6)
    ax.axis("off")


def unrolled(ax):
    ax.set_title("BPTT: forward (black), gradients one step back (red)", fontsize=11)
    xs = [1.5, 5.0, 8.5]
    for t, x in enumerate(xs, start=1):
        box(ax, x, 2.5, f"LSTM step\nt = {t}", "#cfe2f3", 1.8, 2.0)
        label(ax, x, -0.2, f"$x_{t}$")
        arrow(ax, (x, 0.0), (x, 1.5))
        label(ax, x, 5.4, f"$h_{t}$ → loss")
        arrow(ax, (x - 0.3, 3.5), (x - 0.3, 5.1))
        arrow(ax, (x + 0.3, 5.1), (x + 0.3, 3.5), color="red", ls="--")
        ax.text(x + 0.4, 4.3, "$\\partial L/\\partial h_" + str(t) + "$", color="red",
                fontsize=9, va="center")
    label(ax, -0.5, 3.0, "$c_0$")
    label(ax, -0.5, 2.0, "$h_0$")
    arrow(ax, (-0.2, 3.0), (0.6, 3.0))
    arrow(ax, (-0.2, 2.0), (0.6, 2.0))
    for a, b in zip(xs, xs[1:]):
        arrow(ax, (a + 0.9, 3.0), (b - 0.9, 3.0))
        arrow(ax, (a + 0.9, 2.0), (b - 0.9, 2.0))
        arrow(ax, (b - 0.9, 3.3), (a + 0.9, 3.3), color="red", ls="--", rad=0.35)
        arrow(ax, (b - 0.9, 1.7), (a + 0.9, 1.7), color="red", ls="--", rad=-0.35)
        ax.text((a + b) / 2, 4.05, "$dc \\cdot f$", color="red", ha="center", fontsize=9)
        ax.text((a + b) / 2, 0.95, "$da\\, W_{hh}$", color="red", ha="center", fontsize=9)
        label(ax, (a + b) / 2, 2.75, "c", color="#444444")
        label(ax, (a + b) / 2, 2.25, "h", color="#444444")
    ax.text(5.0, -1.1, "dc_t = dh_t o_t (1 - tanh² c_t) + dc_{t+1} f_{t+1};   "
            "dh_t = ∂L/∂h_t + da_{t+1} W_hh", ha="center", fontsize=9, color="red")
    ax.set_xlim(-1, 10)
    ax.set_ylim(-1.5, 6)
    ax.axis("off")


def main(out):
    fig, axes = plt.subplots(1, 2, figsize=(15, 5))
    cell(axes[0])
    unrolled(axes[1])
    fig.tight_layout()
    fig.savefig(out, dpi=100, metadata={"Software": None})


if __name__ == "__main__":
    main(sys.argv[1])
