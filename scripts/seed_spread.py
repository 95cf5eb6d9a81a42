"""Seed spread per method: how far apart fits of one method land with different seeds.

    .venv/bin/python scripts/seed_spread.py runs/ablation/seeds_real [--examples DIR]

Reads an ablation whose cells differ only by ``seed=N`` (``experiments/configs/ablations/
seeds.yaml``), groups the cells by their name without the seed and prints one markdown
row per method: the score of every seed, their mean, and their range (max - min). The
score is the pooled mean best IoU over the labelled examples when the ablation ran on a
folder that holds them (``scripts/ablation_examples_table.py``), else each cell's
``scores.json`` mean best IoU and recall@0.5 over the images with truth (synthetic sets).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from ablation_examples_table import DEFAULT_EXAMPLES, examples_scores  # noqa: E402

SEED = re.compile(r"_?seed=(\d+)")


def cell_score(cell: Path, examples: Path) -> dict | None:
    """{score name: value} of one cell: examples' pooled IoU / recall where they were
    exported, else the ``scores.json`` means; None when the cell has not finished."""
    s = examples_scores(cell, examples) if examples.is_dir() else None
    if s is not None:
        return {"pooled IoU": s["pooled"], "recall@0.5": s["recall50"], **s["per_image"]}
    scores = cell / "scores.json"
    if not scores.is_file():
        return None
    mean = json.loads(scores.read_text())["mean"]
    if "mean_best_iou" not in mean:
        return None
    return {"mean best IoU": mean["mean_best_iou"], "recall@0.5": mean["recall50"]}


def spread_rows(ablation: Path, examples: Path) -> list[str]:
    """Markdown rows: method, then for each score the seeds' values, mean and range."""
    groups: dict[str, dict[int, dict]] = defaultdict(dict)
    for cell in sorted(p for p in ablation.iterdir() if p.is_dir()):
        m = SEED.search(cell.name)
        score = cell_score(cell, examples) if m else None
        if score is not None:
            groups[SEED.sub("", cell.name) or "default"][int(m.group(1))] = score
    rows = []
    for method, by_seed in groups.items():
        seeds = sorted(by_seed)
        for key in by_seed[seeds[0]]:
            values = [by_seed[s][key] for s in seeds]
            each = " / ".join(f"{v:.3f}" for v in values)
            rows.append(f"| {method} | {key} | {','.join(map(str, seeds))} | {each} | "
                        f"{sum(values) / len(values):.3f} | {max(values) - min(values):.3f} |")
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ablation", help="an ablation output folder whose cells differ by seed=N")
    ap.add_argument("--examples", default=str(DEFAULT_EXAMPLES))
    args = ap.parse_args(argv)
    rows = spread_rows(Path(args.ablation), Path(args.examples))
    if not rows:
        print(f"no finished seed=N cells in {args.ablation}", file=sys.stderr)
        return 1
    print("| method | score | seeds | per seed | mean | range |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
