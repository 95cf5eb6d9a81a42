#!/usr/bin/env bash
# The submission: segment every image in IMAGES_DIR and write OUT_DIR/NAME_mask.npy,
# blobs.csv, images.csv, failures.csv, requirements.txt and submission.zip.
#   scripts/export_masks.sh IMAGES_DIR OUT_DIR [key=value ...]
# e.g. scripts/export_masks.sh imgs out method=kmeans kmeans.k=6
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
if [ $# -lt 2 ]; then
    echo "usage: $0 IMAGES_DIR OUT_DIR [key=value ...]" >&2
    exit 2
fi
PY="${THINSEG_PYTHON:-$here/.venv/bin/python}"
if [ ! -x "$PY" ]; then
    bash "$here/scripts/setup_env.sh"
fi
exec "$PY" -m experiments.export "$@"
