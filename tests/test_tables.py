"""Tables never break a host name or a path, on a narrow terminal or through a pipe."""

from __future__ import annotations

import io

from rich.console import Console

from openshell_auto import tables

LONG = "/var/lib/rancher/k3s/server/manifests/nvidia-device-plugin.yaml"
HEADERS = ["host", "roles", "paths on the host"]
ROWS = [["a-rather-long-host-name.example.internal", "server,gpu", LONG], ["gpu2", "agent", "-"]]


def _printed(terminal: bool, width: int) -> str:
    out = io.StringIO()
    console = Console(file=out, force_terminal=terminal, width=width, color_system=None)
    tables.show(console, "render of hosts.yml", HEADERS, ROWS)
    return out.getvalue()


def test_piped_rows_are_plain_and_whole() -> None:
    text = _printed(terminal=False, width=40)
    lines = text.splitlines()
    assert lines[0] == "render of hosts.yml"
    assert lines[1].split() == ["host", "roles", "paths", "on", "the", "host"]
    assert lines[2].split() == ROWS[0] and lines[3].split() == ROWS[1]
    assert not any(ch in text for ch in "┃│─┏")  # no box drawing in a pipe


def test_narrow_terminal_keeps_each_cell_on_one_line() -> None:
    text = _printed(terminal=True, width=40)
    assert any(LONG in line for line in text.splitlines()), text
    assert any(ROWS[0][0] in line for line in text.splitlines()), text


def test_plain_aligns_columns_and_leaves_the_last_unpadded() -> None:
    assert tables.plain(["a", "bb", "c"], [["xxx", "y", "z z"]]).splitlines() == ["a    bb  c", "xxx  y   z z"]
