# MusicVAE drum models from the Groove MIDI Dataset.
# Run:  snakemake --cores all               (the vendored whole GMD, small CPU models)
#       snakemake --cores all --configfile config/gmd.yaml   (official download, reference models)
#       snakemake --cores all --config generation='{num_samples: 16, temperature: 0.8}'


# The default config unless --configfile names one (its variants would otherwise run too).
# --config values are merged over whichever it is (rules/common.smk types them).
if not workflow.overwrite_configfiles:

    configfile: f"{workflow.basedir}/config/config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/train.smk"
include: "rules/generate.smk"
include: "rules/evaluate.smk"
include: "rules/render.smk"
include: "rules/humanize.smk"


rule all:
    default_target: True
    input:
        all_targets(),


# The run ends (not a dry run) by saying how long it took and how fast each variant trained
# (steps/s), the figures to hold against the recipe's budget on this machine, and which held-out
# splits came out empty.
onsuccess:
    print("\n".join(closing_lines(RUN_STARTED, VARIANTS)))
    print_empty_held_out_splits(held_out_windows())
