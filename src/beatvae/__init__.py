"""Groove MIDI Dataset -> Magenta MusicVAE drum models: the logic behind the Snakemake workflow."""
