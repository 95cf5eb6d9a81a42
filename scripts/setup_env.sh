#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment in .venv and install the
# package with its pinned dependencies. Idempotent: a second run with an
# unchanged setup.cfg does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.thinseg-installed
want=$(cat setup.cfg pyproject.toml | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && .venv/bin/python -c "import thinseg" 2>/dev/null; then
    exit 0
fi
echo "[setup] installing thinseg and its pinned dependencies into .venv (first run takes a minute or two)" >&2
.venv/bin/python -m pip install -q --upgrade pip >&2
.venv/bin/python -m pip install -q -e ".[test]" >&2
echo "$want" > "$stamp"
