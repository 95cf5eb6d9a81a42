"""Ablation runner: a list/grid of overrides run on one dataset, one table, one choice.

    python -m experiments.ablation SPEC.yaml [--out runs/ablation/NAME] [key=value ...]

SPEC (``experiments/configs/ablations/*.yaml``) lists cells: fixed overrides and an
optional grid expanded as a cartesian product; ``common`` overrides apply to every
cell and the command-line ``key=value`` ones to every cell after them (e.g.
``data.dir=../shared/data/labeled``; default: the synthetic set). Each cell is one
``experiments.run`` in ``OUT/CELL/`` (config, checkpoint, TensorBoard under OUT so that
``tensorboard --logdir runs/`` shows every cell side by side, export, scores).
Reruns skip cells whose ``scores.json`` exists.

Then, across cells: internal scores, truth scores where the images have truth,
train seconds, export seconds per image, and the cross-method agreement (ARI of
instance masks on a seeded sample of 20000 pixels per image, mean over images; cells
with identical masks count as one candidate, ``cell_agreement``).
``eval.selection.choose`` picks the final model from the internal signals only;
where truth exists the table says how far the choice is from the best cell,
for the rule, for the equal-weight rank of before and for each signal alone. Writes ``OUT/ablation.md``,
``OUT/ablation.csv``, ``OUT/agreement.csv``, ``OUT/selection.json`` and the latest
choice in ``RUN_ROOT/selection.json`` (read by ``scripts/export_masks.sh`` without
``method=``).
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from eval.metrics import agreement
from eval.selection import choose, regret, write_selection
from thinseg.atomic import write_csv, write_text
from thinseg.synthetic import runner_set
from experiments.config import ConfigError, load_config
from experiments.run import run

AGREEMENT_SAMPLE = 20000
TABLE_COLUMNS = (("silhouette", "silhouette"), ("davies_bouldin", "DB"), ("agreement", "agreement"),
                 ("mean_rank", "rule rank"), ("mean_best_iou", "mean best IoU"), ("recall50", "recall@0.5"),
                 ("precision50", "precision@0.5"), ("merge_rate", "merges"), ("accuracy", "accuracy"),
                 ("miou", "mIoU"), ("ari", "ARI"), ("train_seconds", "train s"),
                 ("export_seconds_per_image", "export s/img"))


def expand_cells(spec) -> list[list[str]]:
    """Overrides of every cell of an ablation spec (OmegaConf node or dict)."""
    cells = []
    for entry in spec.get("cells", []):
        fixed = list(entry.get("overrides", []))
        grid = entry.get("grid") or {}
        keys = list(grid)
        for values in itertools.product(*(list(grid[k]) for k in keys)) if keys else [()]:
            cells.append(fixed + [f"{k}={v}" for k, v in zip(keys, values)])
    return cells


def cell_name(overrides: list[str]) -> str:
    """A folder name from a cell's overrides: method first, then short key=value parts."""
    parts = []
    for o in overrides:
        key, _, value = o.partition("=")
        parts.append(value if key == "method" else f"{key.split('.')[-1]}={value}")
    return "_".join(parts).replace("/", "-") or "default"


def _mask_pairs(dirs: dict[str, Path]):
    names = sorted(dirs)
    images = sorted({p.name for d in dirs.values() for p in (d / "export").glob("*_mask.npy")})
    return names, images


