#!/usr/bin/env bash
# Set up .venv and run the test suite (CPU only; no network needed except, once, for
# the browser below).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
bash scripts/setup_browser.sh || true   # the report's browser tests skip without it
exec .venv/bin/python -m pytest "$@"
