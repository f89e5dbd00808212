#!/usr/bin/env bash
# Runs once after Snakemake creates envs/magenta.yaml's environment (with --use-conda).
set -euo pipefail
pip install --no-deps magenta==2.1.4
