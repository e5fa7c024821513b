"""Checks on the hosts after `playbooks/site.yml` converged (testinfra, podman:// backend).

default-bookworm: k3s server + GPU host with 1 GPU; default-trixie: GPU agent with 2 GPUs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
from molecule_hosts import cli_inventory, podman_hosts  # noqa: E402

testinfra_hosts = podman_hosts()

GPUS = {"default-bookworm": 1, "default-trixie": 2}
SERVER = "default-bookworm"


def _name(host) -> str:
    return host.backend.get_hostname()


def test_systemd_is_pid1(host) -> None:
    assert host.process.get(pid=1).comm == "systemd"


def test_only_the_base_toolkit_package_at_the_pin(host) -> None:
    pkg = host.package("nvidia-container-toolkit-base")
    assert pkg.is_installed
    assert pkg.version == "1.18.2-1"
    assert "nvidia-container-toolkit-base" in host.check_output("apt-mark showhold")
    for legacy in ("nvidia-container-toolkit", "libnvidia-container-tools", "libnvidia-container1"):
        assert not host.package(legacy).is_installed


def test_apt_source_is_signed(host) -> None:
    sources = host.check_output("cat /etc/apt/sources.list.d/*nvidia* 2>/dev/null || true")
    assert "signed-by=" in sources.replace("Signed-By: ", "signed-by=")
    assert "trusted=yes" not in sources


def test_cdi_spec_has_index_names(host) -> None:
    names = set(host.check_output("nvidia-ctk cdi list").split())
    expected = {f"nvidia.com/gpu={i}" for i in range(GPUS[_name(host)])} | {"nvidia.com/gpu=all"}
    assert expected <= names
    spec = yaml.safe_load(host.file("/var/run/cdi/nvidia.yaml").content_string)
    assert {d["name"] for d in spec["devices"]} == {str(i) for i in range(GPUS[_name(host)])} | {"all"}


def test_k3s_runs_with_the_gpu_label_and_nvidia_handler(host) -> None:
    unit = "k3s" if _name(host) == SERVER else "k3s-agent"
    assert host.service(unit).is_running
    assert host.service(unit).is_enabled
    config = yaml.safe_load(host.file("/etc/rancher/k3s/config.yaml").content_string)
    assert "nvidia.com/gpu.present=true" in config.get("node-label", [])
    containerd = host.file("/var/lib/rancher/k3s/agent/etc/containerd/config.toml").content_string
    assert "nvidia" in containerd


def test_secrets_are_private(host) -> None:
    if _name(host) != SERVER:
        pytest.skip("token and kubeconfig live on the server")
    assert host.file("/etc/rancher/k3s/k3s.yaml").mode == 0o600
    assert host.file("/var/lib/rancher/k3s/server/node-token").mode == 0o600


def test_cluster_reports_every_gpu(host) -> None:
    if _name(host) != SERVER:
        pytest.skip("queried on the server")
    nodes = json.loads(host.check_output("k3s kubectl get nodes -o json"))["items"]
    allocatable = {n["metadata"]["name"]: n["status"].get("allocatable", {}).get("nvidia.com/gpu") for n in nodes}
    assert allocatable == {name: str(count) for name, count in GPUS.items()}


def test_device_plugin_manifest_is_cdi_mode(host) -> None:
    if _name(host) != SERVER:
        pytest.skip("the manifest lives on the first server")
    chart = yaml.safe_load(
        host.file("/var/lib/rancher/k3s/server/manifests/nvidia-device-plugin.yaml").content_string
    )
    values = yaml.safe_load(chart["spec"]["valuesContent"])
    assert values["deviceListStrategy"] == "cdi-cri"
    assert values["deviceIDStrategy"] == "index"
    assert values["cdi"]["nvidiaHookPath"] == "/usr/bin/nvidia-cdi-hook"
    assert values["nvidiaDriverRoot"] == "/"


def _provision(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`openshell-auto provision --json` on the scenario's hosts, artifacts under tmp_path."""
    return subprocess.run(
        [sys.executable, "-m", "openshell_auto", "provision", "-i", str(cli_inventory(tmp_path / "inventory")),
         "--json", "--artifacts-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=900, check=False,
    )


def test_provision_cli_converges_again_with_no_change(tmp_path: Path) -> None:
    """`openshell-auto provision` (ansible-runner wrapper) on the converged hosts: exit 0, the
    per-host JSON summary lists both hosts, nothing failed and nothing changed (idempotent)."""
    run = _provision(tmp_path)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    summary = json.loads(run.stdout)
    assert summary["exit_code"] == 0 and summary["status"] == "successful"
    assert set(summary["hosts"]) == set(GPUS)
    for name, stats in summary["hosts"].items():
        assert stats["failed"] == 0 and stats["unreachable"] == 0, name
        assert stats["changed"] == 0, (name, stats)
    assert summary["failures"] == []
    assert Path(summary["artifacts_dir"]).parent == tmp_path


def _sh(name: str, command: str) -> str:
    done = subprocess.run(["podman", "exec", name, "sh", "-c", command], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, f"{name}: {command}: {done.stdout}{done.stderr}"
    return done.stdout


def test_a_host_that_drifted_is_put_back(tmp_path: Path) -> None:
    """The k3s role skips the steps its one probe shows in place (directories, files to remove,
    the service, the binary's release): what drifted must still be put back. The agent's k3s
    stopped and its images directory of another mode, a registries.yaml nobody asked for on the
    server: one provision repairs each, restarting (and waiting for) only what it must."""
    agent = next(name for name in GPUS if name != SERVER)
    _sh(agent, "systemctl stop k3s-agent && chmod 0700 /var/lib/rancher/k3s/agent/images")
    _sh(SERVER, "printf 'mirrors: {}\\n' > /etc/rancher/k3s/registries.yaml")
    run = _provision(tmp_path)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    summary = json.loads(run.stdout)
    assert all(stats["changed"] > 0 for stats in summary["hosts"].values()), summary["hosts"]
    assert _sh(agent, "systemctl is-active k3s-agent").strip() == "active"
    assert _sh(agent, "stat -c %a /var/lib/rancher/k3s/agent/images").strip() == "755"
    assert "registries.yaml" not in _sh(SERVER, "ls /etc/rancher/k3s")
    nodes = json.loads(_sh(SERVER, "k3s kubectl get nodes -o json"))["items"]
    assert all(any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"]["conditions"])
               for node in nodes), nodes


def test_converge_ran_the_collection_installed_from_the_tarball(tmp_path: Path) -> None:
    """converge.yml imports openshell_auto.cluster.site; prepare.yml installed the built tarball into
    collections/ beside it, the playbook-adjacent directory ansible-playbook searches first (ansible-core
    lib/ansible/utils/collection_loader/_collection_finder.py: playbook paths, then the configured
    paths, then sys.path). That copy holds the tarball's MANIFEST.json (no tests/ or molecule/:
    build_ignore'd), and converge.yml still loads, roles included, with the checkout out of reach
    (empty roles and collections paths, sys.path not scanned): the site it runs is that copy."""
    root = Path(__file__).resolve().parents[3]
    scenario = Path(__file__).resolve().parents[1]
    installed = scenario / "collections" / "ansible_collections" / "openshell_auto" / "cluster"
    manifest = json.loads((installed / "MANIFEST.json").read_text())["collection_info"]
    galaxy = yaml.safe_load((root / "galaxy.yml").read_text())
    assert (manifest["namespace"], manifest["name"], manifest["version"]) == ("openshell_auto", "cluster",
                                                                               galaxy["version"])
    assert not installed.is_symlink() and not (installed / "tests").exists() and not (installed / "molecule").exists()
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(tmp_path), "ANSIBLE_ROLES_PATH": str(tmp_path),
           "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false"}
    run = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "--syntax-check",
                          "-i", str(Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent), str(scenario / "converge.yml")],
                         env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
