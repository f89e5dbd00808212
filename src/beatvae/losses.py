"""Loss report of a training run: a tidy CSV and a plot of its curves."""

from __future__ import annotations

import os

import pandas as pd

from beatvae.settings import CONVERTERS, DECODERS, SCALAR_COLUMNS, decoder_columns

# The logged columns a loss report shows, in scalars.csv's order (training's throughput figures are
# left out), under the report's names.
THROUGHPUT_COLUMNS = ("global_norm", "examples_per_second")
REPORT_NAMES = {"r_loss": "reconstruction_loss", "validation_r_loss": "validation_reconstruction_loss"}
REPORT_COLUMNS = {
    column: REPORT_NAMES.get(column, column) for column in SCALAR_COLUMNS if column not in THROUGHPUT_COLUMNS
}
# Runs that logged no decoder metric of their own are read as drum-class ones (the only kind before
# groove models).
DEFAULT_DECODER = CONVERTERS["DrumsConverter"]["decoder"]
# The third panel of the plot: the decoder's own metrics, with its title and y-axis label.
DECODER_PANELS = {
    "CategoricalLstmDecoder": ("accuracy", "accuracy"),
    "GrooveLstmDecoder": ("groove parts", "loss per step"),
}


def logged_decoder(scalars: pd.DataFrame) -> str:
    """The decoder whose own metrics a run logged (`scalars`: the table with every report column)."""
    logged = [decoder for decoder in DECODERS if scalars[decoder_columns(decoder)[0]].notna().any()]
    return logged[0] if logged else DEFAULT_DECODER


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
    own = decoder_columns(logged_decoder(scalars))
    others = [column for decoder in DECODERS for column in decoder_columns(decoder) if column not in own]
    return scalars.drop(columns=others).sort_values("step").reset_index(drop=True)


def plot_losses(table: pd.DataFrame, png_path: str | os.PathLike, title: str) -> None:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 7), dpi=100)
    # A drum-class model plots its accuracies, a groove model its losses per output part.
    decoder = next(decoder for decoder in DECODERS if set(decoder_columns(decoder)) <= set(table.columns))
    panel_title, panel_ylabel = DECODER_PANELS[decoder]
    third_panel = (panel_title, decoder_columns(decoder), panel_ylabel)
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
