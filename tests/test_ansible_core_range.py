"""The ansible-core range pyproject.toml declares is what the tests prove: the release line the
test run uses, nothing wider (render and the roles use 2.19 APIs, e.g. ansible.template.
trust_as_template), and the roles' meta/main.yml min_ansible_version and the collection's meta/runtime.yml
say the same."""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version

REPO = Path(__file__).resolve().parent.parent


def declared() -> SpecifierSet:
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    (spec,) = [d for d in deps if re.match(r"ansible-core\b", d)]
    return SpecifierSet(spec[len("ansible-core"):])


def test_installed_ansible_core_is_inside_the_declared_range() -> None:
    installed = Version(importlib.metadata.version("ansible-core"))
    assert installed in declared(), f"ansible-core {installed} is outside pyproject.toml's {declared()}"


def test_declared_range_is_the_one_release_line_the_tests_run() -> None:
    """A range wider than the tested line (e.g. >=2.17,<2.21) claims releases no test ran on."""
    installed = Version(importlib.metadata.version("ansible-core"))
    line = f"{installed.major}.{installed.minor}"
    assert {str(s) for s in declared()} == {f">={line}", f"<{installed.major}.{installed.minor + 1}"}, declared()


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
