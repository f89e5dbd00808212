from beatvae.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    from beatvae.losses import loss_table, plot_losses
    from beatvae.model import TrainedModelDir

    table = loss_table(TrainedModelDir.load(snakemake.input[0]).scalars)
    table.to_csv(snakemake.output.csv, index=False)
    plot_losses(table, snakemake.output.png, f"training curves: {snakemake.wildcards.variant}")
