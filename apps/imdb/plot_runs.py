#!/usr/bin/python3
"""apps/imdb/plot_runs.py: validation accuracy of several `imdb train` runs, grouped by label.

  /usr/bin/python3 apps/imdb/plot_runs.py OUT.png LABEL=RUN_DIR[,RUN_DIR...] [LABEL=...]

Each LABEL names a group of run folders (e.g. three seeds of one setting); the plot draws each
run's validation accuracy per epoch thinly and the group's mean boldly. Epochs, not seconds: runs
with the same model and batch cost the same per epoch, so epochs to a target compare their
time to it, and seconds taken on a shared machine would not. A dashed line marks --target
(default 0.83). Reads <run>/metrics.jsonl only; needs Debian's python3-matplotlib. Prints the
file it wrote.
"""
import json
import os
import sys


def read_run(path):
    rows = []
    with open(os.path.join(path, "metrics.jsonl")) as f:
        for line in f:
            line = line.strip()
            if line:
                rows.append(json.loads(line))
    return rows


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--target=")]
    target = next((float(a.split("=", 1)[1]) for a in sys.argv[1:] if a.startswith("--target=")),
                  0.83)
    if len(args) < 2 or any("=" not in a for a in args[1:]):
        print(__doc__.strip().splitlines()[2].strip())
        return 2
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, by_epoch = plt.subplots(figsize=(6.5, 4.2))
    for i, group in enumerate(args[1:]):
        label, dirs = group.split("=", 1)
        runs = [read_run(d) for d in dirs.split(",")]
        colour = f"C{i}"
        for run in runs:
            acc = [r["val_acc"] for r in run]
            by_epoch.plot(range(1, len(acc) + 1), acc, color=colour, alpha=0.3, lw=1)
        n = min(len(r) for r in runs)
        mean = [sum(r[e]["val_acc"] for r in runs) / len(runs) for e in range(n)]
        by_epoch.plot(range(1, n + 1), mean, color=colour, lw=2.5, marker="o",
                      label=f"{label} (mean of {len(runs)})")
    by_epoch.axhline(target, color="grey", ls="--", lw=1)
    by_epoch.grid(alpha=0.3)
    by_epoch.set_xlabel("epoch")
    by_epoch.set_ylabel("validation accuracy")
    by_epoch.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(args[0], dpi=110)
    print(args[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
