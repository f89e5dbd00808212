"""Loss report of a training run: a tidy CSV and a plot of its curves."""

from __future__ import annotations

import os

import pandas as pd

REPORT_COLUMNS = {
    "step": "step",
    "loss": "loss",
    "r_loss": "reconstruction_loss",
    "kl_loss": "kl_loss",
    "kl_bits": "kl_bits",
    "accuracy": "accuracy",
    "beta": "beta",
    "sampling_probability": "sampling_probability",
    "learning_rate": "learning_rate",
}


def loss_table(scalars_csv: str | os.PathLike) -> pd.DataFrame:
    scalars = pd.read_csv(scalars_csv)
    if scalars.empty:
        raise ValueError(f"{scalars_csv} has no logged steps")
    return scalars[list(REPORT_COLUMNS)].rename(columns=REPORT_COLUMNS).sort_values("step").reset_index(drop=True)


def plot_losses(table: pd.DataFrame, png_path: str | os.PathLike, title: str) -> None:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 7), dpi=100)
    panels = [
        ("loss", ["loss", "reconstruction_loss"], "nats per window"),
        ("KL", ["kl_bits", "kl_loss"], "bits / free-bits cost"),
        ("accuracy", ["accuracy"], "training accuracy"),
        ("schedules", ["beta", "sampling_probability"], "value"),
    ]
    for position, (name, columns, ylabel) in enumerate(panels, start=1):
        axes = figure.add_subplot(2, 2, position)
        for column in columns:
            axes.plot(table["step"], table[column], label=column)
        axes.set_title(name)
        axes.set_xlabel("step")
        axes.set_ylabel(ylabel)
        axes.grid(alpha=0.3)
        axes.legend(fontsize="small")
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(png_path)
