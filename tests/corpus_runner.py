"""Run the corpus of bad inputs (tests/corpus/) through the CLI and check each is rejected cleanly.

Every file in tests/corpus/<kind>/ starts with `# expect: <text>`: the message it must produce.
Kinds: inventory (`provision -i FILE`), inventory_ini (the same with an INI inventory), vars (`provision -i <valid inventory> -e @FILE`) and
sandbox (`sandbox render --from-file FILE`). GENERATED adds inputs a repository cannot hold as
files (a FIFO, /dev/zero, binary data, a symlink loop, a regular file where a directory is due).

Rejected cleanly: exit 2; every line on stderr starts with `error: ` and fits on a screen (no
traceback, no value echoed at length); a line holds the expected text and names the file; and
nothing ran: the artifacts directory was never created. Hosts are 127.0.0.1 on a closed port
and ssh is /bin/false, so even a wrongly accepted input contacts no host.

    python tests/corpus_runner.py      # prints one line per failure, then `N of N rejected cleanly`
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "corpus"
MAX_LINE = 700
VALID = """all:
  vars:
    ansible_connection: ssh
    ansible_host: 127.0.0.1
    ansible_port: 9
  children:
    openshell_servers:
      hosts:
        server1:
"""


@dataclass
class Case:
    name: str
    expect: str
    build: Callable[[Path], tuple[list[str], str]]  # work dir -> (argv without the runs dir, file named)


def _expected(path: Path) -> str:
    first = path.read_bytes().split(b"\n", 1)[0].decode()
    if not first.startswith("# expect: "):
        raise ValueError(f"{path}: first line must be `# expect: <message text>`")
    return first[len("# expect: "):]


def _file_case(path: Path) -> Case:
    kind = path.parent.name

    def build(work: Path) -> tuple[list[str], str]:
        if kind in ("inventory", "inventory_ini"):
            return ["provision", "-i", str(path)], str(path)
        if kind == "vars":
            valid = work / "hosts.yml"
            valid.write_text(VALID)
            return ["provision", "-i", str(valid), "-e", f"@{path}"], str(path)
        if kind == "sandbox":
            return ["sandbox", "render", "--from-file", str(path)], str(path)
        raise ValueError(f"{path}: unknown corpus kind {kind}")

    return Case(f"{kind}/{path.name}", _expected(path), build)


def _fifo(work: Path) -> tuple[list[str], str]:
    fifo = work / "hosts.fifo"
    os.mkfifo(fifo)
    return ["provision", "-i", str(fifo)], str(fifo)


def _binary(name: str, argv: Callable[[Path], list[str]]) -> Callable[[Path], tuple[list[str], str]]:
    def build(work: Path) -> tuple[list[str], str]:
        path = work / name
        path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe" * 64)
        return argv(path), str(path)
    return build


def _loop(work: Path) -> tuple[list[str], str]:
    (work / "a.yml").symlink_to(work / "b.yml")
    (work / "b.yml").symlink_to(work / "a.yml")
    return ["provision", "-i", str(work / "a.yml")], str(work / "a.yml")


def _with_valid(argv: Callable[[Path, Path], list[str]], named: Callable[[Path], Path]) -> Callable[
        [Path], tuple[list[str], str]]:
    def build(work: Path) -> tuple[list[str], str]:
        valid = work / "hosts.yml"
        valid.write_text(VALID)
        (work / "plain-file").write_text("x")
        return argv(work, valid), str(named(work))
    return build


def _script(work: Path) -> tuple[list[str], str]:
    script = work / "inventory.sh"
    script.write_text(f"#!/bin/sh\ntouch {work / 'owned'}\necho '{{}}'\n")
    script.chmod(0o755)
    return ["provision", "-i", str(script)], str(script)


def _ini_dir(work: Path) -> tuple[list[str], str]:
    """A directory inventory whose group_vars/ file holds a lookup."""
    inv = work / "inv"
    (inv / "group_vars").mkdir(parents=True)
    (inv / "hosts.ini").write_text("[openshell_servers]\nserver1 ansible_host=127.0.0.1 ansible_port=9\n")
    bad = inv / "group_vars" / "all.yml"
    bad.write_text("k3s_token: \"{{ lookup('file', '/etc/shadow') }}\"\n")
    return ["provision", "-i", str(inv)], str(bad)


def _bomb_in_dir(work: Path) -> tuple[list[str], str]:
    """A directory inventory whose suffix-less file is a YAML alias bomb."""
    inv = work / "inv"
    inv.mkdir()
    bomb = inv / "hosts"
    bomb.write_text("".join(CORPUS.joinpath("inventory", "alias-bomb.yml").read_text().splitlines(True)[1:]))
    return ["provision", "-i", str(inv)], str(bomb)


def _big(work: Path) -> tuple[list[str], str]:
    path = work / "big.yml"
    lines = [VALID] + [f"        node{i:06d}:\n" for i in range(150_000)] + ["    stray:\n      hosts:\n        orphan:\n"]
    path.write_text("".join(lines))  # 150,000 servers and one host in no role group
    return ["provision", "-i", str(path)], str(path)


GENERATED = [
    Case("generated/dev-zero", "not a regular file", lambda w: (["provision", "-i", "/dev/zero"], "/dev/zero")),
    Case("generated/fifo", "not a regular file", _fifo),
    Case("generated/binary-inventory", "binary", _binary("hosts.yml", lambda p: ["provision", "-i", str(p)])),
    Case("generated/binary-sandbox", "binary", _binary("boxes.yml",
                                                       lambda p: ["sandbox", "render", "--from-file", str(p)])),
    Case("generated/binary-nodes-json", "binary", _binary("nodes.json",
                                                          lambda p: ["sandbox", "ready", "--nodes-json", str(p)])),
    Case("generated/symlink-loop", "symlink loop", _loop),
    Case("generated/missing-vars-file", "-e @FILE", _with_valid(
        lambda w, v: ["provision", "-i", str(v), "-e", f"@{w / 'nope.yml'}"], lambda w: w / "nope.yml")),
    Case("generated/render-outdir-is-a-file", "is not a directory", _with_valid(
        lambda w, v: ["render", "-i", str(v), "-o", str(w / "plain-file")], lambda w: w / "plain-file")),
    Case("generated/artifacts-dir-is-a-file", "is not a directory", _with_valid(
        lambda w, v: ["provision", "-i", str(v), "--artifacts-dir", str(w / "plain-file")],
        lambda w: w / "plain-file")),
    Case("generated/doctor-output-is-a-file", "is not a directory", _with_valid(
        lambda w, v: ["doctor", "-i", str(v), "-o", str(w / "plain-file")], lambda w: w / "plain-file")),
    Case("generated/150k-hosts", "more than", _big),
    Case("generated/inventory-script", "inventory script", _script),
    Case("generated/inventory-dir-alias-bomb", "aliases", _bomb_in_dir),
    Case("generated/inventory-dir-group-vars-lookup", "call of `lookup(...)`", _ini_dir),
]


def cases() -> list[Case]:
    files = sorted([*CORPUS.glob("*/*.yml"), *CORPUS.glob("inventory_ini/*.ini")])
    return [_file_case(p) for p in files] + GENERATED


@contextmanager
def _no_host_reachable() -> Iterator[None]:
    saved = os.environ.get("ANSIBLE_SSH_EXECUTABLE")
    os.environ["ANSIBLE_SSH_EXECUTABLE"] = "/bin/false"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("ANSIBLE_SSH_EXECUTABLE", None)
        else:
            os.environ["ANSIBLE_SSH_EXECUTABLE"] = saved


def check(case: Case) -> str | None:
    """None when the input was rejected cleanly, else why not (one line)."""
    from click.testing import CliRunner

    from openshell_auto.cli import main

    with tempfile.TemporaryDirectory(prefix="openshell-corpus-") as tmp, _no_host_reachable():
        work = Path(tmp)
        argv, named = case.build(work)
        runs = work / "runs"
        if argv[0] in ("provision", "doctor") and "--artifacts-dir" not in argv:
            argv += ["--artifacts-dir", str(runs)]
        result = CliRunner().invoke(main, argv)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            return f"{case.name}: crashed with {type(result.exception).__name__}: {result.exception}"[:MAX_LINE]
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        if result.exit_code != 2:
            return f"{case.name}: exit {result.exit_code}, not 2: {' | '.join(lines)[:300]}"
        if runs.exists():
            return f"{case.name}: a run directory was created (something ran)"
        if not lines or any(not line.startswith("error: ") or len(line) > MAX_LINE for line in lines):
            return f"{case.name}: not one `error: ` line per problem within {MAX_LINE} chars: {result.stderr[:300]!r}"
        if not any(case.expect in line for line in lines):
            return f"{case.name}: no line says `{case.expect}`: {' | '.join(lines)[:300]}"
        if not any(named in line or Path(named).name in line for line in lines):
            return f"{case.name}: no line names the file {named}: {' | '.join(lines)[:300]}"
    return None


def main() -> int:
    all_cases = cases()
    failures = [problem for case in all_cases if (problem := check(case))]
    for problem in failures:
        print(problem)
    print(f"{len(all_cases) - len(failures)} of {len(all_cases)} rejected cleanly")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    raise SystemExit(main())
