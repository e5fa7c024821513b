"""Role interfaces: every role's meta/argument_specs.yml (its settings entry point) and defaults.

This is the ONE place the Python side learns role defaults, types and choices; nothing here
repeats a value from a role. Files are read with PyYAML (fast, no Ansible import); render loads
defaults again through Ansible's DataLoader where it needs template trust.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from openshell_auto import paths
from openshell_auto.errors import InputError


@dataclass(frozen=True)
class RoleSpec:
    """One role's public interface."""

    name: str
    path: Path
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)

    @property
    def prefix(self) -> str:
        return f"{self.name}_"


@dataclass(frozen=True)
class Specs:
    """All roles' interfaces, merged."""

    roles: dict[str, RoleSpec]

    @property
    def options(self) -> dict[str, dict[str, Any]]:
        """Option name -> argument spec, over all roles."""
        merged: dict[str, dict[str, Any]] = {}
        for role in self.roles.values():
            merged.update(role.options)
        return merged

    @property
    def defaults(self) -> dict[str, Any]:
        """Variable name -> role default, over all roles (names are role-prefixed, no clashes)."""
        merged: dict[str, Any] = {}
        for role in self.roles.values():
            merged.update(role.defaults)
        return merged

    def known_names(self) -> set[str]:
        return set(self.options) | set(self.defaults)

    def owner(self, name: str) -> RoleSpec | None:
        """The role whose prefix the variable name carries (longest prefix wins)."""
        best: RoleSpec | None = None
        for role in self.roles.values():
            if name.startswith(role.prefix) and (best is None or len(role.prefix) > len(best.prefix)):
                best = role
        return best

    def suggest(self, name: str, cutoff: float = 0.75) -> str | None:
        """The closest known variable name, for "did you mean" hints."""
        matches = difflib.get_close_matches(name, sorted(self.known_names()), n=1, cutoff=cutoff)
        return matches[0] if matches else None


# The role files are the project's own: libyaml's safe loader when PyYAML has it (the pure Python
# one reads them several times slower), as ansible-core does.
_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load_yaml_mapping(path: Path, what: str) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise InputError(f"{where}: {what} is not valid YAML ({getattr(exc, 'problem', exc)}); fix the role file") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(f"{path}: {what} must be a mapping; fix the role file")
    return data


# The entry point that holds a role's settings: `main`, or `classify` for the shared role `openshell`
# (roles/openshell/meta/argument_specs.yml says why). scripts/role-docs, playbooks/validate.yml and
# the tests read it through settings_entry_point (validate.yml: the same two names, in this order).
SETTINGS_ENTRY_POINTS = ("main", "classify")


def settings_entry_point(argument_specs: Any) -> dict[str, Any]:
    """The settings entry point of a role's `argument_specs` mapping ({} when it has none)."""
    if not isinstance(argument_specs, dict):
        return {}
    found = next((argument_specs[name] for name in SETTINGS_ENTRY_POINTS if name in argument_specs), None)
    return found if isinstance(found, dict) else {}


def load_role(role_dir: Path) -> RoleSpec:
    """Read one role's argument spec (its settings entry point) and defaults/main.yml."""
    spec_doc = _load_yaml_mapping(role_dir / "meta" / "argument_specs.yml", "argument_specs")
    main = settings_entry_point(spec_doc.get("argument_specs") or {})
    options = main.get("options") or {}
    defaults = _load_yaml_mapping(role_dir / "defaults" / "main.yml", "defaults")
    return RoleSpec(name=role_dir.name, path=role_dir, options=dict(options), defaults=defaults)


@lru_cache(maxsize=8)
def _load_specs(roles_dir: Path) -> Specs:
    roles: dict[str, RoleSpec] = {}
    if roles_dir.is_dir():
        for role_dir in sorted(p for p in roles_dir.iterdir() if p.is_dir() and (p / "meta").is_dir()):
            roles[role_dir.name] = load_role(role_dir)
    return Specs(roles=roles)


def load_specs(roles_dir: Path | None = None) -> Specs:
    """All roles under `roles_dir` (default: the content root's roles/), cached per directory."""
    return _load_specs((roles_dir or paths.content().roles).resolve())
