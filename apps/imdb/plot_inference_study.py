#!/usr/bin/python3
"""apps/imdb/plot_inference_study.py: the inference study's plot from <out>/report.json.

  /usr/bin/python3 apps/imdb/plot_inference_study.py OUT_DIR

Writes OUT_DIR/accuracy_vs_latency.png: left, accuracy against batch-1 p90 latency (log scale),
one point per row that ran, each marker's area proportional to the model's bytes; right, accuracy
against model bytes. Prints the file it wrote. Exits 3 with a message when matplotlib is missing
(imdb study then says the plot was skipped). Needs only Debian's python3-matplotlib.
"""
import json
import os
import sys


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2].strip())
        return 2
    out = sys.argv[1]
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display on compute nodes
        import matplotlib.pyplot as plt
    except ImportError as e:
        print(f"matplotlib is not available ({e}); install python3-matplotlib")
        return 3
    with open(os.path.join(out, "report.json")) as f:
        rows = [r for r in json.load(f)["rows"] if r["status"] == "ran"]
    if not rows:
        print("no row ran: nothing to plot")
        return 4
    biggest = max(r["model_bytes"] for r in rows) or 1
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    for r in rows:
        acc = 100 * r["accuracy"]
        colour = "tab:orange" if r["name"].startswith("torch") else "tab:blue"
        left.scatter(r["p90_ms"], acc, s=30 + 400 * r["model_bytes"] / biggest, c=colour, alpha=0.6)
        left.annotate(r["name"], (r["p90_ms"], acc), textcoords="offset points", xytext=(5, 5), fontsize=8)
        right.scatter(r["model_bytes"] / 1e6, acc, c=colour)
        right.annotate(r["name"], (r["model_bytes"] / 1e6, acc), textcoords="offset points", xytext=(5, 5),
                       fontsize=8)
    left.set_xscale("log")
    left.set_xlabel("batch-1 p90 latency, ms (log; marker area ~ model bytes)")
    left.set_ylabel("accuracy, %")
    left.set_title("accuracy against latency (blue: loom, orange: PyTorch)")
    right.set_xlabel("model bytes, MB")
    right.set_ylabel("accuracy, %")
    right.set_title("accuracy against model size")
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    path = os.path.join(out, "accuracy_vs_latency.png")
    fig.savefig(path, dpi=110)
    print(os.path.basename(path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
