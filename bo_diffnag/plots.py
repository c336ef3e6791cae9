"""Plots people would rather look at than read: the best-so-far curve of a NAS run."""

from __future__ import annotations

import os

import pandas as pd


def plot_best_so_far(trials: pd.DataFrame, path: str | os.PathLike, title: str = "NAS run") -> None:
    """Save a PNG of every completed trial's objective and the best so far, in completion order.

    ``trials`` needs ``objective`` and ``status`` columns (the trial table of ``bo-diffnag run``); failed
    trials are marked along the x axis.

    Example:
        >>> df = pd.DataFrame({"objective": [90.0, 92.5, float("nan")], "status": ["COMPLETED", "COMPLETED", "FAILED"]})
        >>> plot_best_so_far(df, "/tmp/best.png")
    """
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    done = trials["status"].eq("COMPLETED").to_numpy()
    x = range(1, len(trials) + 1)
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    ax.scatter([i for i, d in zip(x, done) if d], trials["objective"][done], s=14, alpha=0.6, label="trial")
    ax.plot([i for i, d in zip(x, done) if d], trials["objective"][done].cummax(), color="C3", lw=2, label="best so far")
    failed = [i for i, d in zip(x, done) if not d]
    if failed:
        low = trials["objective"][done].min() if done.any() else 0.0
        ax.scatter(failed, [low] * len(failed), marker="x", color="grey", label="failed")
    ax.set_xlabel("trial")
    ax.set_ylabel("objective (validation accuracy, %)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
