"""SELinux on k3s hosts: the decision (plugins/module_utils/k3s_selinux.py, filter k3s_selinux_plan) and
the role's decision tasks (roles/k3s/tasks/selinux.yml) run by ansible-playbook on the local
connection with facts that say what a RHEL or Debian host with SELinux reports."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from ansible_collections.openshell_auto.cluster.plugins.module_utils.k3s_selinux import k3s_selinux_plan

from helpers import REPO, ROLE_TEST_ENV

Run = subprocess.CompletedProcess[str]

ENFORCING = {"status": "enabled", "mode": "enforcing", "type": "targeted", "config_mode": "enforcing"}
PERMISSIVE = {"status": "enabled", "mode": "permissive", "type": "targeted", "config_mode": "permissive"}
RHEL9 = {"os_family": "RedHat", "distribution": "RedHat", "distribution_major_version": "9"}
ROCKY8 = {"os_family": "RedHat", "distribution": "Rocky", "distribution_major_version": "8"}
DEBIAN = {"os_family": "Debian", "distribution": "Debian", "distribution_major_version": "12"}


@pytest.mark.parametrize(("facts", "plan"), [
    ({**RHEL9, "selinux": ENFORCING}, {"action": "install", "source": "repo", "el": "el9"}),
    ({**ROCKY8, "selinux": ENFORCING}, {"action": "install", "source": "repo", "el": "el8"}),
    # install.sh installs the policy wherever SELinux exists, whatever its mode.
    ({**RHEL9, "selinux": PERMISSIVE}, {"action": "install", "source": "repo", "el": "el9"}),
    ({"os_family": "RedHat", "distribution": "Fedora", "distribution_major_version": "41", "selinux": ENFORCING},
     {"action": "install", "source": "repo", "el": "el8"}),  # install.sh: VERSION_ID > 36 -> el8
    ({**RHEL9, "selinux": {"status": "disabled"}}, {"action": "none"}),
    ({**DEBIAN, "selinux": {"status": "disabled"}}, {"action": "none"}),
    ({**DEBIAN, "selinux": PERMISSIVE}, {"action": "none"}),
    ({**DEBIAN, "selinux": {"status": "Missing selinux Python library"}}, {"action": "none"}),
])
def test_plan(facts: dict[str, Any], plan: dict[str, str]) -> None:
    assert k3s_selinux_plan(facts) == plan


def test_plan_refuses_what_the_policy_cannot_cover(tmp_path: Path) -> None:
    debian = k3s_selinux_plan({**DEBIAN, "selinux": ENFORCING})
    assert debian["action"] == "refuse" and "SELinux is enforcing on this Debian host" in debian["message"]
    assert "set SELinux to permissive" in debian["message"]
    unreadable = k3s_selinux_plan({**RHEL9, "selinux": {"status": "Missing selinux Python library"}})
    assert unreadable["action"] == "refuse" and "python3-libselinux" in unreadable["message"]
    rpm = tmp_path / "k3s-selinux-1.6-1.el9.noarch.rpm"
    rpm.write_bytes(b"rpm")
    key = tmp_path / "public.key"
    no_key = k3s_selinux_plan({**RHEL9, "selinux": ENFORCING}, str(rpm))
    assert no_key["action"] == "refuse" and "needs k3s_selinux_gpg_key_src" in no_key["message"]
    missing = k3s_selinux_plan({**RHEL9, "selinux": ENFORCING}, str(rpm), str(key))
    assert missing == {"action": "refuse", "message": f"k3s_selinux_gpg_key_src {key} is not a file on the "
                       "controller: fix the path (the machine that runs ansible-playbook)"}
    key.write_text("-----BEGIN PGP PUBLIC KEY BLOCK-----\n")
    assert k3s_selinux_plan({**RHEL9, "selinux": ENFORCING}, str(rpm), str(key)) == {
        "action": "install", "source": "rpm", "el": "el9"}


PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Facts of the host under test
      ansible.builtin.set_fact:
        selinux: {selinux}
        os_family: {os_family}
        distribution: {distribution}
        distribution_major_version: "{major}"
        cacheable: true
    - name: The role's SELinux decision (a role variable, public so that the next task sees it)
      ansible.builtin.include_role:
        name: k3s
        tasks_from: selinux.yml
        public: true
    - name: Show it
      ansible.builtin.debug:
        msg: "PLAN={{{{ __k3s_selinux | to_json }}}}"
"""


@pytest.fixture
def run_decision(run_play: Callable[..., Run]) -> Callable[..., Run]:
    """The role's decision tasks on localhost with `facts`; keyword arguments are extra vars."""

    def run(facts: dict[str, Any], **extra: str) -> Run:
        playbook = PLAYBOOK.format(selinux=json.dumps(facts["selinux"]), os_family=facts["os_family"],
                                   distribution=facts["distribution"], major=facts["distribution_major_version"])
        inventory = yaml.safe_dump({"all": {"children": {"openshell_servers": {"hosts": {"localhost": {
            "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}}})
        return run_play(inventory, playbook, timeout=240, env=ROLE_TEST_ENV, extra_vars=extra or None)

    return run


def plan_of(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    match = re.search(r'"msg": "PLAN=(.*)"', result.stdout)
    assert match, result.stdout + result.stderr
    return json.loads(match.group(1).replace('\\"', '"'))


def test_role_on_an_enforcing_rhel_host_installs_the_policy(run_decision: Callable[..., Run]) -> None:
    result = run_decision({**RHEL9, "selinux": ENFORCING})
    assert result.returncode == 0, result.stdout + result.stderr
    assert plan_of(result) == {"action": "install", "source": "repo", "el": "el9"}


def test_role_on_an_enforcing_debian_host_refuses_before_any_change(run_decision: Callable[..., Run]) -> None:
    result = run_decision({**DEBIAN, "selinux": ENFORCING})
    assert result.returncode != 0
    assert "localhost: SELinux is enforcing on this Debian host" in result.stdout, result.stdout
    assert "Nothing was changed." in result.stdout
    assert "changed=0" in result.stdout


def test_role_air_gapped_rhel_host_without_the_key_is_refused(run_decision: Callable[..., Run],
                                                             tmp_path: Path) -> None:
    rpm = tmp_path / "k3s-selinux-1.6-1.el9.noarch.rpm"
    rpm.write_bytes(b"rpm")
    result = run_decision({**ROCKY8, "selinux": ENFORCING}, k3s_selinux_rpm_src=str(rpm))
    assert result.returncode != 0
    assert f"localhost: k3s_selinux_rpm_src {rpm} needs k3s_selinux_gpg_key_src" in result.stdout, result.stdout


def test_the_decision_comes_before_anything_is_installed() -> None:
    main = [task.get("ansible.builtin.import_tasks") or task.get("ansible.builtin.include_tasks") for task in
            yaml.safe_load((REPO / "roles" / "k3s" / "tasks" / "steps.yml").read_text())]
    assert main.index("selinux.yml") < main.index("install.yml")
    install = (REPO / "roles" / "k3s" / "tasks" / "install.yml").read_text()
    assert install.index("selinux_policy.yml") < install.index("- name: Install the local k3s binary")
    assert "setype: container_runtime_exec_t" in install
