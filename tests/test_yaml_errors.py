"""One YAML reader for every input file of the CLI (input_files.parse_yaml): each caller reports a
syntax error as FILE:LINE:COLUMN, naming the file, what it is and the fix, in one wording."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from openshell_auto.errors import InputError
from openshell_auto.extra_vars import parse_extra_vars
from openshell_auto.input_files import parse_yaml
from openshell_auto.inventory import load_inventory
from openshell_auto.inventory_loader import load_yaml

from helpers import REPO

BROKEN = "a: 1\nb: [2\n"  # the flow sequence never closes: PyYAML marks line 3, column 1
WHERE = ":3:1: YAML/JSON syntax error in the "
FIX = "at line 3, column 1"


def _message(call: Callable[[], object]) -> str:
    with pytest.raises(InputError) as info:
        call()
    assert len(info.value.messages) == 1
    return info.value.messages[0]


def _sandbox_cli(path: Path) -> str:
    run = subprocess.run([sys.executable, "-m", "openshell_auto", "sandbox", "render", "--from-file", str(path)],
                         capture_output=True, text=True, timeout=60, cwd=REPO)
    assert run.returncode == 2, run.stdout + run.stderr
    return run.stderr.strip().removeprefix("error: ")


def test_every_reader_reports_file_line_column_and_the_fix(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(BROKEN, encoding="utf-8")
    group_vars = tmp_path / "inv" / "group_vars"
    group_vars.mkdir(parents=True)
    (group_vars / "all.yml").write_text(BROKEN, encoding="utf-8")
    inventory = tmp_path / "inv" / "hosts.yml"
    inventory.write_text("all:\n  children:\n    openshell_servers:\n      hosts:\n        s1:\n", encoding="utf-8")
    messages = {
        "inventory file": _message(lambda: load_inventory(broken)),
        "extra vars file": _message(lambda: parse_extra_vars([f"@{broken}"])),
        "vars file": _message(lambda: load_inventory(inventory)),
        "sandbox file": _sandbox_cli(broken),
        "text": _message(lambda: parse_yaml(BROKEN, broken, "text")),
    }
    for what, message in messages.items():
        source = group_vars / "all.yml" if what == "vars file" else broken
        assert message.startswith(f"{source}{WHERE}{what}: "), message
        assert message.endswith(f"; fix the {what} {FIX}"), message
    assert _message(lambda: load_yaml(broken)) == messages["inventory file"]


def test_an_inline_e_mapping_reads_the_same_way() -> None:
    message = _message(lambda: parse_extra_vars(["{a: [1"]))
    assert message.startswith("-e '{a: [1':1:7: YAML/JSON syntax error in the -e argument: "), message
    assert message.endswith("; fix the -e argument at line 1, column 7"), message
