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
log=.venv/install.log
if ! { .venv/bin/python -m pip install -q --upgrade pip && .venv/bin/python -m pip install -q -e ".[test]"; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "[setup] pip install failed (full log above, also in $log)" >&2
    exit 1
fi
echo "$want" > "$stamp"
