# Entry points, each creating or refreshing .venv itself:
#   make run   -> set up, then run the whole workflow on the default config
#   make test  -> set up, then run the test suite
#   make test-fast -> the pure checks: no Snakemake, TensorFlow, browser or training; on every core
#   make lint  -> snakemake --lint, snakefmt --check and ruff (lint + format check)
#   make drum-kits -> render the report page's sampled drum kits again (report/vendor/drum-kits-fluidr3.json)
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
MAGENTA := magenta==2.1.4
SNAKEMAKE_ARGS ?=
PYTEST_ARGS ?=

.PHONY: setup system-packages run test test-fast lint drum-kits clean

setup: $(STAMP) system-packages

# The pinned stack is installed first; Magenta goes in last with --no-deps because its own
# pins (TF 2.9, numba 0.49, ...) cannot resolve on Python >= 3.9.
# On an NVIDIA host (nvidia-smi present) TensorFlow's CUDA libraries go in too, pinned by
# constraints-cuda.txt, so a variant with resources.gpus >= 1 trains on the GPU.
CUDA_TENSORFLOW := tensorflow[and-cuda]==2.21.0

$(STAMP): requirements.txt constraints.txt constraints-cuda.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements.txt -c constraints.txt
	if command -v nvidia-smi >/dev/null; then \
		$(VENV)/bin/pip install -q "$(CUDA_TENSORFLOW)" -c constraints.txt -c constraints-cuda.txt; fi
	$(VENV)/bin/pip install -q --no-deps $(MAGENTA)
	$(VENV)/bin/pip install -q --no-deps -e .
	touch $@

# FluidSynth + the GM soundfont render the audio, oggenc (vorbis-tools) compresses it for the
# report page, Chromium runs the page's browser test. Without root they are left to the user (the
# rendering jobs then fail naming the package, or set audio.enabled: false).
SYSTEM_PACKAGES := fluidsynth fluid-soundfont-gm vorbis-tools chromium
system-packages:
	@if command -v fluidsynth >/dev/null && [ -f /usr/share/sounds/sf2/FluidR3_GM.sf2 ] \
		&& command -v oggenc >/dev/null && command -v chromium >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null; \
	else echo "note: install $(SYSTEM_PACKAGES) for audio and the report page's test (or set audio.enabled: false)"; fi

run: setup
	$(VENV)/bin/snakemake --cores all $(SNAKEMAKE_ARGS)

test: setup
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# Tiers by what a test needs (markers in pyproject.toml). The pure tier runs one worker per core
# (pytest-xdist; its tests share nothing but tmp_path); the rest stays serial, as the slow tier's
# session fixtures train models that several tests share.
PURE_TESTS := not slow and not browser and not snakemake and not tensorflow
test-fast: setup
	$(VENV)/bin/pytest -m "$(PURE_TESTS)" -n auto $(PYTEST_ARGS)

# Python style is configured in pyproject.toml ([tool.ruff]: line length 120 for lint and format).
lint: setup
	$(VENV)/bin/snakemake --lint
	$(VENV)/bin/snakefmt --check Snakefile rules
	$(VENV)/bin/ruff check
	$(VENV)/bin/ruff format --check

# The beat explorer's kits, vendored so that building the page never needs fluidsynth: rendered from
# Debian's FluidR3 GM soundfont (MIT, report/vendor/LICENSE.fluid-soundfont.txt) by beatvae.drum_kits.
SOUNDFONT ?= /usr/share/sounds/sf2/FluidR3_GM.sf2
drum-kits: setup
	$(VENV)/bin/python -m beatvae.drum_kits $(SOUNDFONT) report/vendor/drum-kits-fluidr3.json

clean:
	rm -rf results .snakemake
