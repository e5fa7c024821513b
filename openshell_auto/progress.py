"""Live progress while a playbook runs, and the summary afterwards.

`LiveProgress` (rich, for a terminal): spinner, current play and task, per-host state.
`PlainProgress` (pipes, CI logs): one line per play, task and host result.
Both are `runner.Display`s: the play and task they show are the run's `position`, which
runner.EventCollector moves on before it hands them an event.
`StreamProgress` (-v, --diff): Ansible's own output as ansible-playbook prints it (diffs,
verbose lines, warnings), on the console as the run goes.
`print_summary` prints the per-host table, per failed/unreachable host the failing task, and the
warnings of the run (Ansible's, the modules' and the roles' own).
"""

from __future__ import annotations

import time
from typing import IO, Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from openshell_auto import tables
from openshell_auto.runner import STAT_KEYS, Display, RunResult, failure_message

_STATE_STYLE = {"ok": "green", "changed": "yellow", "failed": "bold red", "unreachable": "bold red",
                "skipped": "cyan", "running": "white"}
_RESULT_EVENTS = {"runner_on_ok": "ok", "runner_on_failed": "failed", "runner_on_unreachable": "unreachable",
                  "runner_on_skipped": "skipped"}


def _result_state(event: dict[str, Any]) -> tuple[str, str, str] | None:
    """(host, state, message) of a host result event, else None."""
    kind = event.get("event", "")
    if kind not in _RESULT_EVENTS:
        return None
    data = event.get("event_data") or {}
    host = str(data.get("host", ""))
    state = _RESULT_EVENTS[kind]
    res = data.get("res") or {}
    message = ""
    if state == "ok" and res.get("changed"):
        state = "changed"
    if state == "failed" and data.get("ignore_errors"):
        state = "ok"
    if state in ("failed", "unreachable"):
        message = failure_message(res)
    return host, state, message


class PlainProgress(Display):
    """Line-oriented progress for non-terminals."""

    def __init__(self, stream: IO[str]) -> None:
        super().__init__()
        self.stream = stream

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("event", "")
        line = ""
        if kind == "playbook_on_play_start":
            line = f"PLAY {self.position.play}"
        elif kind == "playbook_on_task_start":
            line = f"  TASK {self.position.task}"
        else:
            result = _result_state(event)
            if result is not None:
                host, state, message = result
                line = f"    {state}: {host}" + (f": {message}" if message else "")
        if line:
            print(line, file=self.stream, flush=True)

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class StreamProgress(Display):
    """Ansible's own output, event by event (each runner event carries the text ansible-playbook
    printed for it): what -v and --diff ask to see."""

    def __init__(self, stream: IO[str]) -> None:
        super().__init__()
        self.stream = stream

    def __call__(self, event: dict[str, Any]) -> None:
        text = event.get("stdout")
        if isinstance(text, str) and text:
            print(text, file=self.stream, flush=True)

    def __enter__(self) -> StreamProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class LiveProgress(Display):
    """A rich live panel: spinner + play/task + the latest state of each host."""

    MAX_HOSTS = 20

    def __init__(self, console: Console, playbook: str) -> None:
        super().__init__()
        self.console = console
        self.playbook = playbook
        self.states: dict[str, str] = {}
        self.counts: dict[str, dict[str, int]] = {}
        self.started = time.monotonic()
        self.spinner = Spinner("dots")
        self.live = Live(self, console=console, refresh_per_second=8, transient=True)

    def __rich__(self) -> RenderableType:
        elapsed = int(time.monotonic() - self.started)
        head = Table.grid(padding=(0, 1))
        head.add_row(self.spinner, Text(f"{self.playbook}  {elapsed}s", style="bold"))
        head.add_row("", Text(f"play: {self.position.play or '-'}"))
        head.add_row("", Text(f"task: {self.position.task or '-'}"))
        hosts = Table(box=None, padding=(0, 1), show_header=True, header_style="dim")
        hosts.add_column("host")
        hosts.add_column("state")
        hosts.add_column("ok/changed/failed", justify="right")
        shown = list(self.states)[: self.MAX_HOSTS]
        for host in shown:
            state = self.states[host]
            c = self.counts.get(host, {})
            hosts.add_row(host, Text(state, style=_STATE_STYLE.get(state, "")),
                          f"{c.get('ok', 0)}/{c.get('changed', 0)}/{c.get('failed', 0)}")
        parts: list[RenderableType] = [head, hosts]
        if len(self.states) > len(shown):
            parts.append(Text(f"... and {len(self.states) - len(shown)} more hosts", style="dim"))
        return Group(*parts)

    def __call__(self, event: dict[str, Any]) -> None:
        if event.get("event") == "playbook_on_task_start":
            for host in self.states:
                if self.states[host] not in ("failed", "unreachable"):
                    self.states[host] = "running"
        else:
            result = _result_state(event)
            if result is not None:
                host, state, _ = result
                self.states[host] = state
                counts = self.counts.setdefault(host, {})
                counts[state] = counts.get(state, 0) + 1
                if state == "changed":  # Ansible counts a changed result as ok too
                    counts["ok"] = counts.get("ok", 0) + 1

    def __enter__(self) -> LiveProgress:
        self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.stop()


def make_progress(console: Console, playbook: str, quiet: bool,
                  stream: bool = False) -> PlainProgress | LiveProgress | StreamProgress | None:
    """Ansible's own output for -v/--diff (`stream`; on stderr with --json), else a live panel on
    a terminal, plain lines otherwise, nothing for --json."""
    if stream:
        return StreamProgress(console.file)
    if quiet:
        return None
    if console.is_terminal:
        from pathlib import Path

        return LiveProgress(console, Path(playbook).name)
    return PlainProgress(console.file)


def print_summary(result: RunResult, console: Console) -> None:
    """Per-host table, failing task per failed/unreachable host, where the artifacts are."""
    if result.hosts:
        rows: list[list[str | Text]] = [[Text(host, style="bold red" if stats["failed"] or stats["unreachable"] else ""),
                 *(str(stats[key]) for key in STAT_KEYS[:5])] for host, stats in result.hosts.items()]
        tables.show(console, f"{result.playbook}: {result.status} in {result.duration_s:.1f}s",
                    ["host", *STAT_KEYS[:5]], rows, right=STAT_KEYS[:5])
    for failure in result.failures:
        kind = "UNREACHABLE" if failure.unreachable else "FAILED"
        console.print(Text(f"{kind} {failure.host}: task '{failure.task}' (play '{failure.play}'): "
                           f"{failure.message}", style="red"), soft_wrap=True)
    if result.message:
        console.print(Text(result.message, style="red" if result.exit_code else ""), soft_wrap=True)
    for note in result.notes:
        console.print(Text(f"NOTE: {note}"), soft_wrap=True)
    for warning in result.warnings:
        console.print(Text(f"WARNING: {warning.removeprefix('WARNING:').strip()}", style="yellow"), soft_wrap=True)
    console.print(Text(f"artifacts: {result.artifacts_dir}"), soft_wrap=True)
