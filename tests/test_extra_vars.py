"""openshell_auto.extra_vars: -e KEY=VALUE / JSON / @file, as ansible-playbook reads them."""

from __future__ import annotations

from pathlib import Path

import pytest

from openshell_auto.errors import InputError
from openshell_auto.extra_vars import extra_vars_sources, parse_extra_vars


@pytest.mark.parametrize("item,expected", [
    ("a=1", {"a": "1"}),
    ("a=b=c", {"a": "b=c"}),
    ('{"n": 3, "l": [1]}', {"n": 3, "l": [1]}),
])
def test_parse_extra_vars(item: str, expected: dict[str, object]) -> None:
    assert parse_extra_vars([item]) == expected


@pytest.mark.parametrize("item,needle", [
    ("novalue", "expected KEY=VALUE"),
    ("1bad=x", "expected KEY=VALUE"),
    ("@/nonexistent/vars.yml", "extra vars file not found"),
    ("{not: [closed", "YAML/JSON syntax error in the -e argument"),
])
def test_parse_extra_vars_rejects(item: str, needle: str) -> None:
    with pytest.raises(InputError, match=needle):
        parse_extra_vars([item])


def test_vaulted_extra_vars_file_is_passed_by_path(tmp_path: Path) -> None:
    vaulted = tmp_path / "vault.yml"
    vaulted.write_text("---\nopenshell_gpu: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\n")
    plain = tmp_path / "plain.yml"
    plain.write_text("---\nopenshell_gpu: true\n")
    items = ["x=1", f"@{vaulted}", f"@{plain}"]
    assert parse_extra_vars(items)["x"] == "1"  # validation still sees every item
    assert extra_vars_sources(items) == [{"x": "1"}, vaulted.resolve(), {"openshell_gpu": True}]
