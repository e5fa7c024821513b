"""Read a user's input file (inventory, vars, sandbox file, nodes JSON) without hanging, blowing up
memory or crashing: a regular file of bounded size, UTF-8 text, and YAML with bounded nesting and
aliases. Every refusal is one InputError line naming the file and the fix."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Any

import yaml

from openshell_auto.errors import InputError

MAX_BYTES = 1024 * 1024  # a 1,000-host inventory is about 30-100 KB; YAML parsing is ~1 s per 100 KB
MAX_DEPTH = 64  # nesting of YAML collections
MAX_ALIASES = 100  # `*alias` uses in one document (an alias bomb needs many)
MAX_RANGE_HOSTS = 10_000  # hosts one pattern such as node[001:100] may expand to


def read_text(path: Path, what: str, hint: str = "pass an existing file") -> str:
    """The text of a regular, bounded, UTF-8 file. Refuses FIFOs, devices (/dev/zero),
    directories, symlink loops, huge and binary files."""
    try:
        info = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(f"{path}: {what} file is a symlink loop; point the link at a real file") from exc
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            raise InputError(f"{path}: {what} file not found (cannot read it); {hint}") from exc
        raise InputError(f"{path}: cannot read {what} ({exc.strerror}); check the file and its permissions") from exc
    if stat.S_ISDIR(info.st_mode):
        raise InputError(f"{path}: is a directory; pass the {what} YAML file itself (e.g. {path}/hosts.yml)")
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{path}: {what} is not a regular file (a FIFO, device or socket); pass a YAML file")
    if info.st_size > MAX_BYTES:
        raise InputError(f"{path}: {what} file is {info.st_size} bytes, more than {MAX_BYTES}; split it or "
                         "use host ranges and group vars")
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{path}: cannot read {what} ({exc.strerror}); check the file and its permissions") from exc
    if len(data) > MAX_BYTES:
        raise InputError(f"{path}: {what} file is more than {MAX_BYTES} bytes; split it")
    if b"\0" in data:
        offset = data.index(b"\0")
        raise InputError(f"{path}: {what} file is binary (NUL byte at offset {offset}); pass a YAML text file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: {what} file is not UTF-8 text (byte {exc.start}); save it as UTF-8") from exc


class BoundedComposer:
    """Mixin for a PyYAML loader: refuses deep nesting and many aliases while composing."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        depth = getattr(self, "_openshell_depth", 0)
        if self.check_event(yaml.AliasEvent):  # type: ignore[attr-defined]
            aliases = getattr(self, "_openshell_aliases", 0) + 1
            self._openshell_aliases = aliases
            if aliases > MAX_ALIASES:
                event = self.peek_event()  # type: ignore[attr-defined]
                raise yaml.composer.ComposerError(
                    None, None, f"more than {MAX_ALIASES} aliases (*name); write the values out", event.start_mark)
        if depth >= MAX_DEPTH:
            event = self.peek_event()  # type: ignore[attr-defined]
            raise yaml.composer.ComposerError(
                None, None, f"nested more than {MAX_DEPTH} levels deep; flatten the structure", event.start_mark)
        self._openshell_depth = depth + 1
        try:
            return super().compose_node(parent, index)  # type: ignore[misc]
        finally:
            self._openshell_depth = depth


class DuplicateKeyError(yaml.constructor.ConstructorError):
    """A mapping names the same key twice (YAML forbids it; PyYAML keeps the last silently)."""


def range_size(pattern: str) -> int:
    """How many host names a pattern such as node[01:20]-[a:c] expands to (1 without ranges)."""
    import re

    total = 1
    for start, end, step in re.findall(r"\[([^\]:]*):([^\]:]*)(?::([^\]]*))?\]", pattern):
        try:
            count = (abs(int(end) - int(start)) // max(int(step or 1), 1)) + 1 if start.isdigit() and end.isdigit() \
                else abs(ord(end[:1] or "a") - ord(start[:1] or "a")) + 1
        except ValueError:
            return 0  # not a range Ansible expands; the caller's expansion reports it
        total *= count
    return total


class _PythonParser(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser):
    """PyYAML's pure-Python reader, scanner and parser: used only where PyYAML lacks libyaml."""

    def __init__(self, stream: Any) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)


