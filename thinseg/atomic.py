"""Atomic file writes: write a temporary file in the target folder, then rename.

A killed process therefore leaves either the old file, the new file, or a
``.tmp-*`` file that the next export run removes; never a half-written target.
"""
from __future__ import annotations

import csv
import io
import os
from contextlib import contextmanager
from pathlib import Path

import numpy as np

TMP_PREFIX = ".tmp-"


@contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb"):
    """Open a temporary sibling of ``path`` for writing; on success rename it to ``path``."""
    path = Path(path)
    tmp = path.with_name(f"{TMP_PREFIX}{path.name}.{os.getpid()}")
    try:
        with open(tmp, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def save_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    """np.save ``array`` to exactly ``path`` (no suffix added), atomically."""
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    with atomic_open(path, "wb") as fh:
        fh.write(buf.getbuffer())


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write UTF-8 text atomically."""
    with atomic_open(path, "wb") as fh:
        fh.write(text.encode("utf-8"))


def write_csv(path: str | os.PathLike, fields, rows, header: bool = True) -> None:
    """Write dict ``rows`` as CSV with the columns ``fields`` (extra keys ignored), atomically."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(fields), extrasaction="ignore", lineterminator="\n")
    if header:
        writer.writeheader()
    writer.writerows(rows)
    write_text(path, buf.getvalue())


def remove_stale_temporaries(folder: str | os.PathLike) -> int:
    """Delete ``.tmp-*`` leftovers of killed runs in ``folder``; returns how many."""
    n = 0
    for p in Path(folder).glob(f"{TMP_PREFIX}*"):
        if p.is_file():
            p.unlink()
            n += 1
    return n
