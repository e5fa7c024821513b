"""Which host is the first server is one decision (plugins/module_utils/first_server.py): the CLI
(inventory classification, as `render --json` shows it) and role openshell (the real
playbooks/classify.yml, through filter openshell_first_server) agree on it for the same
inventories, a templated openshell_first_server included, and refuse the same hostile values with
the same words. ssh is /bin/false and every host 127.0.0.1 on a closed port: nothing is contacted."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ansible_collections.openshell_auto.cluster.plugins.module_utils.first_server import first_server
from openshell_auto.inventory import load_inventory

from helpers import REPO

Run = subprocess.CompletedProcess[str]
NO_SSH = {"ANSIBLE_SSH_EXECUTABLE": "/bin/false"}
SHOW_FIRST = f"""
- name: Classify
  ansible.builtin.import_playbook: {REPO / "playbooks" / "classify.yml"}

- name: Show the first server
  hosts: all
  gather_facts: false
  tasks:
    - name: Show the first server
      ansible.builtin.debug:
        msg: "FIRST={{{{ groups.get('openshell_role_first_server', []) | to_json }}}}"
      run_once: true
"""


def inventory(first: str | None, extra: str = "") -> str:
    value = "" if first is None else f"    openshell_first_server: {json.dumps(first)}\n"
    return ("all:\n  vars:\n    ansible_connection: ssh\n    ansible_host: 127.0.0.1\n    ansible_port: 9\n"
            f"{value}  children:\n    openshell_servers:\n      hosts:\n        s1:\n        s2:\n"
            f"    openshell_agents:\n      hosts:\n        a1:\n{extra}")


CASES = {
    "unset": (None, "", "s1"),
    "plain": ("s2", "", "s2"),
    "empty": ("", "", "s1"),
    "second of the group": ("{{ groups['openshell_servers'][1] }}", "", "s2"),
    "through the group variable": ("{{ groups[openshell_server_group] | last }}", "", "s2"),
    "through hostvars": ("{{ hostvars['a1']['pick'] }}", "          pick: s2\n", "s2"),
    "filtered": ("{{ 'S2' | lower }}", "", "s2"),
    "templated to an agent": ("{{ groups['openshell_agents'][0] }}", "", None),
    "templated to an ssh option": ("{{ 's1 -oProxyCommand=touch OWNED' }}", "", None),
    "templated to nothing known": ("{{ groups['openshell_servers'][0] ~ '.evil' }}", "", None),
}


def _cli(tmp_path: Path, path: Path) -> Run:
    return subprocess.run([sys.executable, "-m", "openshell_auto", "render", "-i", str(path), "-o",
                           str(tmp_path / "render"), "--json"], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)


@pytest.mark.parametrize("case", list(CASES))
def test_the_cli_and_classify_yml_choose_the_same_first_server(run_play: Callable[..., Run], tmp_path: Path,
                                                                case: str) -> None:
    first, extra, expected = CASES[case]
    text = inventory(first, extra)
    role = run_play(text, SHOW_FIRST, env=NO_SSH)
    cli = _cli(tmp_path, tmp_path / "hosts.yml")
    assert not (tmp_path / "OWNED").exists()
    if expected is not None:
        assert role.returncode == 0, role.stdout + role.stderr
        chosen = json.loads(re.search(r"FIRST=(\[.*?\])", role.stdout).group(1).replace('\\"', '"'))  # type: ignore[union-attr]
        assert chosen == [load_inventory(tmp_path / "hosts.yml").first_server] == [expected]
        assert cli.returncode == 0, cli.stdout + cli.stderr
        assert [h["host"] for h in json.loads(cli.stdout)["hosts"] if "first" in h["roles"]] == chosen
        return
    # Refused by both, before anything else, naming the field with the one rule's words.
    resolved = {"templated to an agent": "a1", "templated to an ssh option": "s1 -oProxyCommand=touch OWNED",
                "templated to nothing known": "s1.evil"}[case]
    _, problem = first_server(resolved, ["s1", "s2"], ["a1"])
    assert problem
    assert role.returncode == 2, role.stdout + role.stderr
    assert f"field openshell_first_server: {problem}" in role.stdout, role.stdout
    assert cli.returncode == 2, cli.stdout + cli.stderr
    assert f"field openshell_first_server: {problem}" in cli.stderr, cli.stderr
