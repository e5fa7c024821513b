"""Ctrl-C stops the whole run: ansible-playbook, its workers (in sessions of their own) and what
they started, including a process that detached from the run (as ssh's ControlPersist master
does). The test cancels a run of tests/playbooks/sleep.yml (a detached `sleep` and a `sleep`
child on the controller) and asserts that no process of the run is left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

from helpers import REPO

SLEEP_PLAYBOOK = REPO / "tests" / "playbooks" / "sleep.yml"


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if marker in cmdline and state != "Z" and int(entry.name) != os.getpid():
                found.append(int(entry.name))
    return found


def test_ctrl_c_leaves_no_process_of_the_run(tmp_path: Path) -> None:
    marker = f"{time.time_ns() % 10**6}.{uuid.uuid4().int % 10**6}"  # a sleep length only this test uses
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(textwrap.dedent(f"""
        all:
          children:
            openshell_servers:
              hosts:
                s1:
                  ansible_connection: local
                  ansible_python_interpreter: {sys.executable}
        """))
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from openshell_auto import runner
        result = runner.run_playbook(Path({str(SLEEP_PLAYBOOK)!r}), {str(inventory)!r},
                                     extra_vars={{"sleep_marker": {marker!r}}}, runs_dir=Path({str(tmp_path / 'runs')!r}))
        print(result.status, result.exit_code)
        sys.exit(result.exit_code)
        """))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, cwd=REPO)
    try:
        deadline = time.monotonic() + 120
        while sum("sleep" in Path(f"/proc/{p}/cmdline").read_text(errors="replace")
                  for p in _processes_with(marker) if Path(f"/proc/{p}").exists()) < 2:
            assert proc.poll() is None and time.monotonic() < deadline, "the sleep task never started"
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        stdout, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 130, (stdout, stderr)
        assert stdout.split() == ["canceled", "130"]
        left = _processes_with(marker) + _processes_with(str(inventory))
        assert left == [], [Path(f"/proc/{p}/cmdline").read_text(errors="replace") for p in left]
    finally:
        for pid in _processes_with(marker) + _processes_with(str(inventory)):  # never leave one behind
            os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
