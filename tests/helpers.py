"""What test modules share: the repository's paths, the venv's ansible-playbook and the environment
the roles run in. Fixtures live in conftest.py; test modules import these names from here."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
INVENTORIES = Path(__file__).resolve().parent / "inventories"
TEST_PLAYBOOK = Path(__file__).resolve().parent / "playbooks" / "local-ok.yml"
# The venv's ansible-playbook (beside this interpreter), else the one on PATH.
ANSIBLE_PLAYBOOK = shutil.which("ansible-playbook", path=str(Path(sys.executable).parent)) or "ansible-playbook"


def ansible_env(**extra: str) -> dict[str, str]:
    """Environment for tests that run the repository's roles with ansible-playbook."""
    return {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1", **extra}


# The venv's bin first on PATH: plays that run the CLI's tools or this interpreter by name find them.
VENV_PATH = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}

# Run the roles as the repo's, without become, one line per result (messages are not wrapped).
ROLE_TEST_ENV = {"ANSIBLE_ROLES_PATH": str(REPO / "roles"), "ANSIBLE_BECOME": "false",
                 "ANSIBLE_CALLBACK_RESULT_FORMAT": "json"}


def recap(result: subprocess.CompletedProcess[str], host: str) -> dict[str, int]:
    """One host's PLAY RECAP counters (ok, changed, failed, ...)."""
    match = re.search(rf"^{re.escape(host)}\s*:\s*(.*)$", result.stdout, re.MULTILINE)
    assert match, result.stdout + result.stderr
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", match.group(1))}


def inventory_line_problems(path: Path, line: str) -> list[str]:
    """The CLI's inventory check on an inventory (written to `path`) of one server whose `all` vars
    hold the YAML `line`: its messages, [] when it passes."""
    from openshell_auto.errors import InputError
    from openshell_auto.inventory import load_inventory

    path.write_text(f"all:\n  vars:\n    {line}\n  children:\n    openshell_servers:\n      hosts:\n        s1:\n",
                    encoding="utf-8")
    try:
        load_inventory(path)
    except InputError as exc:
        return list(exc.messages)
    return []


# The k3s role's settings check on the controller's own host (local connection), as the role runs it
# before anything changes.
K3S_SETTINGS_INVENTORY = f"""
    all:
      children:
        openshell_role_server:
          hosts:
            localhost: {{ansible_connection: local, ansible_python_interpreter: {sys.executable}}}
    """
K3S_SETTINGS_PLAY = """
    - hosts: localhost
      gather_facts: false
      tasks:
        - ansible.builtin.include_role: {name: k3s, tasks_from: settings.yml}
    """