def agreement_matrix(run_dirs: dict[str, Path], seed: int = 0) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Mean ARI between every pair of cells' instance masks over the images both wrote.

    Returns (cell names, (n, n) float64 matrix with 1 on the diagonal, (n, n) bool: the two
    cells wrote identical masks on every image both wrote)."""
    names, images = _mask_pairs(run_dirs)
    n = len(names)
    mat = np.eye(n)
    sums, counts = np.zeros((n, n)), np.zeros((n, n))
    same = np.ones((n, n), bool)
    for img in images:
        masks = {}
        for i, name in enumerate(names):
            p = run_dirs[name] / "export" / img
            if p.exists():
                masks[i] = np.load(p)
        for i, j in itertools.combinations(sorted(masks), 2):
            if masks[i].shape == masks[j].shape:
                sums[i, j] += agreement(masks[i], masks[j], AGREEMENT_SAMPLE, seed)
                counts[i, j] += 1
            same[i, j] = same[j, i] = same[i, j] and np.array_equal(masks[i], masks[j])
    with np.errstate(invalid="ignore"):
        upper = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    iu = np.triu_indices(n, 1)
    mat[iu] = upper[iu]
    mat[(iu[1], iu[0])] = upper[iu]
    same &= (counts + counts.T > 0) | np.eye(n, dtype=bool)  # never compared: not the same
    return names, mat, same


def cell_agreement(mat: np.ndarray, same: np.ndarray) -> np.ndarray:
    """(n,) float64 agreement of each cell: its mean ARI with the other candidates, where
    cells with identical masks count as one candidate (the mean over a group of copies),
    and its own copies do not count. Without this, k copies of one method (cells whose
    setting does not reach the masks) agree perfectly with each other and win the
    label-free choice on that alone. NaN where a cell has no other candidate.

    mat: (n, n) float64 ``agreement_matrix`` ARI; same: (n, n) bool identical masks."""
    n = len(mat)
    group = np.full(n, -1)
    for i in range(n):  # identical masks are an equivalence: label the classes
        if group[i] < 0:
            group[same[i] & (group < 0)] = i
    out = np.full(n, np.nan)
    for i in range(n):
        per_group = []
        for g in np.unique(group):
            if g == group[i]:
                continue
            vals = mat[i, group == g]
            vals = vals[~np.isnan(vals)]
            if vals.size:
                per_group.append(vals.mean())
        if per_group:
            out[i] = float(np.mean(per_group))
    return out


def _selection_overrides(overrides: list[str]) -> list[str]:
    """The overrides that define a model (method and its settings), not data or run paths."""
    keep = []
    for o in overrides:
        key = o.split("=", 1)[0].strip()
        if key.split(".")[0] in ("data", "run", "export", "eval"):
            continue
        keep.append(o)
    return keep


def run_ablation(spec_path, out: Path | None = None, extra: list[str] = ()) -> dict:
    """Run (or resume) every cell, then write the tables and the choice; returns the summary dict."""
    spec = OmegaConf.load(spec_path)
    common = list(spec.get("common", [])) + list(extra)
    cells = expand_cells(spec)
    if not cells:
        raise ConfigError(f"{spec_path}: no cells")
    base = load_config(common)
    out = Path(out) if out else Path(base.run.root) / "ablation" / Path(spec_path).stem
    data_dir = Path(base.data.dir) if base.data.dir else out / "data_synthetic"
    results, run_dirs = {}, {}
    for i, cell in enumerate(cells, 1):
        name = cell_name(cell)
        run_dir = out / name
        run_dirs[name] = run_dir
        overrides = [*common, *cell, f"run.root={out}", f"run.name={name}", f"data.dir={data_dir}",
                     "export.progress=false"]
        if not (run_dir / "scores.json").exists():
            if not base.data.dir and not any(data_dir.glob("*_mask.npy")):
                runner_set(data_dir, "run", seed=int(base.seed))
            print(f"[ablation] cell {i}/{len(cells)}: {name}", file=sys.stderr, flush=True)
            run(load_config(overrides))
        else:
            print(f"[ablation] cell {i}/{len(cells)}: {name} (done, skipped)", file=sys.stderr)
        scores = json.loads((run_dir / "scores.json").read_text())
        results[name] = {**scores["mean"], "train_seconds": scores.get("train_seconds", float("nan")),
                         "export_seconds_per_image": scores.get("export_seconds_per_image", float("nan")),
                         "overrides": _selection_overrides([*common, *cell])}
    names, mat, same = agreement_matrix(run_dirs, int(base.seed))
    for name, value in zip(names, cell_agreement(mat, same)):
        results[name]["agreement"] = float(value)
    chosen, ranking = choose(results)
    for name in names:
        results[name]["mean_rank"] = ranking[name]
    checks = {"rule (agreement; ties: silhouette, DB)": {**regret(results, chosen), "run": chosen}}
    alternatives = {"equal weights (the rule before issue 12)": {"silhouette": 1.0, "davies_bouldin": 1.0, "agreement": 1.0}}
    for sig in ("silhouette", "davies_bouldin", "agreement"):
        alternatives[f"{sig} only"] = {s: (1.0 if s == sig else 0.0) for s in ("silhouette", "davies_bouldin", "agreement")}
    for label, weights in alternatives.items():
        alt, _ = choose(results, weights)
        checks[label] = {**regret(results, alt), "run": alt}
    why = (f"best cross-method agreement (mean ARI of instance masks; ties: silhouette, Davies-Bouldin) of "
           f"{len(names)} cells, no labels, in ablation {out}")
    write_selection(out, chosen, results[chosen]["overrides"], ranking, out, why)
    write_selection(Path(base.run.root), chosen, results[chosen]["overrides"], ranking, out, why)
    summary = {"cells": results, "chosen": chosen, "checks": checks, "agreement": {"names": names, "matrix": mat.tolist()},
               "data": str(data_dir), "written": time.strftime("%Y-%m-%d %H:%M:%S")}
    write_text(out / "ablation.json", json.dumps(summary, indent=1))
    _write_tables(out, results, chosen, checks, names, mat, data_dir)
    return summary


def _fmt(v) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else (f"{v:.3f}" if isinstance(v, float) else str(v))


def _write_tables(out: Path, results: dict, chosen: str, checks: dict, names: list[str], mat: np.ndarray,
                  data_dir: Path) -> None:
    present = [(k, label) for k, label in TABLE_COLUMNS if any(k in r and not _is_nan(r[k]) for r in results.values())]
    lines = [f"Ablation on `{data_dir}` ({len(results)} cells). Chosen (no labels): **{chosen}**.", "",
             "| cell | " + " | ".join(label for _, label in present) + " |", "|---|" + "---|" * len(present)]
    for name in sorted(results, key=lambda n: results[n]["mean_rank"]):
        mark = " (chosen)" if name == chosen else ""
        lines.append(f"| {name}{mark} | " + " | ".join(_fmt(results[name].get(k)) for k, _ in present) + " |")
    if next(iter(checks.values())).get("best_run"):
        lines += ["", "Rule check against truth (mean best IoU): chosen vs best cell.", "",
                  "| rule | picks | its IoU | best IoU (cell) | regret | rank |", "|---|---|---|---|---|---|"]
        for rule, c in checks.items():
            lines.append(f"| {rule} | {c['run']} | {c['chosen']:.3f} | {c['best']:.3f} ({c['best_run']}) | "
                         f"{c['regret']:.3f} | {c['rank']}/{c['of']} |")
    lines += ["", "Cross-method agreement (ARI of instance masks):", "",
              "| | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for i, n in enumerate(names):
        lines.append(f"| {n} | " + " | ".join(_fmt(float(x)) for x in mat[i]) + " |")
    write_text(out / "ablation.md", "\n".join(lines) + "\n")
    fields = ["cell", "chosen", *(k for k, _ in TABLE_COLUMNS), "overrides"]
    write_csv(out / "ablation.csv", fields, [{**{k: r.get(k, "") for k in fields}, "cell": name, "chosen": name == chosen,
                                              "overrides": " ".join(r["overrides"])} for name, r in sorted(results.items())])
    write_csv(out / "agreement.csv", ["", *names],
              [{"": n, **{m: f"{x:.4f}" for m, x in zip(names, mat[i])}} for i, n in enumerate(names)])


def _is_nan(v) -> bool:
    return isinstance(v, float) and math.isnan(v)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="experiments.ablation", description=__doc__.split("\n\n")[0])
    ap.add_argument("spec", help="ablation YAML (experiments/configs/ablations/*.yaml)")
    ap.add_argument("--out", help="output folder (default RUN_ROOT/ablation/SPEC_NAME)")
    ap.add_argument("overrides", nargs="*", help="key=value for every cell, e.g. data.dir=DIR")
    args = ap.parse_args(argv)
    try:
        summary = run_ablation(args.spec, Path(args.out) if args.out else None, args.overrides)
    except (ConfigError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else None
    table = (out or Path(load_config(args.overrides).run.root) / "ablation" / Path(args.spec).stem) / "ablation.md"
    print(table.read_text())
    print(f"[ablation] chosen: {summary['chosen']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
