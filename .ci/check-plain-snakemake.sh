#!/usr/bin/env bash
# Issue 12 item 7: the workflow parses, lints and dry-runs where nothing but Snakemake and its
# SLURM plugin is installed (a SLURM login node, a `snakemake --use-conda` user, the workflow
# catalog). Builds a fresh venv with only those two (pinned as in constraints.txt), then runs
# `snakemake -n`, `snakemake --lint` and `snakemake -n --configfile config/gmd.yaml` with no
# PYTHONPATH, no project package installed, no FluidSynth on PATH and no soundfont.
#
#   .ci/check-plain-snakemake.sh [VENV]    (VENV: reuse/create this venv; default: a temporary one)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
venv=${1:-$scratch/venv}

pin() { grep -i "^$1==" "$repo/constraints.txt"; }
if [ ! -x "$venv/bin/snakemake" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -c "$repo/constraints.txt" \
        "$(pin snakemake)" "$(pin snakemake-executor-plugin-slurm)"
fi

# Nothing of the project may be importable: the check would prove nothing otherwise.
unset PYTHONPATH SNAKEMAKE_PROFILE
for module in beatvae tensorflow magenta note_seq; do
    if "$venv/bin/python" -c "import $module" 2>/dev/null; then
        echo "check-plain-snakemake: $module is importable in $venv; use a venv with only Snakemake" >&2
        exit 1
    fi
done

run() {
    echo "+ snakemake $*"
    if ! env PATH="$venv/bin:$scratch/bin" "$venv/bin/snakemake" -s "$repo/Snakefile" --directory "$scratch/work" --cores 1 "$@" \
        >"$scratch/out" 2>&1; then
        cat "$scratch/out" >&2
        echo "check-plain-snakemake: 'snakemake $*' failed with only Snakemake installed" >&2
        exit 1
    fi
}
# PATH as on a login node without FluidSynth (with --use-conda the render jobs bring their own).
mkdir -p "$scratch/work" "$scratch/bin"
IFS=: read -ra path_dirs <<<"$PATH"
for dir in "${path_dirs[@]}"; do
    for tool in "$dir"/*; do
        [ -e "$tool" ] || continue
        name=$(basename "$tool")
        [ "$name" = fluidsynth ] || [ -e "$scratch/bin/$name" ] || ln -s "$tool" "$scratch/bin/$name"
    done
done
# Audio on, but no soundfont on this host: planning must not care.
sed 's|^\(  soundfont:\).*|\1 /nonexistent/FluidR3_GM.sf2|' "$repo/config/config.yaml" >"$scratch/no-soundfont.yaml"
grep -q "/nonexistent/FluidR3_GM.sf2" "$scratch/no-soundfont.yaml"
run -n
run -n --configfile "$scratch/no-soundfont.yaml"
run --lint
run -n --configfile "$repo/config/gmd.yaml"
echo "check-plain-snakemake: parse, lint and dry-runs pass with only $(pin snakemake) installed"
