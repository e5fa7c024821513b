"""containerd CDI decision (k3s_version -> containerd 1.7 or 2.x), the config.toml.tmpl the role
writes, and the k3s test double's containerd config: base template + tmpl, and the `nvidia`
handler only when nvidia-container-runtime is on PATH at start. The double runs on loopback."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from openshell_auto.render import render_inventory
from openshell_auto.rendered_files import RenderedFile

# The venv's ansible-playbook (beside this interpreter), else the one on PATH.
ANSIBLE_PLAYBOOK = shutil.which("ansible-playbook", path=str(Path(sys.executable).parent)) or "ansible-playbook"

REPO = Path(__file__).resolve().parent.parent
DOUBLE = REPO / "tests" / "doubles" / "k3s" / "k3s"
EXAMPLE = REPO / "inventories" / "example" / "hosts.yml"

DECISION_PLAYBOOK = """
- hosts: gpu, cpu
  gather_facts: false
  tasks:
    - name: Load the k3s role's internal vars
      ansible.builtin.include_vars: {file: "%(vars)s"}
    - name: Print the decision per version
      ansible.builtin.debug:
        msg: "DECISION {{ inventory_hostname }} {{ item }} {{ __k3s_cdi_template | bool }}"
      vars:
        k3s_version: "{{ item }}"
        k3s_containerd_cdi_template: auto
      loop: %(versions)s