try:  # libyaml scans and parses, as in Ansible's own loader (and about 5x faster than pure Python)
    from yaml._yaml import CParser as _Parser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    _Parser = _PythonParser  # type: ignore[misc,assignment]


class BoundedSafeLoader(BoundedComposer, yaml.composer.Composer, _Parser, yaml.constructor.SafeConstructor,
                        yaml.resolver.Resolver):
    """yaml.SafeLoader's result, with bounded nesting and aliases. libyaml (or PyYAML's Python
    parser) turns the text into events; the nodes are composed here, in Python, where
    BoundedComposer counts depth and aliases before anything is built from them (libyaml's own
    composer recurses in C without a limit). `python_twin`: the same loader on PyYAML's Python
    parser, which parse_yaml reads a text with again when it is refused, for PyYAML's messages
    and positions (libyaml places an unclosed `[` at the line after the text, for one)."""

    python_twin: type[Any]

    def __init__(self, stream: Any) -> None:
        _Parser.__init__(self, stream)
        yaml.composer.Composer.__init__(self)
        yaml.constructor.SafeConstructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)


class BoundedPythonLoader(BoundedComposer, yaml.composer.Composer, _PythonParser,
                          yaml.constructor.SafeConstructor, yaml.resolver.Resolver):
    """BoundedSafeLoader on PyYAML's Python parser."""

    def __init__(self, stream: Any) -> None:
        _PythonParser.__init__(self, stream)
        yaml.composer.Composer.__init__(self)
        yaml.constructor.SafeConstructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)


BoundedSafeLoader.python_twin = BoundedPythonLoader


def _load(loader: type[Any], text: str) -> Any:
    """What yaml.load does, with a loader class of ours."""
    reader = loader(text)
    try:
        return reader.get_single_data()
    finally:
        reader.dispose()


def load_bounded(text: str, loader: type[Any] | None = None) -> Any:
    """YAML text -> data with `loader` (BoundedSafeLoader unless given); a text it refuses is read
    again by its Python twin, whose error (or, where only libyaml refuses, result) is the answer."""
    loader = loader or BoundedSafeLoader
    try:
        return _load(loader, text)
    except yaml.YAMLError:
        twin = getattr(loader, "python_twin", loader)
        if twin is loader:
            raise
        return _load(twin, text)


def parse_yaml(text: str, source: str | Path, what: str, loader: type[Any] | None = None) -> Any:
    """Parse YAML/JSON text with a bounded loader (BoundedSafeLoader unless `loader` is given): the
    one way the CLI reads a user's YAML (inventory, vars and extra-vars files, -e mappings, sandbox
    files). `what` names the input ("inventory file"). An error is one InputError line
    `SOURCE:LINE:COLUMN: YAML/JSON syntax error in the <what>: <problem>; fix the <what> at line L, column C`."""
    try:
        return load_bounded(text, loader)
    except RecursionError as exc:
        raise InputError(f"{source}: the {what} is nested too deeply to read; flatten the structure") from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(" ".join(str(p).split()) for p in (exc.context, exc.problem) if p)[:200]
        if mark is None:
            raise InputError(f"{source}: YAML/JSON syntax error in the {what}: {problem}; fix the {what}") from exc
        line, column = mark.line + 1, mark.column + 1
        raise InputError(f"{source}:{line}:{column}: YAML/JSON syntax error in the {what}: {problem}; "
                         f"fix the {what} at line {line}, column {column}") from exc
    except yaml.YAMLError as exc:
        raise InputError(f"{source}: YAML/JSON error in the {what}: {' '.join(str(exc).split())[:200]}; "
                         f"fix the {what}") from exc
