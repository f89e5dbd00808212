# MusicVAE drum models from the Groove MIDI Dataset.
# Run:  snakemake --cores all               (embedded GMD sample, small CPU models)
#       snakemake --cores all --configfile config/gmd.yaml   (full GMD, reference models)


# The default config only when none is given: --configfile would otherwise be merged over it,
# and its variants would run too.
if not config:

    configfile: f"{workflow.basedir}/config/config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/train.smk"
include: "rules/generate.smk"
include: "rules/evaluate.smk"
include: "rules/render.smk"


rule all:
    default_target: True
    input:
        all_targets(),
