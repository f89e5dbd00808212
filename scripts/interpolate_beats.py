import pandas as pd

from beatvae.generation import endpoint_latents, interpolate, load_trained_model, trained_settings
from beatvae.logs import redirect_to_log
from beatvae.metadata import find_gmd_root

with redirect_to_log(snakemake.log[0]):
    settings, converter = trained_settings(snakemake.input.model)
    generation = snakemake.params.generation
    interpolation = generation["interpolation"]
    model = load_trained_model(settings, converter, snakemake.input.model, batch_size=interpolation["num_steps"], seed=generation["seed"])
    endpoints = endpoint_latents(
        model,
        interpolation["endpoints"],
        converter,
        sample_latents_path=snakemake.input.get("latents"),
        metadata=pd.read_parquet(snakemake.input.metadata) if "metadata" in snakemake.input.keys() else None,
        gmd_root=find_gmd_root(snakemake.input.gmd) if "gmd" in snakemake.input.keys() else None,
        workflow_dir=snakemake.params.workflow_dir,
    )
    interpolate(model, *endpoints, interpolation, converter, generation["qpm"], snakemake.output.midi, snakemake.output.steps)