"""

VERSIONS = {
    "v1.30.9+k3s1": True,
    "v1.31.5+k3s1": True,
    "v1.31.6+k3s1": False,
    "v1.32.1+k3s1": True,
    "v1.32.2+k3s1": False,
    "v1.35.2+k3s1": False,
}


def test_containerd_cdi_template_decision(tmp_path: Path) -> None:
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        "all:\n  vars:\n    ansible_connection: local\n"
        f"    ansible_python_interpreter: {sys.executable}\n"
        "  children:\n    openshell_role_gpu:\n      hosts:\n        gpu: {}\n"
        "    openshell_role_agent:\n      hosts:\n        gpu: {}\n        cpu: {}\n"
    )
    playbook = tmp_path / "decide.yml"
    playbook.write_text(DECISION_PLAYBOOK % {"vars": REPO / "roles" / "k3s" / "vars" / "main.yml",
                                             "versions": json.dumps(list(VERSIONS))})
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    run = subprocess.run([ANSIBLE_PLAYBOOK, "-i", str(inventory), str(playbook)], capture_output=True, text=True,
                         env=env, timeout=120, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    seen = {(host, version): decision == "True"
            for host, version, decision in re.findall(r"DECISION (\S+) (\S+) (True|False)", run.stdout)}
    assert {v: seen[("gpu", v)] for v in VERSIONS} == VERSIONS
    assert not any(seen[("cpu", v)] for v in VERSIONS), "only GPU hosts need CDI in containerd"


def test_config_toml_tmpl_builds_on_the_base_template(tmp_path: Path) -> None:
    entry = RenderedFile("k3s", "config.toml.tmpl.j2", "/var/lib/rancher/k3s/agent/etc/containerd/config.toml.tmpl",
                         "gpu", "containerd 1.7 CDI template")
    result = render_inventory(EXAMPLE, tmp_path / "out", ['{"k3s_version": "v1.31.5+k3s1"}'], registry=[entry])
    text = dict(next(h for h in result.hosts if h.host == "gpu1").files)[entry.dest].read_text()
    assert text.startswith('{{ template "base" . }}\n')
    assert '[plugins."io.containerd.grpc.v1.cri"]\n  enable_cdi = true\n' in text
    assert 'cdi_spec_dirs = ["/etc/cdi", "/var/run/cdi"]' in text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def double_server(tmp_path: Path) -> Iterator[tuple[str, Path, Path]]:
    """The double as a server on loopback, with a fake nvidia-container-runtime on PATH."""
    port = _free_port()
    data = tmp_path / "server-data"
    ctd = data / "agent" / "etc" / "containerd"
    ctd.mkdir(parents=True)
    (ctd / "config.toml.tmpl").write_text('{{ template "base" . }}\n\n# mine\n[plugins."x"]\n  y = 1\n')
    bindir = tmp_path / "bin"
    bindir.mkdir()
    runtime = bindir / "nvidia-container-runtime"
    runtime.write_text("#!/bin/sh\n# placeholder for the test\nexit 0\n")
    runtime.chmod(0o755)
    kubeconfig = tmp_path / "k3s.yaml"
    (tmp_path / "token").write_text("right-token\n")
    config = tmp_path / "config.yaml"
    config.write_text(f"data-dir: {data}\nwrite-kubeconfig: {kubeconfig}\nhttps-listen-port: {port}\n"
                      f"bind-address: 127.0.0.1\nnode-name: srv\ntoken-file: {tmp_path / 'token'}\n")
    env = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}"}
    env.pop("NOTIFY_SOCKET", None)
    proc = subprocess.Popen([sys.executable, str(DOUBLE), "server", "--config", str(config)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for _ in range(100):
            if kubeconfig.exists():
                break
            time.sleep(0.1)
        assert kubeconfig.exists(), "server double did not write its kubeconfig"
        yield f"https://127.0.0.1:{port}", data, kubeconfig
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_double_server_files_and_containerd(double_server: tuple[str, Path, Path], tmp_path: Path) -> None:
    _, data, kubeconfig = double_server
    assert kubeconfig.stat().st_mode & 0o777 == 0o600
    node_token = (data / "server" / "node-token").read_text().strip()
    assert node_token.startswith("K10") and node_token.endswith("::server:right-token")
    toml = (data / "agent" / "etc" / "containerd" / "config.toml").read_text()
    assert toml.startswith("# File generated by k3s")  # base template rendered in place
    assert '.runtimes."nvidia"]' in toml and "nvidia-container-runtime" in toml
    assert toml.rstrip().endswith('[plugins."x"]\n  y = 1')


def test_double_agent_joins_only_with_the_right_token(double_server: tuple[str, Path, Path], tmp_path: Path) -> None:
    url, _, kubeconfig = double_server
    env = {**os.environ, "PATH": "/usr/bin:/bin"}  # no nvidia-container-runtime here
    env.pop("NOTIFY_SOCKET", None)
    wrong = subprocess.run([sys.executable, str(DOUBLE), "agent", "--config", str(tmp_path / "none.yaml"),
                            "--server", url, "--token", "wrong", "--data-dir", str(tmp_path / "a1"),
                            "--node-name", "intruder"], capture_output=True, text=True, env=env, timeout=60,
                           check=False)
    assert wrong.returncode == 1
    assert "level=fatal" in wrong.stderr and "401 Unauthorized" in wrong.stderr
    agent = subprocess.Popen([sys.executable, str(DOUBLE), "agent", "--config", str(tmp_path / "none.yaml"),
                              "--server", url, "--token", "right-token", "--data-dir", str(tmp_path / "a2"),
                              "--node-name", "worker", "--node-label", "nvidia.com/gpu.present=true"],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        names: list[str] = []
        for _ in range(50):
            out = subprocess.run([sys.executable, str(DOUBLE), "kubectl", "--kubeconfig", str(kubeconfig), "get",
                                  "nodes", "-o", "json"], capture_output=True, text=True, timeout=30, check=True)
            nodes = json.loads(out.stdout)["items"]
            names = sorted(n["metadata"]["name"] for n in nodes)
            if "worker" in names:
                break
            time.sleep(0.2)
        assert names == ["srv", "worker"]
        worker = next(n for n in nodes if n["metadata"]["name"] == "worker")
        assert worker["metadata"]["labels"]["nvidia.com/gpu.present"] == "true"
        toml = (tmp_path / "a2" / "agent" / "etc" / "containerd" / "config.toml").read_text()
        assert "nvidia" not in toml, "no runtime on PATH at start -> no nvidia handler"
    finally:
        agent.terminate()
        agent.wait(timeout=10)


def _kubectl(kubeconfig: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(DOUBLE), "kubectl", "--kubeconfig", str(kubeconfig), *args],
                          input=stdin, capture_output=True, text=True, timeout=30, check=False)


def test_double_pods_apply_schedule_logs_delete(double_server: tuple[str, Path, Path]) -> None:
    """v1 Pods: created/unchanged/configured like kubectl; a CPU pod runs on the (only) node; a GPU pod
    stays Pending (Unschedulable) because no node has allocatable nvidia.com/gpu; delete/ignore-not-found."""
    _, _, kubeconfig = double_server
    cpu = ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: cpu-box\n  namespace: default\n  labels: {a: '1'}\n"
           "spec:\n  containers:\n  - name: agent\n    image: busybox:1\n    command: [sleep, infinity]\n")
    gpu = cpu.replace("cpu-box", "gpu-box").replace(
        "command: [sleep, infinity]", "command: [nvidia-smi, -L]\n    resources:\n      limits: {nvidia.com/gpu: '1'}")
    for _ in range(50):  # the server's own node registers with its first heartbeat
        if "srv" in _kubectl(kubeconfig, "get", "nodes", "-o", "name").stdout:
            break
        time.sleep(0.1)
    first = _kubectl(kubeconfig, "apply", "-f", "-", stdin=cpu + "---\n" + gpu)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == ["pod/cpu-box created", "pod/gpu-box created"]
    assert _kubectl(kubeconfig, "apply", "-f", "-", stdin=cpu).stdout == "pod/cpu-box unchanged\n"
    assert _kubectl(kubeconfig, "apply", "-f", "-", stdin=cpu.replace("a: '1'", "a: '2'")).stdout == \
        "pod/cpu-box configured\n"
    changed = _kubectl(kubeconfig, "apply", "-f", "-", stdin=cpu.replace("busybox:1", "busybox:2").replace(
        "sleep, infinity", "sleep, '1'"))
    assert changed.returncode == 1 and "Forbidden: pod updates may not change fields" in changed.stderr
    phase = _kubectl(kubeconfig, "get", "pod", "cpu-box", "-n", "default", "-o", "jsonpath={.status.phase}")
    assert (phase.returncode, phase.stdout) == (0, "Running")
    pod = json.loads(_kubectl(kubeconfig, "get", "pod", "gpu-box", "-o", "json").stdout)
    assert pod["status"]["phase"] == "Pending"
    cond = pod["status"]["conditions"][0]
    assert (cond["type"], cond["status"], cond["reason"]) == ("PodScheduled", "False", "Unschedulable")
    assert cond["message"] == "0/1 nodes are available: 1 Insufficient nvidia.com/gpu."
    logs = _kubectl(kubeconfig, "logs", "gpu-box", "-n", "default")
    assert logs.returncode == 1 and "is waiting to start: ContainerCreating" in logs.stderr
    names = {p["metadata"]["name"] for p in json.loads(_kubectl(kubeconfig, "get", "pods", "-A", "-o", "json").stdout)["items"]}
    assert {"cpu-box", "gpu-box"} <= names
    gone = _kubectl(kubeconfig, "delete", "pod", "gpu-box", "-n", "default", "--ignore-not-found", "--wait=true")
    assert (gone.returncode, gone.stdout) == (0, 'pod "gpu-box" deleted\n')
    again = _kubectl(kubeconfig, "delete", "pod", "gpu-box", "-n", "default", "--ignore-not-found")
    assert (again.returncode, again.stdout) == (0, "")
    missing = _kubectl(kubeconfig, "delete", "pod", "gpu-box", "-n", "default")
    assert missing.returncode == 1 and 'pods "gpu-box" not found' in missing.stderr
