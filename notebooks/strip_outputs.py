#!/usr/bin/python3
"""Strips outputs, execution counts and per-run cell metadata from notebooks,
in place, so that git holds only their sources (tests/python checks it).

    /usr/bin/python3 notebooks/strip_outputs.py notebooks/*.ipynb
"""

import sys

import nbformat


def strip(path: str) -> bool:
    """Strips one notebook; True when it changed."""
    nb = nbformat.read(path, as_version=4)
    before = nbformat.writes(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        for key in ("execution", "collapsed", "scrolled"):
            cell.metadata.pop(key, None)
    nb.metadata.pop("widgets", None)
    after = nbformat.writes(nb)
    if after != before:
        with open(path, "w", encoding="utf-8") as f:
            f.write(after)
    return after != before


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for p in sys.argv[1:]:
        print(("stripped " if strip(p) else "clean    ") + p)
