"""roles/k3s/tasks/containerd_config_read.yml: the role reads k3s's containerd config only once k3s
has written it for its current start (agents write it seconds after systemd reports them started).
Runs the task file with ansible-playbook on localhost against a temp data dir; the test plays k3s,
writing config.toml once the role has said RETRYING."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path


REPO = Path(__file__).resolve().parent.parent
PLUGIN = REPO / "plugins" / "filter" / "k3s_containerd.py"
Run = subprocess.CompletedProcess[str]

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Wait for and read config.toml
      ansible.builtin.include_role:
        name: k3s
        tasks_from: containerd_config_read.yml
    - name: Print what was read
      ansible.builtin.debug:
        msg: "READ {{ (__k3s_ctd_config.content | b64decode).splitlines() | last }}"
"""

BASE = 'version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n  stream_server_address = "127.0.0.1"\n# start {n}\n'


def _plugin():  # type: ignore[no-untyped-def]
    loader = importlib.machinery.SourceFileLoader("k3s_containerd_rendered_filters", str(PLUGIN))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def _run(run_play: Callable[..., Run], tmp_path: Path, retries: int = 10,
         on_first_retry: Callable[[], None] | None = None) -> Run:
    """Runs the play; on_first_retry (k3s writing its config) runs once the role has looked, found
    nothing usable and said RETRYING, however loaded the machine is."""
    inventory = (
        "all:\n  children:\n    openshell_servers:\n      hosts:\n        localhost: {}\n"
        "  hosts:\n    localhost:\n      ansible_connection: local\n"
        f"      ansible_python_interpreter: {sys.executable}\n"
        f"      k3s_data_dir: {tmp_path / 'data'}\n      k3s_ready_retries: {retries}\n      k3s_ready_delay: 1\n")
    pending = [on_first_retry] if on_first_retry is not None else []

    def on_line(line: str) -> None:
        if pending and "RETRYING" in line:
            pending.pop()()

    return run_play(inventory, PLAYBOOK, timeout=180, on_line=on_line)


def _ctd(tmp_path: Path) -> Path:
    ctd = tmp_path / "data" / "agent" / "etc" / "containerd"
    ctd.mkdir(parents=True)
    return ctd


def test_waits_for_a_config_k3s_has_not_written_yet(run_play: Callable[..., Run], tmp_path: Path) -> None:
    """No template, no config.toml yet: the role waits until k3s writes it."""
    ctd = _ctd(tmp_path)
    run = _run(run_play, tmp_path, on_first_retry=lambda: (ctd / "config.toml").write_text(BASE.format(n=2)))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "RETRYING" in run.stdout and "READ # start 2" in run.stdout


def test_waits_until_the_config_comes_from_the_current_template(run_play: Callable[..., Run], tmp_path: Path) -> None:
    """This role's template with fingerprint F on disk, config.toml still rendered from the previous
    one (fingerprint G): the role waits for the rendering with F."""
    plugin = _plugin()
    ctd = _ctd(tmp_path)
    old = plugin.k3s_cdi_template(BASE.format(n=1), "a" * 64, ["/etc/cdi"])
    new = plugin.k3s_cdi_template(BASE.format(n=2), "b" * 64, ["/etc/cdi"])
    (ctd / "config.toml.tmpl").write_text(new)
    (ctd / "config.toml").write_text(old)  # stale: rendered before the restart
    run = _run(run_play, tmp_path, on_first_retry=lambda: (ctd / "config.toml").write_text(new))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "RETRYING" in run.stdout and "READ # start 2" in run.stdout


def test_fails_with_the_journal_hint_when_k3s_never_writes_it(run_play: Callable[..., Run], tmp_path: Path) -> None:
    _ctd(tmp_path)
    run = _run(run_play, tmp_path, retries=2)
    assert run.returncode != 0
    assert "k3s did not write" in run.stdout and "journalctl -u k3s" in run.stdout


def test_a_user_template_is_not_waited_on(run_play: Callable[..., Run], tmp_path: Path) -> None:
    ctd = _ctd(tmp_path)
    (ctd / "config.toml.tmpl").write_text('{{ template "base" . }}\n# mine\n')
    (ctd / "config.toml").write_text(BASE.format(n=7))
    run = _run(run_play, tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "RETRYING" not in run.stdout and "READ # start 7" in run.stdout
