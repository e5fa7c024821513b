"""roles/k3s/tasks/cdi_template_drop_stale.yml on localhost: a host that needs no containerd 1.7 CDI
template and holds none of this role's only looks for one (the fingerprint steps are skipped in one
step); a template of this role that is no longer needed is removed (k3s then restarts); the user's
own template is left alone."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from helpers import ROLE_TEST_ENV

Run = subprocess.CompletedProcess[str]

REPO = Path(__file__).resolve().parent.parent

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  vars_files: [{shared}, {defaults}, {role_vars}]
  handlers:
    # Stands in for the role's restart handler (which would restart this machine's k3s): counts restarts.
    - name: Count a restart
      ansible.builtin.shell: echo restart >> {restarts}
      listen: restart k3s
      changed_when: true
  tasks:
    - name: Keep the containerd 1.7 CDI template in step with its inputs
      ansible.builtin.import_tasks: {tasks}
"""

# The first lines of a template this role wrote (plugins/filter/k3s_containerd.py: MARKER, FINGERPRINT).
ROLE_TEMPLATE = "# openshell-auto: k3s role, containerd 1.7 CDI template\n# fingerprint: abc123\nversion = 2\n"


def _run(run_play: Callable[..., Run], tmp_path: Path, template: str | None) -> tuple[Run, Path]:
    role = REPO / "roles" / "k3s"
    data = tmp_path / "data"
    tmpl = data / "agent" / "etc" / "containerd" / "config.toml.tmpl"
    tmpl.parent.mkdir(parents=True)
    if template is not None:
        tmpl.write_text(template)
    playbook = PLAYBOOK.format(
        shared=REPO / "roles" / "openshell" / "defaults/main.yml", defaults=role / "defaults/main.yml", role_vars=role / "vars/main.yml", restarts=tmp_path / "restarts",
        tasks=role / "tasks/cdi_template_drop_stale.yml")
    inventory = ("all:\n  children:\n    openshell_role_server:\n      hosts:\n        localhost:\n"
                 f"          ansible_connection: local\n          ansible_python_interpreter: {sys.executable}\n")
    # Extra vars: the play loads the role's defaults and vars as vars_files, above inventory values.
    run = run_play(inventory, playbook, timeout=300, env=ROLE_TEST_ENV, extra_vars={
        "k3s_data_dir": str(data), "k3s_config_dir": str(tmp_path / "etc"), "openshell_first_server": "localhost",
        "k3s_api_endpoint": "127.0.0.1"})
    return run, tmpl


def _restarts(tmp_path: Path) -> int:
    path = tmp_path / "restarts"
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_no_template_needed_none_held_skips_the_fingerprint_in_one_step(run_play: Callable[..., Run], tmp_path: Path) -> None:
    run, tmpl = _run(run_play, tmp_path, None)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Checksum what k3s renders" not in run.stdout
    assert not tmpl.exists() and _restarts(tmp_path) == 0


def test_a_role_template_no_longer_needed_is_removed_and_k3s_restarts(run_play: Callable[..., Run], tmp_path: Path) -> None:
    run, tmpl = _run(run_play, tmp_path, ROLE_TEMPLATE)
    assert run.returncode == 0, run.stdout + run.stderr
    assert not tmpl.exists() and _restarts(tmp_path) == 1


def test_the_users_template_is_left_alone(run_play: Callable[..., Run], tmp_path: Path) -> None:
    run, tmpl = _run(run_play, tmp_path, "version = 2\n# mine\n")
    assert run.returncode == 0, run.stdout + run.stderr
    assert tmpl.read_text() == "version = 2\n# mine\n" and _restarts(tmp_path) == 0
