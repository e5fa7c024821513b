"""Stop every process a run started: ansible-playbook, its forked workers (which start sessions of
their own, so a signal to ansible-playbook's process group misses them) and what they started.

`stop_descendants` finds the tree through /proc (parent ids, Linux), then asks politely and
gets firmer within a bounded grace period: SIGINT (ansible-playbook stops its workers), then
SIGTERM, then SIGKILL, each to every process and its process group. Processes that detached from
the tree (daemon(3): fork, setsid, the parent exits) would be re-parented to init and lost; while
a run is in progress `adopt_orphans` makes this process their "child subreaper" (Linux prctl
PR_SET_CHILD_SUBREAPER), so they are re-parented here and stay in the tree. That is how ssh's
ControlPersist master detaches (OpenSSH ssh.c `control_persist_detach`: fork, then daemon(1, 1)
in the master), so a cancelled run stops the masters it started; masters that other runs started
are not descendants and are left alone.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import time
from pathlib import Path

PROC = Path("/proc")
PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h


def adopt_orphans(enable: bool = True) -> bool:
    """Become (or stop being) the child subreaper of everything this process starts, so processes
    that detach from the run are re-parented here, not to init. False where the kernel refuses
    (not Linux, or older than 3.4): the run goes on, detached processes are then out of reach."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_CHILD_SUBREAPER, int(enable), 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, process group) of a process, or None when it is gone."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2:].split()  # the command name may hold spaces and parentheses
    return fields[0], int(fields[1]), int(fields[2])


def alive(pid: int) -> bool:
    """Running (a zombie has exited; only its parent's wait is missing)."""
    info = _stat(pid)
    return info is not None and info[0] not in ("Z", "X")


def descendants(root: int) -> set[int]:
    """Every process below root (children, their children, ...), root itself excluded."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            info = _stat(int(entry.name))
            if info is not None:
                children.setdefault(info[1], []).append(int(entry.name))
    found: set[int] = set()
    pending = [root]
    while pending:
        for child in children.get(pending.pop(), []):
            if child not in found:
                found.add(child)
                pending.append(child)
    return found


def _signal_all(pids: set[int], signum: int) -> None:
    own_group = os.getpgrp()
    groups = {info[2] for pid in pids if (info := _stat(pid)) is not None}
    for group in groups - {own_group, 0, 1}:
        with contextlib.suppress(OSError):
            os.killpg(group, signum)
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signum)


def stop_descendants(root: int | None = None, *, grace_int: float = 5.0, grace_term: float = 3.0,
                     poll: float = 0.1) -> set[int]:
    """Stop every descendant of root (default: this process) within grace_int + grace_term
    seconds plus a last SIGKILL. Returns the pids that were found running."""
    root = os.getpid() if root is None else root
    seen: set[int] = set()
    for signum, grace in ((signal.SIGINT, grace_int), (signal.SIGTERM, grace_term), (signal.SIGKILL, 1.0)):
        running = {p for p in descendants(root) | seen if alive(p)}
        seen |= running
        if not running:
            break
        _signal_all(running, signum)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            # processes started meanwhile belong to the run too
            seen |= {p for p in descendants(root) if alive(p)}
            if not any(alive(p) for p in seen):
                return seen
            time.sleep(poll)
    return seen
