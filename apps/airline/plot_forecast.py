#!/usr/bin/python3
"""apps/airline/plot_forecast.py: draw the series, the forecasts and the baselines (matplotlib).

  /usr/bin/python3 apps/airline/plot_forecast.py DATA_CSV RUN_DIR [OUT_PNG]

Reads DATA_CSV (month,passengers) and RUN_DIR/forecasts.csv (written by `airline study` or
`airline forecast --out RUN_DIR`) and writes OUT_PNG (default RUN_DIR/airline-forecast.png): the
whole series, then two panels: the one-step-ahead forecasts of the test months and the 12-month
forecast, each with persistence, seasonal naive, Holt-Winters and the model (seed 1). Exits 3 with
a message when matplotlib is missing. Uses only the stdlib csv module besides matplotlib.
"""
import csv
import os
import sys


def main():
    if len(sys.argv) not in (3, 4):
        print(__doc__.strip().splitlines()[2].strip())
        return 2
    data, run = sys.argv[1], sys.argv[2]
    out = sys.argv[3] if len(sys.argv) == 4 else os.path.join(run, "airline-forecast.png")
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display on compute nodes
        import matplotlib.pyplot as plt
    except ImportError as e:
        print(f"matplotlib is not available ({e}); install python3-matplotlib")
        return 3
    with open(data, newline="") as f:
        series = [(r["month"], float(r["passengers"])) for r in csv.DictReader(f)]
    index = {m: i for i, (m, _) in enumerate(series)}
    with open(os.path.join(run, "forecasts.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    methods = [("persistence", "tab:gray", ":"), ("seasonal_naive", "tab:olive", "--"),
               ("holt_winters_additive", "tab:orange", "-."),
               ("holt_winters_multiplicative", "tab:purple", "-."), ("model_seed1", "tab:red", "-")]
    fig, axes = plt.subplots(3, 1, figsize=(9, 10))
    xs = list(range(len(series)))
    axes[0].plot(xs, [v for _, v in series], color="black", label="passengers (thousands)")
    axes[0].set_title("the series, 1949-1960")
    for ax, kind, title in ((axes[1], "one_step", "one step ahead, test months"),
                            (axes[2], "ahead", "12 months ahead (recursive)")):
        part = [r for r in rows if r["kind"] == kind]
        t = [index[r["month"]] for r in part]
        ax.plot(t, [float(r["actual"]) for r in part], color="black", linewidth=2, label="actual")
        for name, colour, style in methods:
            ax.plot(t, [float(r[name]) for r in part], color=colour, linestyle=style, label=name)
        ax.set_title(title)
        ax.set_xlim(min(t) - 1, max(t) + 1)
        ax.legend(fontsize=8)
    for ax in axes:
        lo, hi = ax.get_xlim()
        ticks = [i for i in xs if series[i][0].endswith("-01") and lo <= i <= hi]
        ax.set_xticks(ticks)
        ax.set_xticklabels([series[i][0][:4] for i in ticks], fontsize=8)
        ax.set_ylabel("thousands")
    axes[0].axvline(index[rows[0]["month"]], color="tab:blue", linewidth=0.8)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
