import hashlib
import os
import re
import sys
import time
import types

import yaml
from snakemake.utils import min_version, update_config, validate

# Planning needs nothing but Snakemake (+ PyYAML and jsonschema, which it brings): beatvae.settings,
# beatvae.config_errors, beatvae.held_out and beatvae.run_summary (and beatvae.smf, which settings
# reads MIDI files with) are standard-library only, and nothing else of the project is imported here. Host tools
# (FluidSynth, the soundfont) are checked by the jobs that use them, where `--use-conda`
# provides them.
sys.path.insert(0, f"{workflow.basedir}/src")
from beatvae.config_errors import config_problem
from beatvae.held_out import print_empty_held_out_splits
from beatvae.run_summary import closing_lines
from beatvae.settings import (
    SPLITS,
    browser_export_problems,
    check_dataset_endpoints,
    check_humanize,
    check_interpolation,
    check_variant,
    endpoint_files,
    humanize_files,
    is_groove,
    sampling_tag,
    training_windows_description,
    window_bars,
)

min_version("9.0")

# The run's wall time is printed when it ends (Snakefile, onsuccess), from here: planning included.
RUN_STARTED = time.time()

# Jobs import the beatvae package from src/ whether or not it is installed (conda envs, clusters).
os.environ.update(PYTHONPATH=f"{workflow.basedir}/src")

# Inside conda environments Snakemake drops PYTHONPATH unless told not to (the profiles do):
# say so now rather than with a ModuleNotFoundError in every job.
_deployment = workflow.deployment_settings
if (
    _deployment is not None
    and "conda" in {str(method).lower() for method in _deployment.deployment_method}
    and not _deployment.conda_not_block_search_path_envvars
):
    raise WorkflowError(
        "--use-conda needs --conda-not-block-search-path-envvars (profiles/default and "
        "profiles/slurm set it): the jobs import this checkout's beatvae package through "
        "PYTHONPATH, which Snakemake otherwise removes inside conda environments."
    )


