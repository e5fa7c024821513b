"""multinode: one k3s server + two GPU agents, k3s = tests/doubles/k3s/k3s (air-gap inputs)."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
from molecule_hosts import podman_hosts  # noqa: E402

testinfra_hosts = podman_hosts()

SERVER = "mn-server"
GPUS = {"mn-gpu1": 2, "mn-gpu2": 1}  # prepare_gpu_count in molecule.yml
CONFIG = "/etc/rancher/k3s/config.yaml"
MANIFEST = "/var/lib/rancher/k3s/server/manifests/nvidia-device-plugin.yaml"
CONTAINERD = "/var/lib/rancher/k3s/agent/etc/containerd/config.toml"


def name_of(host) -> str:
    return host.backend.get_hostname()


def kubectl_json(host, *args: str) -> dict:
    out = host.check_output("k3s kubectl " + " ".join(args) + " -o json")
    return json.loads(out)


def test_services_and_secret_modes(host):
    name = name_of(host)
    unit = "k3s" if name == SERVER else "k3s-agent"
    assert host.service(unit).is_running
    assert host.service(unit).is_enabled
    token = host.file("/etc/rancher/k3s/token")
    assert token.mode == 0o600 and token.user == "root"
    assert host.file(CONFIG).mode == 0o600
    if name == SERVER:
        assert host.file("/etc/rancher/k3s/k3s.yaml").mode == 0o600
        assert host.file("/var/lib/rancher/k3s/server/node-token").mode == 0o600


def test_config_yaml(host):
    name = name_of(host)
    conf = yaml.safe_load(host.file(CONFIG).content_string)
    assert conf["node-name"] == name
    assert conf["token-file"] == "/etc/rancher/k3s/token"
    assert "token" not in conf  # the secret stays in the 0600 token file
    if name == SERVER:
        assert "server" not in conf and conf["write-kubeconfig-mode"] == "0600"
    else:
        server_ip = conf["server"].removeprefix("https://").split(":")[0]
        assert conf["server"] == f"https://{server_ip}:6443"
        assert conf["node-label"] == ["nvidia.com/gpu.present=true"]


def test_cluster_nodes_ready_labelled_with_gpus(host):
    if name_of(host) != SERVER:
        pytest.skip("cluster queries run on the server")
    nodes = {n["metadata"]["name"]: n for n in kubectl_json(host, "get", "nodes")["items"]}
    assert set(nodes) == {SERVER, *GPUS}
    for name, node in nodes.items():
        ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
        assert ready and ready[0]["status"] == "True", name
    for name, count in GPUS.items():
        assert nodes[name]["metadata"]["labels"]["nvidia.com/gpu.present"] == "true"
        assert nodes[name]["status"]["allocatable"]["nvidia.com/gpu"] == str(count)
    assert "nvidia.com/gpu.present" not in nodes[SERVER]["metadata"]["labels"]
    assert "nvidia.com/gpu" not in nodes[SERVER]["status"]["allocatable"]


def test_device_plugin_daemonset_ready(host):
    if name_of(host) != SERVER:
        pytest.skip("cluster queries run on the server")
    ds = kubectl_json(host, "get", "daemonset", "-n", "nvidia-device-plugin")["items"]
    assert len(ds) == 1
    assert ds[0]["status"]["desiredNumberScheduled"] == len(GPUS)
    assert ds[0]["status"]["numberReady"] == len(GPUS)


def test_plugin_wrote_its_own_cdi_spec(host):
    """NVIDIA/k8s-device-plugin v0.19.1 (cdi-cri) writes /var/run/cdi/k8s.device-plugin.nvidia.com-gpu.json
    on each GPU node, one device per GPU (deviceIDStrategy index) plus "all"."""
    spec = host.file("/var/run/cdi/k8s.device-plugin.nvidia.com-gpu.json")
    if name_of(host) not in GPUS:
        assert not spec.exists
        return
    data = json.loads(spec.content_string)
    assert data["kind"] == "k8s.device-plugin.nvidia.com/gpu"
    assert [d["name"] for d in data["devices"]] == [str(i) for i in range(GPUS[name_of(host)])] + ["all"]
    listed = host.check_output("nvidia-ctk cdi list")
    assert f"k8s.device-plugin.nvidia.com/gpu={GPUS[name_of(host)] - 1}" in listed


def test_toolkit_before_k3s_nvidia_handler(host):
    """k3s registers the nvidia runtime only when nvidia-container-runtime existed at start."""
    cfg = host.file(CONTAINERD).content_string
    if name_of(host) in GPUS:
        assert '.runtimes."nvidia"]' in cfg
        assert 'BinaryName = "/usr/bin/nvidia-container-runtime"' in cfg
        assert host.file("/etc/rancher/k3s/.nvidia-container-runtime.sha256").exists
    else:
        assert "nvidia" not in cfg


def test_helmchart_manifest(host):
    if name_of(host) != SERVER:
        assert not host.file(MANIFEST).exists
        return
    f = host.file(MANIFEST)
    assert f.mode == 0o600
    doc = yaml.safe_load(f.content_string)
    assert doc["apiVersion"] == "helm.cattle.io/v1" and doc["kind"] == "HelmChart"
    assert doc["metadata"] == {"name": "nvidia-device-plugin", "namespace": "kube-system"}
    spec = doc["spec"]
    # air gap: the chart archive is served by the API server from static/charts
    assert spec["chart"] == "https://%{KUBERNETES_API}%/static/charts/nvidia-device-plugin-0.19.1.tgz"
    assert host.file("/var/lib/rancher/k3s/server/static/charts/nvidia-device-plugin-0.19.1.tgz").exists
    assert "repo" not in spec
    assert spec["targetNamespace"] == "nvidia-device-plugin" and spec["createNamespace"] is True
    assert yaml.safe_load(spec["valuesContent"]) == {
        "runtimeClassName": "nvidia",
        "deviceListStrategy": "cdi-cri",
        "deviceIDStrategy": "index",
        "cdi": {"nvidiaHookPath": "/usr/bin/nvidia-cdi-hook"},
        "nvidiaDriverRoot": "/",
        "gfd": {"enabled": False},
        "nfd": {"enabled": False},
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
    }
    job = kubectl_json(host, "get", "jobs", "-n", "kube-system")["items"]
    assert [j["status"] for j in job] == [{"succeeded": 1}]


def test_airgap_archives(host):
    assert host.file("/var/lib/rancher/k3s/agent/images/k3s-airgap-images-amd64.tar").exists
    plugin_image = host.file("/var/lib/rancher/k3s/agent/images/k8s-device-plugin-v0.19.1.tar")
    assert plugin_image.exists == (name_of(host) in GPUS)


def test_wrong_token_is_refused(host):
    if name_of(host) not in GPUS:
        pytest.skip("join probe runs from an agent")
    server = yaml.safe_load(host.file(CONFIG).content_string)["server"]
    probe = host.run(
        f"timeout 60 k3s agent --config /tmp/k3s-probe.yaml --server {server} --token not-the-token "
        "--node-name probe --data-dir /tmp/k3s-probe"
    )
    assert probe.rc == 1
    assert "401 Unauthorized" in probe.stderr


def test_probe_node_never_joined(host):
    if name_of(host) != SERVER:
        pytest.skip("cluster queries run on the server")
    names = [n["metadata"]["name"] for n in kubectl_json(host, "get", "nodes")["items"]]
    assert "probe" not in names


def test_fetched_kubeconfig():
    path = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "kubeconfig.yaml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    kc = yaml.safe_load(path.read_text())
    server = kc["clusters"][0]["cluster"]["server"]
    assert server.startswith("https://") and server.endswith(":6443")
    assert "127.0.0.1" not in server
