"""The CLI's YAML loaders: libyaml parses (as in Ansible's own loader), composing stays bounded in
Python, and a refused text is read again on PyYAML's Python parser for its message."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from openshell_auto.errors import InputError
from openshell_auto.input_files import MAX_DEPTH, BoundedPythonLoader, BoundedSafeLoader, load_bounded, parse_yaml
from openshell_auto.inventory_loader import LineLoader

REPO = Path(__file__).resolve().parent.parent
# every YAML file a user could hand the CLI in this repository: the example inventories and the
# corpus of hostile inputs (those that parse at all)
FILES = sorted([*REPO.glob("inventories/**/*.yml"), *REPO.glob("tests/corpus/inventory/*.yml"),
                *REPO.glob("tests/corpus/vars/*.yml"), *REPO.glob("tests/corpus/sandbox/*.yml")])


def _python(text: str, loader: type) -> object:
    reader = loader(text)
    try:
        return reader.get_single_data()
    finally:
        reader.dispose()


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML without libyaml")
def test_libyaml_parses() -> None:
    assert issubclass(BoundedSafeLoader, yaml.cyaml.CParser)
    assert not issubclass(BoundedPythonLoader, yaml.cyaml.CParser)
    assert not issubclass(LineLoader.python_twin, yaml.cyaml.CParser)


def test_the_files_read_the_same_on_both_parsers() -> None:
    assert len(FILES) > 20
    compared = 0
    for path in FILES:
        text = path.read_text(encoding="utf-8")
        try:
            expected = _python(text, LineLoader.python_twin)
        except yaml.YAMLError:
            with pytest.raises(InputError):
                parse_yaml(text, path, "inventory file", LineLoader)
            continue
        got = load_bounded(text, LineLoader)
        assert got == expected, path
        assert yaml.safe_load(text) == expected, path  # what PyYAML's own safe loader reads
        if isinstance(expected, dict):  # the key lines the messages quote
            assert got.lines == expected.lines and got.line == expected.line, path
        compared += 1
    assert compared > 20


@pytest.mark.parametrize("text", ["a: [1", "a: b: c", "k: 1\nk: 2\n", "\t- x\n"])
def test_a_refused_text_gets_pythons_message_and_position(text: str) -> None:
    with pytest.raises(yaml.YAMLError) as python_error:
        _python(text, LineLoader.python_twin)
    with pytest.raises(yaml.YAMLError) as error:
        load_bounded(text, LineLoader)
    assert str(error.value) == str(python_error.value)


def test_nesting_and_aliases_stay_bounded() -> None:
    deep = "[" * 2000 + "]" * 2000  # libyaml's scanner stops at 1000 levels; ours at MAX_DEPTH
    with pytest.raises(InputError, match=f"nested more than {MAX_DEPTH} levels deep"):
        parse_yaml(deep, "deep.yml", "inventory file")
    nested = "a:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, MAX_DEPTH + 2)) + "  " * (MAX_DEPTH + 2) + "x\n"
    with pytest.raises(InputError, match=f"nested more than {MAX_DEPTH} levels deep"):
        parse_yaml(nested, "nested.yml", "inventory file")
    bomb = "a: &a [x, x]\n" + "".join(f"b{i}: &b{i} [*{'a' if i == 0 else f'b{i - 1}'}, *{'a' if i == 0 else f'b{i - 1}'}]\n"
                                      for i in range(80))
    with pytest.raises(InputError, match="more than 100 aliases"):
        parse_yaml(bomb, "bomb.yml", "inventory file")
