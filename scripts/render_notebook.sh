#!/usr/bin/env bash
# Execute the submission notebook top to bottom and render it to HTML:
#   bash scripts/render_notebook.sh            (small subset, a few minutes on 2 cores)
#   THINSEG_NOTEBOOK_FULL=1 bash scripts/render_notebook.sh
# Output: runs/notebook/thinseg_segmentation.html (the committed .ipynb stays without outputs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
mkdir -p runs/notebook
.venv/bin/python -m nbconvert --to html --execute --ExecutePreprocessor.timeout=1800 \
    --output-dir runs/notebook notebooks/thinseg_segmentation.ipynb
echo "[notebook] runs/notebook/thinseg_segmentation.html"
