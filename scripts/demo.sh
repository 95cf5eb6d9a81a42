#!/usr/bin/env bash
# The main job on the embedded default: set up .venv, generate a synthetic
# thin-section set, export masks with the default model, score them against the
# synthetic truth, and print where the masks, the zip and the overview are.
# Extra key=value arguments are passed to the export config (e.g. method=gmm).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
exec .venv/bin/python -m experiments.demo "$@"
