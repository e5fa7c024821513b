"""ha: two k3s servers (embedded etcd) + a GPU agent on k3s v1.31.5+k3s1, whose containerd 1.7 has
CDI off unless the role's derived config.toml.tmpl turns it on. k3s = tests/doubles/k3s/k3s staged
as v1.31.5+k3s1; the containerd parse check uses Debian 13's real containerd 1.7 binary."""

from __future__ import annotations

import json
import sys
import time
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
from molecule_hosts import podman_hosts  # noqa: E402

testinfra_hosts = podman_hosts()

SERVERS = ("ha-server1", "ha-server2")
GPU = "ha-gpu"
CONFIG = "/etc/rancher/k3s/config.yaml"
CTD = "/var/lib/rancher/k3s/agent/etc/containerd"
REAL_CONTAINERD = "/opt/containerd-1.7/usr/bin/containerd"
MARKER = "# openshell-auto: k3s role, containerd 1.7 CDI template"
CHART = "nvidia-device-plugin-0.19.1.tgz"


def name_of(host) -> str:
    return host.backend.get_hostname()


def test_servers_join_one_cluster(host):
    """Both servers answer for the same three Ready nodes; the second joined the first (etcd)."""
    name = name_of(host)
    if name not in SERVERS:
        return
    nodes = json.loads(host.check_output("k3s kubectl get nodes -o json"))["items"]
    by_name = {n["metadata"]["name"]: n for n in nodes}
    assert sorted(by_name) == ["ha-gpu", "ha-server1", "ha-server2"]
    for n in nodes:
        assert n["status"]["conditions"][0]["status"] == "True", n["metadata"]["name"]
        assert n["status"]["nodeInfo"]["kubeletVersion"] == "v1.31.5+k3s1"
        assert n["status"]["nodeInfo"]["containerRuntimeVersion"].startswith("containerd://1.7.")
    for server in SERVERS:
        labels = by_name[server]["metadata"]["labels"]
        assert labels["node-role.kubernetes.io/etcd"] == "true"
        assert labels["node-role.kubernetes.io/control-plane"] == "true"
    config = host.file(CONFIG).content_string
    if name == "ha-server1":
        assert "cluster-init: true" in config and "\nserver:" not in config
    else:
        assert "cluster-init" not in config and "server: https://" in config


