#!/usr/bin/env python3
# docs/labs/figures/strides.py: lab 01's picture of views: one storage, three (shape, strides).
#
# A [2, 3] tensor over 6 floats, its transpose (a view: strides swapped) and a [1, 3] row
# expanded to [4, 3] (stride 0: every row reads the same 3 floats). Each cell shows its value
# and the storage offset it reads, offset = sum(index[d] * stride[d]).
# Usage: strides.py OUT.png  (make_figures.sh passes docs/labs/img/strides.png)
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import Rectangle


def cell(ax, x, y, text, color):
    ax.add_patch(Rectangle((x, y), 1, 1, facecolor=color, edgecolor="black"))
    ax.text(x + 0.5, y + 0.5, text, ha="center", va="center", fontsize=9)


def storage_row(ax, y, values, color, label):
    ax.text(-0.3, y + 0.5, label, ha="right", va="center", fontsize=10)
    for k, v in enumerate(values):
        cell(ax, k, y, f"{v}", color)
        ax.text(k + 0.5, y - 0.25, f"{k}", ha="center", va="center", fontsize=7, color="gray")


def view_grid(ax, x0, y0, shape, strides, values, color):
    rows, cols = shape
    for i in range(rows):
        for j in range(cols):
            off = i * strides[0] + j * strides[1]
            cell(ax, x0 + j, y0 - i, f"{values[off]}\n@{off}", color)


def panel(ax, title, storage, shape, strides, color, note):
    ax.set_title(title, fontsize=11)
    storage_row(ax, 0, storage, "#eeeeee", "storage")
    view_grid(ax, 0.5, -2, shape, strides, storage, color)
    ax.text(0, -5.9, note, fontsize=9, va="top")
    ax.set_xlim(-2.6, 7)
    ax.set_ylim(-7.6, 1.4)
    ax.set_aspect("equal")
    ax.axis("off")


def main(out):
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2))
    a = [0, 1, 2, 3, 4, 5]
    panel(axes[0], "a = arange(6).reshape({2, 3})", a, (2, 3), (3, 1), "#cfe2f3",
          "shape [2, 3], strides [3, 1], offset 0\nrow-major: contiguous")
    panel(axes[1], "a.transpose(0, 1): a view", a, (3, 2), (1, 3), "#d9ead3",
          "shape [3, 2], strides [1, 3]\nsame storage, no copy;\nnot contiguous: compact() copies")
    panel(axes[2], "row.expand({4, 3}): broadcasting", [1, 2, 3], (4, 3), (0, 1), "#fce5cd",
          "shape [4, 3], strides [0, 1]\nstride 0: every row reads\nthe same 3 floats")
    fig.suptitle("A view is (shape, strides, offset) over shared storage; "
                 "cell = value @ storage offset", fontsize=11)
    fig.tight_layout()
    fig.savefig(out, dpi=110, metadata={"Software": None})


if __name__ == "__main__":
    main(sys.argv[1])
