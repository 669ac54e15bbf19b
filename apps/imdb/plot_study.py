#!/usr/bin/python3
"""apps/imdb/plot_study.py: draw the study's plots from <report>/metrics.csv (matplotlib).

  /usr/bin/python3 apps/imdb/plot_study.py REPORT_DIR

Writes REPORT_DIR/epoch_time.png (mean epoch time per variant, bars), accuracy.png (train and
validation accuracy per epoch, one colour per variant) and data_time.png (data-loading and wait
time per variant, bars). Prints the files it wrote on one line. Exits 3 with a message when
matplotlib is missing (imdb study then says the plots were skipped). Uses only the stdlib csv
module besides matplotlib, so Debian's python3-matplotlib is enough.
"""
import csv
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
        import matplotlib.ticker  # noqa: F401 (integer epoch ticks)
    except ImportError as e:
        print(f"matplotlib is not available ({e}); install python3-matplotlib")
        return 3

    rows = {}
    with open(os.path.join(out, "metrics.csv"), newline="") as f:
        for r in csv.DictReader(f):
            rows.setdefault(r["variant"], []).append(r)
    if not rows:
        print("no epochs in metrics.csv: nothing to plot")
        return 0
    names = list(rows)

    def mean(v, key):
        xs = [float(r[key]) for r in rows[v]]
        return sum(xs) / len(xs)

    written = []

    fig, ax = plt.subplots(figsize=(7, 4))
    times = [mean(v, "epoch_time_s") for v in names]
    ax.bar(names, times, color="tab:blue")
    for i, t in enumerate(times):
        ax.text(i, t, f"{t:.1f}s", ha="center", va="bottom", fontsize=8)
    ax.set_ylabel("mean epoch time (s)")
    ax.set_title("Epoch time per variant (lower is faster)")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "epoch_time.png"), dpi=120)
    written.append("epoch_time.png")

    fig, ax = plt.subplots(figsize=(7, 4))
    for i, v in enumerate(names):
        ep = [int(r["epoch"]) for r in rows[v]]
        color = f"C{i % 10}"
        ax.plot(ep, [float(r["val_acc"]) for r in rows[v]], "-o", color=color, label=f"{v} val")
        ax.plot(ep, [float(r["train_acc"]) for r in rows[v]], "--", color=color, alpha=0.6,
                label=f"{v} train")
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_ylabel("accuracy")
    ax.set_title("Accuracy per epoch (solid: validation, dashed: train)")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "accuracy.png"), dpi=120)
    written.append("accuracy.png")

    fig, ax = plt.subplots(figsize=(7, 4))
    x = range(len(names))
    ax.bar([i - 0.2 for i in x], [mean(v, "data_time_s") for v in names], width=0.4,
           label="building batches")
    ax.bar([i + 0.2 for i in x], [mean(v, "wait_time_s") for v in names], width=0.4,
           label="loop waiting for a batch")
    ax.set_xticks(list(x))
    ax.set_xticklabels(names)
    ax.set_ylabel("seconds per epoch")
    ax.set_title("Data loading per variant")
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out, "data_time.png"), dpi=120)
    written.append("data_time.png")

    print("wrote " + ", ".join(written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