def yaml_typed(value):
    """A --config value with the types a config file would give it.

    Snakemake reads nested --config values (`generation='{num_samples: 16}'`) with PyYAML's
    BaseLoader, which keeps every scalar a string; each one is read again as a YAML scalar.
    """
    if isinstance(value, dict):
        return {key: yaml_typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [yaml_typed(item) for item in value]
    if isinstance(value, str) and value:
        try:
            typed = yaml.safe_load(value)
        except yaml.YAMLError:
            return value
        return value if isinstance(typed, (dict, list)) else typed
    return value


def check_config_yaml(overrides):
    """Refuses a --config value that is not valid YAML, naming the key and showing the value.

    Every top-level key is a mapping, and Snakemake keeps a value it cannot read as YAML as a
    plain string, which the schema would then call "not of type 'object'".
    """
    for key, value in overrides.items():
        if not isinstance(value, str):
            continue
        try:
            yaml.safe_load(value)
        except yaml.YAMLError as error:
            problem = getattr(error, "problem", None) or str(error).splitlines()[0]
            raise ValueError(
                f"--config {key}={value!r} is not valid YAML ({problem}). Write the value as in a "
                f"config file and quote it for the shell, e.g. --config {key}='{{setting: value}}'"
            ) from None


check_config_yaml(workflow.config_settings.overwrite_config or {})
update_config(config, yaml_typed(workflow.config_settings.overwrite_config or {}))
if "converter" in config:
    raise ValueError(
        "`converter:` is now a named entry of `representations:` (add `converter: DrumsConverter` "
        "to it), and each variant names its own with `representation: <name>`; see config/config.yaml"
    )
try:
    validate(config, schema="../config/schema.yaml", set_default=True)
except WorkflowError:
    # Snakemake's message is jsonschema's, followed by the whole sub-schema (up to 1,000 lines).
    with open(f"{workflow.basedir}/config/schema.yaml") as _schema:
        _problem = config_problem(config, yaml.safe_load(_schema))
    if _problem is None:
        raise
    raise WorkflowError(f"Error validating config:\n{_problem}") from None

SPLITS = list(SPLITS)
SUBSETS = list(config["subsets"])
REPRESENTATIONS = config["representations"]
VARIANTS = list(config["variants"])


def representation_of(variant):
    """The representation (a named entry of `representations:`) a variant's windows are made with."""
    return REPRESENTATIONS[config["variants"][variant]["representation"]]


def variant_description(variant):
    """The page's line under a variant's heading: its description, and what its training windows
    leave out of the playing."""
    parts = (
        config["variants"][variant]["description"],
        training_windows_description(representation_of(variant)),
    )
    return "; ".join(part for part in parts if part)


# Shape errors fail here, naming the key, before any job (or GPU hour) is spent.
for _name, _variant in config["variants"].items():
    for _section, _declared in (
        ("subset", SUBSETS),
        ("representation", list(REPRESENTATIONS)),
    ):
        if _variant[_section] not in _declared:
            raise ValueError(
                f"variants.{_name}.{_section}: {_variant[_section]!r} is not declared "
                f"under `{_section}s` (declared: {_declared})"
            )
    check_variant(_name, _variant, representation_of(_name))
# Every beat variant encodes the endpoint files' opening window (rules/generate.smk).
check_interpolation(
    config["generation"],
    workflow.basedir,
    {v: representation_of(v) for v in VARIANTS if not is_groove(representation_of(v))},
)

# Beat variants (drum classes) generate, are evaluated on their samples and rendered; groove
# variants (GrooVAE) humanize the beats of others (rules/humanize.smk).
GROOVE_VARIANTS = [v for v in VARIANTS if is_groove(representation_of(v))]
BEAT_VARIANTS = [v for v in VARIANTS if v not in GROOVE_VARIANTS]


def any_of(names):
    """A wildcard constraint matching exactly `names` (nothing when empty)."""
    return "|".join(map(re.escape, names)) if names else "$^"


wildcard_constraints:
    subset=any_of(SUBSETS),
    representation=any_of(REPRESENTATIONS),
    variant=any_of(VARIANTS),
    split="|".join(SPLITS),


def check_results_belong_to_this_config(archive="results/download/gmd.zip"):
    """Refuses results/ made from another GMD archive (another config's results) with a clear
    message, instead of silently overwriting them (its subsets may share names with ours).
    """
    if not os.path.isfile(archive):
        return
    with open(archive, "rb") as handle:
        found = hashlib.file_digest(handle, "sha256").hexdigest()
    if found != config["gmd"]["sha256"].lower():
        raise ValueError(
            f"{os.path.abspath(archive)} is not this config's GMD archive (its sha256 is {found}, "
            f"gmd.sha256 says {config['gmd']['sha256']}): this results/ folder belongs to another "
            "config. Give each config its own folder (snakemake --directory runs/NAME --configfile "
            "...), or delete that archive to rebuild these results from the new one."
        )


check_results_belong_to_this_config()


def local_gmd_archive(downloaded="results/download/gmd.zip"):
    """The GMD zip if planning can read it: the finished download, or a gmd.url on this disk."""
    if os.path.isfile(downloaded):
        return downloaded
    url = config["gmd"]["url"]
    path = url.removeprefix("file://") if url.startswith("file://") else url
    if "://" not in path and os.path.isfile(os.path.join(workflow.basedir, path)):
        return os.path.join(workflow.basedir, path)
    return None


_archive = local_gmd_archive()
if _archive:
    check_dataset_endpoints(config["generation"], _archive)


def variant_windows(*splits):
    """Input function: the window files for `splits` of the variant's subset and representation."""

    def paths(wildcards):
        variant = config["variants"][wildcards.variant]
        windows = expand(
            rules.tensorize.output.windows,
            subset=variant["subset"],
            representation=variant["representation"],
        )
        return [windows[SPLITS.index(split)] for split in splits]

    return paths


def held_out_windows():
    """{variant: {subset, representation, counts}}: where the windows each variant is trained and
    evaluated on were counted (rules.tensorize's windows.json), for the notice of held-out splits
    left without windows (beatvae.held_out: the console at the end of a run, the report page).
    """
    return {
        name: {
            "subset": variant["subset"],
            "representation": variant["representation"],
            "counts": expand(
                rules.tensorize.output.counts,
                subset=variant["subset"],
                representation=variant["representation"],
            )[0],
        }
        for name, variant in config["variants"].items()
    }


# Generated outputs live in a folder named by their sampling settings (temperature, seed), so
# `--config generation='{temperature: 0.8}'` adds results instead of overwriting earlier ones.
GENERATION = config["generation"]
INTERPOLATION = GENERATION["interpolation"]
SAMPLES_TAG = sampling_tag(GENERATION["temperature"], GENERATION["seed"])
INTERPOLATION_TAG = sampling_tag(INTERPOLATION["temperature"], GENERATION["seed"])
SAMPLE_NAMES = [f"sample_{i:02d}" for i in range(GENERATION["num_samples"])]
INTERPOLATION_STEPS = [f"step_{i:02d}" for i in range(INTERPOLATION["num_steps"])]


def endpoint_inputs():
    """Interpolation endpoint files (`source: files`) as paths from the working directory.

    settings.endpoint_files decides where they are (the workflow folder); relative paths keep
    the job's input list the same when the checkout and its results move together.
    """
    return [
        os.path.relpath(path)
        for path in endpoint_files(INTERPOLATION["endpoints"], workflow.basedir)
    ]


def interpolation_inputs(wildcards):
    """The endpoints' inputs, as `generation.interpolation.endpoints.source` says."""
    source = INTERPOLATION["endpoints"]["source"]
    inputs = {}
    if source == "samples":
        inputs["latents"] = expand(
            rules.sample_beats.output.latents, variant=wildcards.variant
        )[0]
    elif source == "dataset":
        inputs["metadata"] = rules.build_metadata.output.metadata
        inputs["gmd"] = rules.unpack_gmd.output[0]
    else:
        inputs["files"] = endpoint_inputs()
    return inputs


# THE interface of the render rules (rules/render.smk): the names (with their sampling-settings
# subfolder) of every MIDI a variant generates, and the MIDI files themselves, in that order.
# Rendered files are results/pianorolls/{variant}/<name>.png and results/audio/{variant}/<name>.wav.
RENDERED_NAMES = [
    *(f"{SAMPLES_TAG}/{name}" for name in SAMPLE_NAMES),
    f"{INTERPOLATION_TAG}/interpolation",
]


def generated_midi(wildcards):
    """Every MIDI a variant generates: its samples, then its interpolation."""
    return [
        *expand(rules.sample_beats.output.midi, variant=wildcards.variant),
        *expand(rules.interpolate_beats.output.midi, variant=wildcards.variant),
    ]


def rendered(folder, extension):
    return expand(
        f"results/{folder}/{{variant}}/{{name}}.{extension}",
        variant=BEAT_VARIANTS,
        name=RENDERED_NAMES,
    )


def segment_bars(variant):
    """Bars per decoded window of a beat variant (an interpolation's steps are this long)."""
    return window_bars(representation_of(variant))


def all_targets():
    targets = [
        "results/metadata/gmd.parquet",
        *(["results/eval/comparison.tsv"] if BEAT_VARIANTS else []),
        *(["results/eval/groove.tsv"] if GROOVE_VARIANTS else []),
        *expand("results/losses/{variant}.{ext}", variant=VARIANTS, ext=["csv", "png"]),
        *render_targets(),  # rules/render.smk
        *humanize_targets(),  # rules/humanize.smk
        *documented_outputs(),
    ]
    return targets


# Humanizing (rules/humanize.smk): a groove variant adds velocities and timing to the beats of
# the variants listed, and to users' own MIDI files.
HUMANIZE = config["humanize"]
check_humanize(HUMANIZE, config["variants"], REPRESENTATIONS, workflow.basedir)
HUMANIZED_VARIANTS = list(HUMANIZE["variants"]) if HUMANIZE["model"] else []
# {stem: path from the working directory}, as endpoint_inputs() keeps job inputs relative.
HUMANIZED_FILES = {
    stem: os.path.relpath(path)
    for stem, path in humanize_files(HUMANIZE, workflow.basedir).items()
}


def humanized_midi():
    """Every humanized beat: results/humanized/{variant}/<name>.mid (rules.humanize_beats)."""
    return expand(
        "results/humanized/{variant}/{name}.mid",
        variant=HUMANIZED_VARIANTS,
        name=RENDERED_NAMES,
    )


def humanized(folder, extension):
    """Humanized beats' files: results/{folder}/humanized/{variant}/<name>.{extension}."""
    return expand(
        f"results/{folder}/humanized/{{variant}}/{{name}}.{extension}",
        variant=HUMANIZED_VARIANTS,
        name=RENDERED_NAMES,
    )


def humanize_targets():
    """What `all` asks of rules/humanize.smk: humanized MIDI, their piano rolls and audio."""
    targets = [
        *humanized_midi(),
        *expand("results/humanized/files/{stem}.mid", stem=HUMANIZED_FILES),
        *humanized("pianorolls", "png"),
    ]
    if AUDIO["enabled"]:
        targets += humanized("audio", "wav")
    return targets


# Rendering (rules/render.smk)
AUDIO = config["audio"]


def render_targets():
    """What `all` asks of this module: piano rolls, audio as configured, the report page."""
    targets = [
        *rendered("pianorolls", "png"),
        "results/report/beats.html",
        "results/report/beats-without-audio.html",
    ]
    if AUDIO["enabled"]:
        targets += rendered("audio", "wav")
        if AUDIO["with_tail"]:
            targets += rendered("audio", "with_tail.wav")
        if AUDIO["stems"]:
            targets += expand("results/stems/{variant}", variant=BEAT_VARIANTS)
    return targets


# The page's beat explorer (rules/render.smk, export_browser_model): the drum variants whose model
# magenta.js can run, and the humanize model for its Humanize switch; the others keep a page without it.
def browser_ready(variant):
    return not browser_export_problems(
        config["variants"][variant], representation_of(variant)
    )


EXPLORED_VARIANTS = [
    v
    for v in BEAT_VARIANTS
    if lookup(dpath="explorer/enabled", within=config) and browser_ready(v)
]
EXPLORER_GROOVE = (
    config["humanize"]["model"]
    if EXPLORED_VARIANTS
    and config["humanize"]["model"]
    and browser_ready(config["humanize"]["model"])
    else None
)
BROWSER_VARIANTS = EXPLORED_VARIANTS + ([EXPLORER_GROOVE] if EXPLORER_GROOVE else [])


def browser_models():
    """{variant: its exported folder} for the page (rules.export_browser_model's outputs)."""
    return {
        v: expand(rules.export_browser_model.output, variant=v)[0]
        for v in BROWSER_VARIANTS
    }


def report_page_inputs(wildcards):
    inputs = {
        "comparison": "results/eval/comparison.tsv",
        "targets": "results/eval/targets.tsv",
        "midi": [
            midi
            for variant in BEAT_VARIANTS
            for midi in generated_midi(types.SimpleNamespace(variant=variant))
        ],
    }
    if AUDIO["enabled"]:
        inputs["audio"] = rendered("audio", "ogg")
    # Humanized beats follow, in the order of report_page_entries().
    inputs["midi"] += humanized_midi()
    if AUDIO["enabled"]:
        inputs["audio"] += humanized("audio", "ogg")
    if GROOVE_VARIANTS:
        inputs["groove"] = "results/eval/groove.tsv"
    # Every variant's training and validation curves.
    inputs["losses"] = expand("results/losses/{variant}.csv", variant=VARIANTS)
    inputs["browser"] = list(browser_models().values())
    # The explorer lists each explored variant's samples with the latent vectors they came from.
    inputs["latents"] = [
        expand(rules.sample_beats.output.latents, variant=v)[0]
        for v in EXPLORED_VARIANTS
    ]
    # Held-out splits without windows are stated on the page (beatvae.held_out).
    inputs["window_counts"] = sorted(
        {where["counts"] for where in held_out_windows().values()}
    )
    return inputs


def report_page_entries():
    """The beats of the report page ({variant, name, humanized}), in report_page_inputs' order."""
    return [
        {"variant": variant, "name": name, "humanized": False}
        for variant in BEAT_VARIANTS
        for name in RENDERED_NAMES
    ] + [
        {"variant": variant, "name": name, "humanized": True}
        for variant in HUMANIZED_VARIANTS
        for name in RENDERED_NAMES
    ]


# Training (rules/train.smk)
def checkpoint_folder(variant):
    """Where a variant trains: outside Snakemake's outputs, so a failed or killed job keeps its checkpoints."""
    return f"results/checkpoints/{variant}"


def trained_model(variant):
    """A variant's exported model folder: rules.train_model's output (called once it is defined)."""
    return expand(rules.train_model.output, variant=variant)[0]


def init_from_model(variant):
    """The exported model folder a variant starts from (training.init_from), or None."""
    source = config["variants"][variant]["training"]["init_from"]
    return trained_model(source) if source else None


def documented_outputs():
    """Every file of README's "What comes out" that jobs make on the way to the others.

    Snakemake never reruns a job whose outputs are only another job's inputs once that job is
    done: a deleted latents file, eval JSON or sample MIDI (an interrupted `--forcerun`) would stay
    missing behind "Nothing to be done". Asking for each in `all` makes a plain run remake it.
    """
    used = {(v["subset"], v["representation"]) for v in config["variants"].values()}
    targets = [
        *rules.build_metadata.output,
        *expand(rules.filter_subset.output, subset=sorted({s for s, _ in used})),
        *expand(rules.convert_tfrecord.output, subset=sorted({s for s, _ in used})),
        *(
            path
            for subset, representation in sorted(used)
            for path in expand(
                rules.tensorize.output, subset=subset, representation=representation
            )
        ),
        *expand(rules.train_model.output, variant=VARIANTS),
        *expand(rules.sample_beats.output, variant=BEAT_VARIANTS),
        *expand(rules.interpolate_beats.output, variant=BEAT_VARIANTS),
        *expand(rules.evaluate_model.output, variant=BEAT_VARIANTS),
        *expand(rules.evaluate_groove.output, variant=GROOVE_VARIANTS),
        *(rules.compare_variants.output if BEAT_VARIANTS else []),
        *rules.describe_variants.output,
        *browser_models().values(),
    ]
    if AUDIO["enabled"]:
        targets += [*rendered("audio", "ogg"), *humanized("audio", "ogg")]
    return targets
