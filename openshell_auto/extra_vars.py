"""`-e/--extra-vars` arguments, read the way ansible-playbook reads them.

`parse_extra_vars` gives the merged variables the inventory checks see (exit 2 on bad syntax);
`extra_vars_sources` gives what the run passes on, in command-line order, keeping `@file`s that
hold `!vault` values as files (Ansible decrypts them; re-serialising would lose the tag).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any


from openshell_auto.errors import InputError
from openshell_auto.input_files import parse_yaml
from ansible_collections.openshell_auto.cluster.plugins.module_utils.hostile import Opaque
from openshell_auto.inventory_loader import LineLoader, load_yaml


class ExtraVars(dict):  # type: ignore[type-arg]
    """Merged extra vars that remember, per variable, the `-e @file` and line that set it last
    (absent for inline KEY=VALUE / JSON), so a message can name the file and line."""

    def __init__(self) -> None:
        super().__init__()
        self.origins: dict[str, tuple[Path, int | None]] = {}


def parse_extra_vars(items: Iterable[str]) -> dict[str, Any]:
    """Parse -e arguments like ansible-playbook: KEY=VALUE (string), @file (YAML/JSON), or a
    YAML/JSON mapping. Later items win. Raises InputError (exit 2) on bad syntax."""
    result = ExtraVars()
    for item in items:
        if item.startswith("@"):
            file = Path(item[1:]).expanduser()
            data = load_yaml(file, "extra vars")
            if data is None:
                continue
            if not isinstance(data, dict):
                raise InputError(f"{file}: -e @file must contain a mapping of variable: value, "
                                 f"got {type(data).__name__}; fix the file")
            result.update(_plain(data))
            lines = getattr(data, "lines", {})
            result.origins.update({str(k): (file, lines.get(k)) for k in data})
        elif item.lstrip().startswith("{"):
            data = parse_yaml(item, f"-e {item[:80]!r}", "-e argument", LineLoader)
            if not isinstance(data, dict):
                raise InputError(f"-e {item!r}: must be a mapping; use KEY=VALUE, @file or a JSON object")
            result.update(_plain(data))
            for key in data:
                result.origins.pop(str(key), None)
        else:
            key, sep, value = item.partition("=")
            key = key.strip()
            if not sep or not key.isidentifier():
                raise InputError(f"-e {item!r}: expected KEY=VALUE (KEY a variable name), @FILE or a JSON object; "
                                 "fix the -e argument")
            result[key] = value
            result.origins.pop(key, None)
    return result


def extra_vars_sources(items: Iterable[str]) -> list[dict[str, Any] | Path]:
    """The -e arguments for the run, in order: inline KEY=VALUE / JSON items as mappings, and
    `@file` as the file's absolute Path when it holds `!vault` values (Ansible decrypts them;
    re-serialising would lose the tag). Call `parse_extra_vars` first to validate."""
    sources: list[dict[str, Any] | Path] = []
    for item in items:
        if item.startswith("@"):
            file = Path(item[1:]).expanduser().resolve()
            data = load_yaml(file, "extra vars")
            if isinstance(data, dict) and _has_no_vault(data):
                sources.append(_plain(data))
            elif data is not None:
                sources.append(file)
        else:
            sources.append(parse_extra_vars([item]))
    return sources


def _has_no_vault(value: Any) -> bool:
    """False when any value inside is a !vault / !unsafe scalar."""
    if isinstance(value, Opaque):
        return False
    if isinstance(value, dict):
        return all(_has_no_vault(v) for v in value.values())
    if isinstance(value, list):
        return all(_has_no_vault(v) for v in value)
    return True


def _plain(value: Any) -> Any:
    """Drop the line-tracking subclasses so values are plain dicts (JSON-serialisable).
    !vault/!unsafe scalars stay `Opaque` (a str) so validation keeps skipping them."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
