"""Export blob masks for a folder of images (the submission).

    python -m experiments.export IMAGES_DIR OUT_DIR [key=value ...]
    (scripts/export_masks.sh is the same command)

Writes into OUT_DIR (never into IMAGES_DIR): ``NAME_mask.npy`` per image (int32 (H, W),
0 = background, 1..N = blobs), ``blobs.csv``, ``images.csv``, ``failures.csv``,
``skipped.csv``, ``requirements.txt``, ``config.yaml``, ``submission.zip`` and
``report/index.html``. Resumable: a mask already written and valid is kept unless
``export.overwrite=true``. Exit status: 0 when all images were exported, 1 when some
failed, 2 for a usage or config error.

Which method: ``method=NAME`` (any registered method), or ``method=selected`` for the
model chosen by the latest ablation (``RUN_ROOT/selection.json``). Without ``method=``
the export behaves as ``method=selected`` and falls back to base.yaml's method
(kmeans) when no ablation has run; the line printed at start says which and why.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from eval.selection import SELECTION_FILE, read_selection
from experiments.config import config_from_cli

from .runner import export_folder

REPO = Path(__file__).resolve().parents[2]
SELECTED = "selected"


def _method_override(overrides: list[str]) -> str | None:
    for o in reversed(overrides):
        key, _, value = o.partition("=")
        if key.strip() == "method":
            return value.strip()
    return None


def selected_overrides(overrides: list[str], found: dict | None = None) -> list[str]:
    """The overrides of the model chosen by the latest ablation (``RUN_ROOT/selection.json``,
    written by ``experiments.ablation``), or [] for base.yaml's method. Prints which.
    ``found``: a dict that receives the selection (for the report)."""
    rest = [o for o in overrides if o.partition("=")[0].strip() != "method"]
    base = config_from_cli(rest, quiet=True)
    root = Path(base.run.root) if base is not None else Path("runs")
    if not root.is_absolute() and not (root / SELECTION_FILE).exists():
        root = REPO / root  # relative to the checkout, wherever we run from
    sel = read_selection(root)
    if sel is None:
        print(f"[export] method: no {root / SELECTION_FILE}: using the default "
              f"method {base.method if base is not None else 'kmeans'} (thinseg/configs/base.yaml)", file=sys.stderr)
        return []
    print(f"[export] method: the chosen model {sel['run']} ({' '.join(sel['overrides'])}) "
          f"from {root / SELECTION_FILE}: {sel.get('why', '')}", file=sys.stderr)
    if found is not None:
        found.update(sel, file=str(root / SELECTION_FILE))
    return [o for o in sel["overrides"] if o.split("=", 1)[0].strip() not in ("export.overwrite",)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="export_masks", description=__doc__.split("\n\n")[0])
    parser.add_argument("images_dir")
    parser.add_argument("out_dir")
    parser.add_argument("overrides", nargs="*", help="config overrides key=value (e.g. method=gmm gmm.k=5)")
    args = parser.parse_args(argv)
    overrides = list(args.overrides)
    chosen: dict = {}
    method = _method_override(overrides)
    if method in (None, SELECTED):
        rest = [o for o in overrides if o.partition("=")[0].strip() != "method"]
        overrides = selected_overrides(rest, chosen) + rest
    cfg = config_from_cli(overrides)
    if cfg is None:
        return 2
    if not Path(args.images_dir).is_dir():
        print(f"error: image folder not found: {args.images_dir}", file=sys.stderr)
        return 2
    try:
        summary = export_folder(args.images_dir, args.out_dir, cfg, selection=chosen or None)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out_dir)
    print(f"[export] {summary.line()}")
    total = sum(summary.stage_seconds.values())
    if total > 0:
        print("[export] time per stage: " + ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in summary.stage_seconds.items()))
    print(f"[export] masks: {out}/*_mask.npy  blobs: {out / 'blobs.csv'}  zip: {out / 'submission.zip'}")
    if summary.failed:
        print(f"[export] {summary.failed} image(s) failed, see {out / 'failures.csv'}", file=sys.stderr)
    if summary.finish_error:
        print(f"[export] error: {summary.finish_error}", file=sys.stderr)
    return 1 if summary.failed or summary.finish_error else 0


if __name__ == "__main__":
    sys.exit(main())
