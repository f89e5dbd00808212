# MusicVAE drum models from the Groove MIDI Dataset.
# Run:  snakemake --cores all               (embedded GMD sample, small CPU models)
#       snakemake --cores all --configfile config/gmd.yaml   (full GMD, reference models)


configfile: "config/config.yaml"


include: "rules/common.smk"
include: "rules/data.smk"


rule all:
    input:
        all_targets(),
    default_target: True
