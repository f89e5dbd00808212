# Two entry points, each creating or refreshing .venv itself:
#   make run   -> set up, then run the whole workflow on the default config
#   make test  -> set up, then run the test suite
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
MAGENTA := magenta==2.1.4
SNAKEMAKE_ARGS ?=
PYTEST_ARGS ?=

.PHONY: setup system-packages run test lint clean

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

# FluidSynth renders the audio previews; without root it is left to the user (the workflow
# then stops at start with instructions, or set audio.enabled: false).
system-packages:
	@if command -v fluidsynth >/dev/null && [ -f /usr/share/sounds/sf2/FluidR3_GM.sf2 ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fluidsynth fluid-soundfont-gm >/dev/null; \
	else echo "note: install fluidsynth and fluid-soundfont-gm for audio (or set audio.enabled: false)"; fi

run: setup
	$(VENV)/bin/snakemake --cores all $(SNAKEMAKE_ARGS)

test: setup
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/snakemake --lint
	$(VENV)/bin/snakefmt --check Snakefile rules

clean:
	rm -rf results .snakemake
