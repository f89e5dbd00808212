from beatvae.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    from pathlib import Path

    from beatvae.losses import loss_table, plot_losses

    table = loss_table(Path(snakemake.input[0], "scalars.csv"))
    table.to_csv(snakemake.output.csv, index=False)
    plot_losses(table, snakemake.output.png, f"training curves: {snakemake.wildcards.variant}")
