"""The ansible-core range pyproject.toml declares is what the tests prove, nothing wider: its oldest
line is the one the suite runs in .venv (render and the roles use 2.19 APIs, e.g.
ansible.template.trust_as_template), its newest is the line scripts/test-controller-matrix runs
on Python 3.13 (NEWEST_LINE there), and the roles' meta/main.yml min_ansible_version and the
collection's meta/runtime.yml say the same. This module runs on both lines."""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version

REPO = Path(__file__).resolve().parent.parent
MATRIX = REPO / "scripts" / "test-controller-matrix"


def declared() -> SpecifierSet:
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    (spec,) = [d for d in deps if re.match(r"ansible-core\b", d)]
    return SpecifierSet(spec[len("ansible-core"):])


def test_installed_ansible_core_is_inside_the_declared_range() -> None:
    installed = Version(importlib.metadata.version("ansible-core"))
    assert installed in declared(), f"ansible-core {installed} is outside pyproject.toml's {declared()}"


def newest_line() -> Version:
    (line,) = re.findall(r"^NEWEST_LINE=(\d+\.\d+)$", MATRIX.read_text(), re.MULTILINE)
    return Version(line)


def matrix_tests() -> list[str]:
    (block,) = re.findall(r"^TESTS=\((.*?)^\)$", MATRIX.read_text(), re.MULTILINE | re.DOTALL)
    return block.split()


def bounds() -> tuple[Version, Version]:
    specs = {s.operator: Version(s.version) for s in declared()}
    assert set(specs) == {">=", "<"} and len(declared()) == 2, declared()
    return specs[">="], specs["<"]


def test_declared_range_is_the_lines_the_tests_run() -> None:
    """A range wider than the tested lines (e.g. >=2.17,<2.23) claims releases no test ran on: the
    lower bound is the line this suite runs in .venv, the upper one the line after the matrix's."""
    lower, upper = bounds()
    newest = newest_line()
    assert upper == Version(f"{newest.major}.{newest.minor + 1}"), (declared(), f"NEWEST_LINE={newest}")
    assert lower.release[:2] < newest.release[:2], (declared(), f"NEWEST_LINE={newest}")
    installed = Version(importlib.metadata.version("ansible-core"))
    line = Version(f"{installed.major}.{installed.minor}")
    assert line in (lower, newest), f"ansible-core {installed} is neither the oldest nor the newest line of {declared()}"


def test_the_project_venv_runs_the_oldest_line() -> None:
    """.venv gets ansible-core through the `ansible` package (the test extra) whose core is the lower
    bound; a newer core there would leave the oldest line untested."""
    try:
        importlib.metadata.version("ansible")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("not the project venv (no `ansible` package): the matrix container runs the newest line")
    installed = Version(importlib.metadata.version("ansible-core"))
    lower, _ = bounds()
    assert (installed.major, installed.minor) == lower.release[:2], (installed, declared())


def test_the_matrix_runs_this_module_and_is_part_of_the_test_run() -> None:
    tests = matrix_tests()
    assert "tests/test_ansible_core_range.py" in tests, tests
    for name in tests:
        assert (REPO / name).is_file(), name
    assert "bash scripts/test-controller-matrix" in (REPO / "scripts" / "test").read_text()


def test_roles_min_ansible_version_is_the_declared_lower_bound() -> None:
    (lower,) = [s.version for s in declared() if s.operator == ">="]
    for meta in sorted(REPO.glob("roles/*/meta/main.yml")):
        info = yaml.safe_load(meta.read_text())["galaxy_info"]
        assert str(info["min_ansible_version"]) == lower, meta


def test_render_imports_work_on_the_installed_ansible_core() -> None:
    from ansible.template import trust_as_template  # noqa: F401 - 2.19's API, used by render

    from openshell_auto import render  # noqa: F401


def test_collection_requires_ansible_is_the_declared_range() -> None:
    """meta/runtime.yml tells ansible-core which releases may load the collection: the same line."""
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())
    assert SpecifierSet(runtime["requires_ansible"]) == declared(), runtime["requires_ansible"]


def test_collection_version_is_the_package_version() -> None:
    galaxy = yaml.safe_load((REPO / "galaxy.yml").read_text())
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert (galaxy["namespace"], galaxy["name"]) == ("openshell_auto", "cluster")
    assert galaxy["version"] == project["version"]
