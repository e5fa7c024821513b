"""The k3s test double (tests/doubles/k3s/k3s) where it imitates upstream for the device plugin:

- each k3s server serves its own <data-dir>/server/static/ (k3s-io/k3s
  pkg/server/handlers/router.go); a HelmChart fetching https://%{KUBERNETES_API}%/static/... goes
  through the `kubernetes` Service to any server, so a chart on one server only fails;
- the plugin's config as NVIDIA/k8s-device-plugin v0.19.1 reads it (replicas < 2 refused, unknown
  MIG strategy refused) and the CDI spec it writes (vendor k8s.device-plugin.nvidia.com).
Two real double servers run on loopback here; both are stopped at the end of the test."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import io
import json
import os
import socket
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
DOUBLE = REPO / "tests" / "doubles" / "k3s" / "k3s"
CHART = "nvidia-device-plugin-0.19.1.tgz"


@pytest.fixture(scope="module")
def double() -> ModuleType:
    loader = importlib.machinery.SourceFileLoader("k3s_double_plugin", str(DOUBLE))
    spec = importlib.util.spec_from_loader("k3s_double_plugin", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _chart_archive() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        data = b"apiVersion: v2\nname: nvidia-device-plugin\nversion: 0.19.1\n"
        info = tarfile.TarInfo("nvidia-device-plugin/Chart.yaml")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _server(tmp: Path, name: str, port: int, join: str = "") -> tuple[subprocess.Popen[str], Path]:
    tmp.mkdir()
    (tmp / "token").write_text("tok\n")
    conf = {"data-dir": str(tmp / "data"), "write-kubeconfig": str(tmp / "k3s.yaml"), "https-listen-port": port,
            "bind-address": "127.0.0.1", "node-ip": "127.0.0.1", "node-name": name,
            "token-file": str(tmp / "token")}
    if join:
        conf["server"] = join
    (tmp / "config.yaml").write_text(yaml.safe_dump(conf))
    env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
    proc = subprocess.Popen([sys.executable, str(DOUBLE), "server", "--config", str(tmp / "config.yaml")], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    return proc, tmp / "data"


def _kubectl(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(DOUBLE), "kubectl", "--kubeconfig", str(kubeconfig), *args],
                          capture_output=True, text=True, timeout=30)


@pytest.fixture
def two_servers(tmp_path: Path) -> Iterator[tuple[Path, Path, Path, int, int]]:
    p1, p2 = _free_port(), _free_port()
    first, d1 = _server(tmp_path / "s1", "s1", p1)
    procs = [first]
    try:
        for _ in range(100):
            if (tmp_path / "s1" / "k3s.yaml").exists():
                break
            time.sleep(0.1)
        second, d2 = _server(tmp_path / "s2", "s2", p2, join=f"https://127.0.0.1:{p1}")
        procs.append(second)
        kubeconfig = tmp_path / "s1" / "k3s.yaml"
        for _ in range(100):  # both servers have posted their node status
            out = _kubectl(kubeconfig, "get", "nodes", "-o", "json")
            if out.returncode == 0 and len(json.loads(out.stdout)["items"]) == 2:
                break
            time.sleep(0.1)
        yield kubeconfig, d1, d2, p1, p2
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)


def _job(kubeconfig: Path) -> dict:
    out = _kubectl(kubeconfig, "get", "jobs", "-n", "kube-system", "-o", "json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["items"][0]


def _get(url: str) -> int:
    import urllib.error
    import urllib.request
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_each_server_serves_its_own_static_dir_and_a_chart_on_one_server_fails(two_servers) -> None:
    kubeconfig, d1, d2, p1, p2 = two_servers
    (d1 / "server" / "static" / "charts").mkdir(parents=True)
    (d1 / "server" / "static" / "charts" / CHART).write_bytes(_chart_archive())
    # anonymous, per server: 200 where the file is, 404 on the other server
    assert _get(f"http://127.0.0.1:{p1}/static/charts/{CHART}") == 200
    assert _get(f"http://127.0.0.1:{p2}/static/charts/{CHART}") == 404
    assert _get(f"http://127.0.0.1:{p1}/static/../token") == 404
    manifest = {"apiVersion": "helm.cattle.io/v1", "kind": "HelmChart",
                "metadata": {"name": "nvidia-device-plugin", "namespace": "kube-system"},
                "spec": {"chart": f"https://%{{KUBERNETES_API}}%/static/charts/{CHART}",
                         "targetNamespace": "nvidia-device-plugin",
                         "valuesContent": "deviceListStrategy: cdi-cri\n"}}
    (d1 / "server" / "manifests" / "nvidia-device-plugin.yaml").write_text(yaml.safe_dump(manifest))
    job = _job(kubeconfig)
    assert job["status"] == {"failed": 1}
    logs = _kubectl(kubeconfig, "logs", "-n", "kube-system", "job/helm-install-nvidia-device-plugin")
    assert "404 Not Found" in logs.stdout and "server s2" in logs.stdout
    # the chart on every server: the retried job succeeds
    (d2 / "server" / "static" / "charts").mkdir(parents=True)
    (d2 / "server" / "static" / "charts" / CHART).write_bytes(_chart_archive())
    assert _job(kubeconfig)["status"] == {"succeeded": 1}


def _values(replicas: int | None = None, mig: str | None = None) -> dict:
    values: dict = {"deviceListStrategy": "cdi-cri", "deviceIDStrategy": "index"}
    if replicas is not None:
        conf = {"version": "v1", "sharing": {"timeSlicing": {"resources": [{"name": "nvidia.com/gpu",
                                                                             "replicas": replicas}]}}}
        values["config"] = {"default": "time-slicing", "map": {"time-slicing": yaml.safe_dump(conf)}}
    if mig is not None:
        values["migStrategy"] = mig
    return values


def test_plugin_config_follows_upstream_rules(double: ModuleType) -> None:
    assert double.plugin_config(_values()) == (1, "none", "")
    assert double.plugin_config(_values(replicas=4)) == (4, "none", "")
    replicas, _, error = double.plugin_config(_values(replicas=1))
    assert "number of replicas must be >= 2" in error
    assert "unknown MIG strategy" in double.plugin_config(_values(mig="all"))[2]
    assert double.plugin_config(_values(mig="mixed"))[1] == "mixed"


def _node(double: ModuleType, ids: list[str]) -> dict:
    return {"labels": {"nvidia.com/gpu.present": "true"}, "nvidia_handler": True, "dev_count": len(ids),
            "cdi": [f"{double.PLUGIN_CDI_KIND}={i}" for i in ids + ["all"]] + ["nvidia.com/gpu=0"]}


def test_plugin_advertises_gpus_times_replicas_and_nothing_on_a_refused_config(double: ModuleType,
                                                                                tmp_path: Path) -> None:
    state = double.State(str(tmp_path), "pw")
    node = _node(double, ["0", "1"])
    assert state.plugin_gpus(node, _values()) == 2
    assert state.plugin_gpus(node, _values(replicas=3)) == 6
    assert state.plugin_units(node, _values(replicas=2)) == ["0::0", "0::1", "1::0", "1::1"]
    assert state.plugin_gpus(node, _values(replicas=1)) is None
    assert state.plugin_pod_ready(node, _values(replicas=1))[1].startswith("CrashLoopBackOff")
    # before the plugin wrote its own spec on the node it has registered nothing
    assert state.plugin_gpus({**node, "cdi": ["nvidia.com/gpu=0", "nvidia.com/gpu=1"]}, _values()) is None


def test_plugin_spec_is_written_from_device_nodes_with_its_own_vendor(double: ModuleType, tmp_path: Path) -> None:
    dev = tmp_path / "dev"
    dev.mkdir()
    assert double.plugin_spec({"deviceIDStrategy": "index"}, "h", str(tmp_path)) is None  # no GPU: nothing
    for name in ("nvidiactl", "nvidia0", "nvidia1", "nvidia-uvm"):
        (dev / name).write_text("")
    spec = double.plugin_spec({"deviceIDStrategy": "index"}, "h", str(tmp_path))
    assert spec["kind"] == "k8s.device-plugin.nvidia.com/gpu"
    assert [d["name"] for d in spec["devices"]] == ["0", "1", "all"]
    assert spec["devices"][1]["containerEdits"]["deviceNodes"] == [{"path": "/dev/nvidia1"}]
    assert double.PLUGIN_CDI_SPEC == "/var/run/cdi/k8s.device-plugin.nvidia.com-gpu.json"
    uuid_names = [d["name"] for d in double.plugin_spec({}, "h", str(tmp_path))["devices"]]
    assert uuid_names[0].startswith("GPU-") and uuid_names[-1] == "all"  # chart default: plugin default uuid
