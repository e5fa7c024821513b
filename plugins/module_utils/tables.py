"""Plain-text tables that never break a value: aligned columns, one row per line.

The rule shared by the roles (verify's table in a failed play) and the CLI, which prints these
rows wherever the output is not a terminal (openshell_auto/tables.py draws the terminal form).
"""

from __future__ import annotations

from collections.abc import Sequence


def plain(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Aligned columns separated by two spaces; the last column is not padded."""
    table = [list(headers), *[list(row) for row in rows]]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers) - 1)]
    return "\n".join(
        "  ".join([*(cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])), row[-1]]).rstrip()
        for row in table)
