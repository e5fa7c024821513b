"""roles/k3s/tasks/token.yml: the join token is generated once on the first server, kept there, and
every other node gets the first server's: from this play when the first server is in it, else read
from the first server. k3s_token wins when set. Runs the task file with ansible-playbook on
localhost (two inventory hosts, both the local machine, sharing one k3s_config_dir as a server and
an agent would share /etc/rancher/k3s)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from helpers import ROLE_TEST_ENV

Run = subprocess.CompletedProcess[str]

PLAYBOOK = """
- hosts: {hosts}
  gather_facts: false
  tasks:
    - name: Settle the join token
      ansible.builtin.include_role:
        name: k3s
        tasks_from: token.yml
    - name: Keep what was settled (the test reads it)
      ansible.builtin.copy:
        content: "{{{{ __k3s_cluster_token }}}}"
        dest: "{out}/{{{{ inventory_hostname }}}}"
        mode: "0600"
"""


@pytest.fixture
def run_token(run_play: Callable[..., Run], tmp_path: Path) -> Callable[..., Run]:
    """token.yml on `hosts`; keyword arguments are host variables of both hosts."""

    def run(hosts: str = "all", **extra: str) -> Run:
        config, out = tmp_path / "k3s", tmp_path / "out"
        config.mkdir(exist_ok=True)
        out.mkdir(exist_ok=True)
        common = (f"ansible_connection: local, ansible_python_interpreter: {sys.executable}, "
                  f"k3s_config_dir: {config}, openshell_first_server: srv"
                  + "".join(f", {k}: {v}" for k, v in extra.items()))
        inventory = ("all:\n  children:\n"
                     f"    openshell_servers:\n      hosts:\n        srv: {{ansible_host: 127.0.0.1, {common}}}\n"
                     f"    openshell_agents:\n      hosts:\n        agt: {{ansible_host: 127.0.0.2, {common}}}\n")
        return run_play(inventory, PLAYBOOK.format(hosts=hosts, out=out), timeout=300, env=ROLE_TEST_ENV)

    return run


def _settled(tmp_path: Path, host: str) -> str:
    return (tmp_path / "out" / host).read_text()


def test_fresh_cluster_in_one_play_generates_one_token_for_all(run_token: Callable[..., Run], tmp_path: Path) -> None:
    run = run_token()
    assert run.returncode == 0, run.stdout + run.stderr
    token = _settled(tmp_path, "srv")
    assert len(token) == 48 and token.isalnum()
    assert _settled(tmp_path, "agt") == token
    assert token not in run.stdout + run.stderr


def test_the_stored_token_is_kept_and_an_agent_alone_reads_it_from_the_first_server(run_token: Callable[..., Run], tmp_path: Path) -> None:
    (tmp_path / "k3s").mkdir()
    (tmp_path / "k3s" / "token").write_text("stored0token\n")
    run = run_token()
    assert run.returncode == 0, run.stdout + run.stderr
    assert _settled(tmp_path, "srv") == _settled(tmp_path, "agt") == "stored0token"
    alone = run_token(hosts="agt")
    assert alone.returncode == 0, alone.stdout + alone.stderr
    assert _settled(tmp_path, "agt") == "stored0token"
    assert "stored0token" not in run.stdout + run.stderr + alone.stdout + alone.stderr


def test_an_agent_alone_fails_when_the_first_server_has_no_token(run_token: Callable[..., Run], tmp_path: Path) -> None:
    run = run_token(hosts="agt")
    assert run.returncode != 0
    assert not (tmp_path / "out" / "agt").exists()


def test_k3s_token_wins(run_token: Callable[..., Run], tmp_path: Path) -> None:
    (tmp_path / "k3s").mkdir()
    (tmp_path / "k3s" / "token").write_text("stored0token\n")
    run = run_token(k3s_token="vault0token")
    assert run.returncode == 0, run.stdout + run.stderr
    assert _settled(tmp_path, "srv") == _settled(tmp_path, "agt") == "vault0token"
