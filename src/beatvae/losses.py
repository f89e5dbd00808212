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
    "hits_loss": "hits_loss",
    "velocities_loss": "velocities_loss",
    "offsets_loss": "offsets_loss",
    "beta": "beta",
    "sampling_probability": "sampling_probability",
    "learning_rate": "learning_rate",
    "validation_loss": "validation_loss",
    "validation_r_loss": "validation_reconstruction_loss",
    "validation_kl_bits": "validation_kl_bits",
    "validation_accuracy": "validation_accuracy",
    "validation_free_running_accuracy": "validation_free_running_accuracy",
    "validation_hits_loss": "validation_hits_loss",
    "validation_velocities_loss": "validation_velocities_loss",
    "validation_offsets_loss": "validation_offsets_loss",
}


# Columns only one decoder logs: a drum-class model's accuracies, a groove model's losses per part.
DECODER_COLUMNS = {
    "accuracy": "categorical",
    "validation_accuracy": "categorical",
    "validation_free_running_accuracy": "categorical",
    **{
        f"{prefix}{part}_loss": "groove" for prefix in ("", "validation_") for part in ("hits", "velocities", "offsets")
    },
}


def loss_table(scalars_csv: str | os.PathLike) -> pd.DataFrame:
    """One row per logged step; validation columns are empty on steps without a validation.

    Scalars of runs that were never validated (or logged before validation existed) have no
    validation columns: they come out empty rather than missing, so the table keeps one shape.
    Only the columns of the model's own decoder are kept (accuracies, or groove losses).
    """
    scalars = pd.read_csv(scalars_csv)
    if scalars.empty:
        raise ValueError(f"{scalars_csv} has no logged steps")
    scalars = scalars.reindex(columns=list(REPORT_COLUMNS)).rename(columns=REPORT_COLUMNS)
    groove = "hits_loss" in scalars and scalars["hits_loss"].notna().any()
    other = "categorical" if groove else "groove"
    scalars = scalars.drop(columns=[column for column, kind in DECODER_COLUMNS.items() if kind == other])
    return scalars.sort_values("step").reset_index(drop=True)


def plot_losses(table: pd.DataFrame, png_path: str | os.PathLike, title: str) -> None:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 7), dpi=100)
    # A drum-class model plots its accuracies, a groove model its losses per output part.
    groove = "hits_loss" in table
    third_panel = (
        (
            "groove parts",
            [f"{prefix}{part}_loss" for prefix in ("", "validation_") for part in ("hits", "velocities", "offsets")],
            "loss per step",
        )
        if groove
        else ("accuracy", ["accuracy", "validation_accuracy", "validation_free_running_accuracy"], "accuracy")
    )
    panels = [
        (
            "loss",
            ["loss", "reconstruction_loss", "validation_loss", "validation_reconstruction_loss"],
            "nats per window",
        ),
        ("KL", ["kl_bits", "kl_loss", "validation_kl_bits"], "bits / free-bits cost"),
        third_panel,
        ("schedules", ["beta", "sampling_probability"], "value"),
    ]
    for position, (name, columns, ylabel) in enumerate(panels, start=1):
        axes = figure.add_subplot(2, 2, position)
        for column in columns:
            points = table[["step", column]].dropna()
            if points.empty:
                continue
            # Validation is sparser than training logs: markers keep single points visible.
            style = {"marker": "o", "markersize": 3} if column.startswith("validation") else {}
            axes.plot(points["step"], points[column], label=column, **style)
        axes.set_title(name)
        axes.set_xlabel("step")
        axes.set_ylabel(ylabel)
        axes.grid(alpha=0.3)
        axes.legend(fontsize="small")
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(png_path)