def test_containerd_template_only_on_the_gpu_host(host):
    tmpl = host.file(f"{CTD}/config.toml.tmpl")
    if name_of(host) != GPU:
        assert not tmpl.exists, "non-GPU hosts need no CDI in containerd"
        return
    assert tmpl.exists and tmpl.mode == 0o600 and tmpl.user == "root"
    text = tmpl.content_string
    assert text.splitlines()[0] == MARKER
    assert '{{ template "base"' not in text  # a full template: no second CRI table after the base
    conf = tomllib.loads(host.file(f"{CTD}/config.toml").content_string)
    assert conf["version"] == 2
    cri = conf["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["enable_cdi"] is True
    assert cri["cdi_spec_dirs"] == ["/etc/cdi", "/var/run/cdi"]
    runtimes = cri["containerd"]["runtimes"]
    assert runtimes["nvidia"]["options"]["BinaryName"].endswith("nvidia-container-runtime")
    assert runtimes["runc"]["runtime_type"] == "io.containerd.runc.v2"


def test_real_containerd_17_reads_the_config(host):
    """Debian 13's containerd 1.7 parses the config k3s wrote from the derived template and keeps
    CDI on, the base's runc and nvidia runtimes and its CNI directories."""
    if name_of(host) != GPU:
        return
    assert "containerd 1.7." in host.check_output(f"{REAL_CONTAINERD} --version")
    dump = host.run(f"{REAL_CONTAINERD} --config {CTD}/config.toml config dump")
    assert dump.rc == 0, dump.stderr
    conf = tomllib.loads(dump.stdout)
    cri = conf["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["enable_cdi"] is True
    assert cri["cdi_spec_dirs"] == ["/etc/cdi", "/var/run/cdi"]
    assert cri["stream_server_address"] == "127.0.0.1"
    assert cri["cni"]["conf_dir"] == "/var/lib/rancher/k3s/agent/etc/cni/net.d"
    assert cri["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"] is True
    assert cri["containerd"]["runtimes"]["nvidia"]["options"]["BinaryName"].endswith("nvidia-container-runtime")


def test_real_containerd_17_refuses_a_second_cri_table(host):
    """The reason the role derives a full template: appending the CRI table after the base (what
    `{{ template "base" . }}` plus a second table renders to) is rejected by containerd 1.7."""
    if name_of(host) != GPU:
        return
    host.check_output(f"cp {CTD}/config.toml /tmp/dup.toml && "
                      "printf '\\n[plugins.\"io.containerd.grpc.v1.cri\"]\\n  enable_cdi = true\\n' >> /tmp/dup.toml")
    dup = host.run(f"{REAL_CONTAINERD} --config /tmp/dup.toml config dump")
    assert dup.rc != 0 and "duplicated tables" in dup.stderr


def test_gpu_pod_gets_its_device(host):
    """A GPU pod (nvidia.com/gpu limit, no runtimeClassName) on the containerd 1.7 node gets its
    CDI device: nvidia-smi -L lists one GPU (the double's imitation of CDI injection)."""
    if name_of(host) != "ha-server1":
        return
    pod = ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: ha-smoke\n  namespace: default\nspec:\n"
           "  restartPolicy: Never\n  containers:\n  - name: smoke\n    image: nvcr.io/nvidia/cuda:12.6.3-base-ubuntu24.04\n"
           "    command: [nvidia-smi, -L]\n    resources:\n      limits: {nvidia.com/gpu: '1'}\n")
    host.check_output(f"printf '%s' \"{pod}\" | k3s kubectl apply -f -")
    try:
        phase = ""
        for _ in range(60):
            phase = host.check_output("k3s kubectl get pod ha-smoke -n default -o jsonpath={.status.phase}")
            if phase in ("Succeeded", "Failed"):
                break
            time.sleep(2)
        assert phase == "Succeeded"
        logs = host.check_output("k3s kubectl logs ha-smoke -n default")
        assert logs.startswith("GPU 0: ") and "(UUID: GPU-" in logs
    finally:
        host.run("k3s kubectl delete pod ha-smoke -n default --ignore-not-found")


def test_every_server_serves_the_chart(host):
    """Each server serves its own <data-dir>/server/static (k3s-io/k3s pkg/server/handlers/router.go)
    and the helm-install job reaches any of them through the `kubernetes` Service: the chart is on
    every server, each one's /static/ answers for it, and the job succeeded."""
    name = name_of(host)
    if name not in SERVERS:
        assert not host.file(f"/var/lib/rancher/k3s/server/static/charts/{CHART}").exists
        return
    assert host.file(f"/var/lib/rancher/k3s/server/static/charts/{CHART}").is_file
    code = host.check_output(
        "python3 -c \"import urllib.request as u; print(u.urlopen('http://127.0.0.1:6443/static/charts/"
        f"{CHART}', timeout=5).status)\"")
    assert code == "200"
    if name == "ha-server1":
        job = json.loads(host.check_output(
            "k3s kubectl get jobs -n kube-system -o json"))["items"]
        assert [j["status"] for j in job if j["metadata"]["name"] == "helm-install-nvidia-device-plugin"] == [
            {"succeeded": 1}]


def test_plugin_wrote_its_own_cdi_spec(host):
    """NVIDIA/k8s-device-plugin v0.19.1 in cdi-cri mode writes
    /var/run/cdi/k8s.device-plugin.nvidia.com-gpu.json on its node; GPU pods get those names."""
    spec = host.file("/var/run/cdi/k8s.device-plugin.nvidia.com-gpu.json")
    if name_of(host) != GPU:
        assert not spec.exists
        return
    data = json.loads(spec.content_string)
    assert data["kind"] == "k8s.device-plugin.nvidia.com/gpu"
    assert [d["name"] for d in data["devices"]] == ["0", "all"]
    assert "k8s.device-plugin.nvidia.com/gpu=0" in host.check_output("nvidia-ctk cdi list")
