"""roles/k3s/tasks/config.yml's nvidia-container-runtime step (tasks/nvidia_runtime.yml), run on
localhost against files under tmp_path, deciding from what the role's probe (tasks/firewall.yml)
read: a GPU host records the runtime's sha256 per path in k3s_nvidia_runtime_paths and restarts k3s
when it changes or when k3s's containerd config has no `nvidia` handler while a runtime exists; a
second run changes nothing; a host that is not a GPU host skips both steps."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import yaml

from helpers import REPO, ROLE_TEST_ENV, recap

Run = subprocess.CompletedProcess[str]

PLAYBOOK = """
- hosts: all
  gather_facts: false
  vars_files: [{shared}, {defaults}, {role_vars}]
  handlers:
    # Stand in for the role's handlers (which would restart this machine's k3s): count restarts.
    - name: Count a restart
      ansible.builtin.shell: echo restart >> {restarts}
      listen: [restart k3s, k3s unit changed]
      changed_when: true
  tasks:
    - name: The role's probe (what the runtime step decides from)
      ansible.builtin.import_tasks: {probe}

    - name: Write the k3s configuration and unit
      ansible.builtin.import_tasks: {tasks}
"""

# k3s's containerd config with and without the `nvidia` runtime handler (k3s-io/k3s
# pkg/agent/templates/templates_linux.go writes `[plugins."io.containerd.grpc.v1.cri".containerd.runtimes."nvidia"]`).
WITH_HANDLER = '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes."nvidia"]\n  runtime_type = "io.containerd.runc.v2"\n'
WITHOUT_HANDLER = '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]\n  runtime_type = "io.containerd.runc.v2"\n'


def converge(run_play: Callable[..., Run], tmp_path: Path, gpu: bool, *flags: str) -> Run:
    role = REPO / "roles" / "k3s"
    playbook = PLAYBOOK.format(shared=REPO / "roles/openshell/defaults/main.yml", defaults=role / "defaults/main.yml", role_vars=role / "vars/main.yml",
                               restarts=tmp_path / "restarts", tasks=role / "tasks/config.yml",
                               probe=role / "tasks/firewall.yml")
    groups = {"openshell_role_server": {"hosts": {"localhost": {
        "ansible_connection": "local", "ansible_host": "127.0.0.1", "ansible_python_interpreter": sys.executable}}}}
    if gpu:
        groups["openshell_role_gpu"] = {"hosts": {"localhost": {}}}
    inventory = yaml.safe_dump({"all": {"children": groups}})
    if not (tmp_path / "templates").exists():  # the play sits beside the role's templates, as the role finds them
        (tmp_path / "templates").symlink_to(role / "templates")
    runtime = tmp_path / "usr-bin" / "nvidia-container-runtime"
    variables = {
        "openshell_first_server": "localhost", "k3s_api_endpoint": "127.0.0.1",
        "k3s_config_dir": str(tmp_path / "etc"), "k3s_data_dir": str(tmp_path / "data"),
        "__k3s_unit_file": str(tmp_path / "k3s.service"), "__k3s_cluster_token": "test-token",
        "k3s_firewall": "ignore",
        # A regular file, a link to it (exists, no checksum: as ansible.builtin.stat without following
        # links) and a path that does not exist.
        "k3s_nvidia_runtime_paths": [str(runtime), str(tmp_path / "link" / "nvidia-container-runtime"),
                                     str(tmp_path / "nowhere" / "nvidia-container-runtime")]}
    return run_play(inventory, playbook, *flags, extra_vars=variables, env=ROLE_TEST_ENV, timeout=300)


def restarts(tmp_path: Path) -> int:
    path = tmp_path / "restarts"
    return len(path.read_text().splitlines()) if path.exists() else 0


def setup_host(tmp_path: Path, containerd_config: str | None) -> Path:
    runtime = tmp_path / "usr-bin" / "nvidia-container-runtime"
    runtime.parent.mkdir()
    runtime.write_text("#!/bin/sh\necho runtime 1\n")
    (tmp_path / "link").mkdir()
    (tmp_path / "link" / "nvidia-container-runtime").symlink_to(runtime)
    (tmp_path / "etc").mkdir()
    if containerd_config is not None:
        config = tmp_path / "data" / "agent" / "etc" / "containerd" / "config.toml"
        config.parent.mkdir(parents=True)
        config.write_text(containerd_config)
    return runtime


def test_a_gpu_host_records_the_runtime_and_restarts_k3s_when_it_changes(
        run_play: Callable[..., Run], tmp_path: Path) -> None:
    runtime = setup_host(tmp_path, WITH_HANDLER)
    first = converge(run_play, tmp_path, True)
    assert first.returncode == 0, first.stdout + first.stderr
    marker = tmp_path / "etc" / ".nvidia-container-runtime.sha256"
    link, nowhere = tmp_path / "link" / "nvidia-container-runtime", tmp_path / "nowhere" / "nvidia-container-runtime"
    assert marker.read_text() == (f"{runtime} {hashlib.sha256(runtime.read_bytes()).hexdigest()}\n"
                                  f"{link} absent\n{nowhere} absent\n")
    assert restarts(tmp_path) == 1  # config, unit and marker written: one flush

    again = converge(run_play, tmp_path, True)
    assert again.returncode == 0, again.stdout + again.stderr
    assert recap(again, "localhost")["changed"] == 0 and restarts(tmp_path) == 1

    runtime.write_text("#!/bin/sh\necho runtime 2\n")  # the toolkit was upgraded
    check = converge(run_play, tmp_path, True, "--check")
    assert check.returncode == 0 and restarts(tmp_path) == 1
    upgraded = converge(run_play, tmp_path, True)
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    assert restarts(tmp_path) == 2
    assert hashlib.sha256(runtime.read_bytes()).hexdigest() in marker.read_text()


def test_k3s_without_the_nvidia_handler_is_restarted(run_play: Callable[..., Run], tmp_path: Path) -> None:
    setup_host(tmp_path, WITHOUT_HANDLER)
    assert converge(run_play, tmp_path, True).returncode == 0
    assert restarts(tmp_path) == 1
    again = converge(run_play, tmp_path, True)  # k3s (here: the stand-in) never regenerated its config
    assert again.returncode == 0, again.stdout + again.stderr
    assert "k3s started before the toolkit" in again.stdout and restarts(tmp_path) == 2


def test_a_host_that_is_not_a_gpu_host_skips_both_steps(
        run_play: Callable[..., Run], tmp_path: Path) -> None:
    setup_host(tmp_path, None)
    result = converge(run_play, tmp_path, False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not (tmp_path / "etc" / ".nvidia-container-runtime.sha256").exists()
    for step in ("Record the nvidia-container-runtime k3s was started with",
                 "Restart k3s that runs without the nvidia runtime handler"):
        assert re.search(rf"TASK \[[^]]*{re.escape(step)}\][^\n]*\n(?:[^\n]*\n)*?skipping: \[localhost\]",
                         result.stdout), (step, result.stdout)

