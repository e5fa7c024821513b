"""Tables that never break a value: host names, paths and messages stay whole.

On a terminal a rich table is laid out at the width its cells need (wider than the terminal
if it must: the terminal wraps the line, the table never splits a path mid-word); anywhere else
(a pipe, a file, CI) the rows are plain text with aligned columns, one row per line.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ansible_collections.openshell_auto.cluster.plugins.module_utils.tables import plain

__all__ = ["plain", "show"]

if TYPE_CHECKING:  # rich loads only where a table is shown (verify's plain text needs none of it)
    from rich.console import Console
    from rich.text import Text


def show(console: Console, title: str, headers: Sequence[str], rows: Sequence[Sequence[str | Text]],
         right: Sequence[str] = ()) -> None:
    """Print a table: rich and unbroken on a terminal, plain rows otherwise."""
    from rich.measure import Measurement
    from rich.table import Table
    from rich.text import Text

    if not console.is_terminal:
        console.print(Text(title), soft_wrap=True)
        console.print(Text(plain(headers, [[str(cell) for cell in row] for row in rows])), soft_wrap=True)
        return
    table = Table(title=title)
    for header in headers:
        table.add_column(header, justify="right" if header in right else "left", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    needed = Measurement.get(console, console.options.update_width(1_000_000), table).maximum
    width = console.width
    console.width = max(width, needed)  # print(width=...) is capped at the console's width
    try:
        console.print(table)
    finally:
        console.width = width
