"""Doctor findings from recorded material (tests/data/doctor/), one broken thing per case."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.openshell_auto.cluster.plugins.module_utils import doctor, gather, material

DATA = Path(__file__).parent / "data" / "doctor"


@pytest.fixture
def healthy() -> dict[str, Any]:
    return json.loads((DATA / "healthy-2gpu.json").read_text())


def _errors(found: list[doctor.Finding]) -> list[doctor.Finding]:
    return [f for f in found if f.severity == "error"]


def _one(found: list[doctor.Finding], check: str, severity: str = "error") -> doctor.Finding:
    hits = [f for f in found if f.check == check and f.severity == severity]
    assert len(hits) == 1, found
    return hits[0]


def test_healthy_cluster_has_no_errors_or_warnings(healthy: dict[str, Any]) -> None:
    found = doctor.findings(healthy)
    assert [f for f in found if f.severity != "info"] == []
    infos = {f.check for f in found}
    assert {"toolkit", "cdi-spec", "readiness"} <= infos
    assert "server1" in doctor.report_text(found)
    assert doctor.report_text(found).endswith("0 error(s), 0 warning(s)")


def test_cdi_spec_lacks_a_gpu(healthy: dict[str, Any]) -> None:
    cmd = healthy["server1"]["commands"]["cdi_list"]
    cmd["stdout"] = "\n".join(line for line in cmd["stdout"].splitlines() if line != "nvidia.com/gpu=1")
    f = _one(doctor.findings(healthy), "cdi-spec")
    assert f.host == "server1"
    assert f.message.startswith("CDI spec lacks nvidia.com/gpu=1 although 2 GPU(s) were detected")
    assert "nvidia-ctk cdi generate" in f.message and "--device-name-strategy index" in f.message
    assert "systemctl restart nvidia-cdi-refresh.service" in f.message


def test_wsl2_host_needs_only_the_all_device(healthy: dict[str, Any]) -> None:
    """WSL2 (/dev/dxg, GPUs from nvidia-smi): `nvidia-ctk cdi generate` writes only nvidia.com/gpu=all
    there (nvidia-container-toolkit v1.18.2 pkg/nvcdi/lib-wsl.go); the doctor asks for no index names."""
    host = healthy["server1"]
    assert material.gpu_count(host) == 2
    host["dev_nodes"] = ["/dev/dxg"]
    cmd = host["commands"]["cdi_list"]
    cmd["stdout"] = "\n".join(line for line in cmd["stdout"].splitlines() if not line.startswith("nvidia.com/gpu="))
    cmd["stdout"] += "\nnvidia.com/gpu=all"
    assert not [f for f in doctor.findings(healthy) if f.check == "cdi-spec" and f.host == "server1" and f.severity == "error"]
    host["dev_nodes"] = []  # the same names on a plain (NVML) host lack 0 and 1
    f = _one(doctor.findings(healthy), "cdi-spec")
    assert f.message.startswith("CDI spec lacks nvidia.com/gpu=0, nvidia.com/gpu=1 although 2 GPU(s)")


def test_uuid_names_with_index_plugin(healthy: dict[str, Any]) -> None:
    cmd = healthy["server1"]["commands"]["cdi_list"]
    cmd["stdout"] = (
        "k8s.device-plugin.nvidia.com/gpu=0\nnvidia.com/gpu=GPU-4c3b1f0e-8a47-2f0b-5c1e-3d9a1b7e6f20\n"
        "nvidia.com/gpu=GPU-9e2d7a61-04c5-b8f3-1a6e-72c0d4e5f811\nnvidia.com/gpu=all"
    )
    found = doctor.findings(healthy)
    f = _one(found, "id-strategy")
    assert "deviceIDStrategy index" in f.message and "unresolvable CDI devices" in f.message


def test_plugin_uuid_strategy_vs_index_names(healthy: dict[str, Any]) -> None:
    healthy["server1"]["cluster"]["daemonsets"][0]["env"]["DEVICE_ID_STRATEGY"] = "uuid"
    f = _one(doctor.findings(healthy), "id-strategy")
    assert "deviceIDStrategy uuid" in f.message


def test_legacy_packages_and_missing_base(healthy: dict[str, Any]) -> None:
    healthy["server1"]["packages"] = {"nvidia-container-toolkit": ["1.18.1-1"], "libnvidia-container1": ["1.18.1-1"]}
    found = doctor.findings(healthy)
    assert "nvidia-container-toolkit-base is not installed" in _one(found, "toolkit").message
    w = _one(found, "legacy-packages", "warning")
    assert "nvidia-container-toolkit 1.18.1-1" in w.message and "libnvidia-container1" in w.message


def test_duplicate_device_in_one_directory(healthy: dict[str, Any]) -> None:
    specs = healthy["server1"]["cdi_specs"]
    specs.append({"path": "/var/run/cdi/nvidia-old.yaml", "content": specs[0]["content"]})
    found = doctor.findings(healthy)
    dups = [f for f in found if f.check == "cdi-duplicate"]
    assert {f.message.split(" ")[0] for f in dups} == {"nvidia.com/gpu=0", "nvidia.com/gpu=1", "nvidia.com/gpu=all"}
    assert "/var/run/cdi/nvidia-old.yaml" in dups[0].message


def test_same_device_in_two_directories_is_not_a_duplicate(healthy: dict[str, Any]) -> None:
    specs = healthy["server1"]["cdi_specs"]
    specs.append({"path": "/etc/cdi/nvidia.yaml", "content": specs[0]["content"]})
    assert not [f for f in doctor.findings(healthy) if f.check == "cdi-duplicate"]


def test_broken_spec_file(healthy: dict[str, Any]) -> None:
    healthy["server1"]["cdi_specs"].append({"path": "/etc/cdi/broken.yaml", "content": "kind: [unclosed"})
    f = _one(doctor.findings(healthy), "cdi-spec-file")
    assert f.message.startswith("/etc/cdi/broken.yaml: not valid YAML/JSON")


def test_refresh_service_failed_shows_log(healthy: dict[str, Any]) -> None:
    cmds = healthy["server1"]["commands"]
    cmds["refresh_service_show"]["stdout"] = cmds["refresh_service_show"]["stdout"].replace(
        "ActiveState=inactive", "ActiveState=failed").replace("Result=success", "Result=exit-code")
    cmds["refresh_service_log"]["stdout"] = (
        "2026-11-27T01:02:04+0000 server1 nvidia-ctk[812]: time=\"2026-11-27T01:02:04Z\" level=error "
        "msg=\"failed to generate CDI spec: failed to create device CDI specs: failed to initialize NVML: "
        "ERROR_LIBRARY_NOT_FOUND\"\n2026-11-27T01:02:04+0000 server1 systemd[1]: nvidia-cdi-refresh.service: "
        "Main process exited, code=exited, status=1/FAILURE"
    )
    f = _one(doctor.findings(healthy), "refresh-units")
    assert "Result=exit-code" in f.message and "ERROR_LIBRARY_NOT_FOUND" in f.message


def test_refresh_path_disabled(healthy: dict[str, Any]) -> None:
    healthy["server1"]["commands"]["refresh_path_enabled"].update(rc=1, stdout="disabled")
    f = _one(doctor.findings(healthy), "refresh-units", "warning")
    assert "nvidia-cdi-refresh.path is disabled" in f.message


def test_containerd_without_nvidia_handler(healthy: dict[str, Any]) -> None:
    text = (DATA / "containerd-v3-no-nvidia.toml").read_text()
    healthy["server1"]["containerd"] = gather.containerd_summary(text)
    f = _one(doctor.findings(healthy), "containerd-handler")
    assert "no `nvidia` runtime handler" in f.message and "restart k3s" in f.message


@pytest.mark.parametrize("fname", ["containerd-v3-nvidia.toml", "containerd-v2-nvidia-auth.toml"])
def test_containerd_summary_finds_handler_and_drops_secrets(fname: str) -> None:
    summary = gather.containerd_summary((DATA / fname).read_text())
    assert summary["parsed"] and summary["nvidia"]
    assert summary["runtimes"]["nvidia"]["binary"] == "/usr/bin/nvidia-container-runtime"
    assert set(summary["runtimes"]) == {"runc", "nvidia"}
    assert "s3cr3t" not in json.dumps(summary)
    leaky = (DATA / fname).read_text() + '\n[x.auth]\n  password = "nvidia-s3cr3t"\n'
    assert "s3cr3t" not in json.dumps(gather.containerd_summary(leaky))


def test_containerd_17_without_cdi_is_an_error(healthy: dict[str, Any]) -> None:
    text = (DATA / "containerd-v2-nvidia-auth.toml").read_text()
    assert gather.containerd_summary(text)["cdi"] is True
    off = text.replace("  enable_cdi = true\n", "")
    healthy["server1"]["containerd"] = gather.containerd_summary(off)
    f = _one(doctor.findings(healthy), "containerd-cdi")
    assert "containerd 1.7) has CDI off" in f.message and "openshell-auto provision" in f.message


def test_containerd_2_has_cdi_unless_disabled(healthy: dict[str, Any]) -> None:
    text = (DATA / "containerd-v3-nvidia.toml").read_text()
    assert gather.containerd_summary(text)["cdi"] is True
    cri = "[plugins.'io.containerd.cri.v1.runtime']\n"
    assert cri in text
    off = gather.containerd_summary(text.replace(cri, cri + "  enable_cdi = false\n"))
    assert off["cdi"] is False
    healthy["server1"]["containerd"] = off
    f = _one(doctor.findings(healthy), "containerd-cdi")
    assert "containerd 2.x" in f.message and "remove enable_cdi = false" in f.message and "grpc.v1.cri" not in f.message


def test_containerd_summary_unparseable_falls_back_to_lines() -> None:
    text = '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes."nvidia"]\n  runtime_type = \n'
    summary = gather.containerd_summary(text)
    assert summary["parsed"] is False and summary["nvidia"] is True


def test_plugin_not_ready_and_wrong_list_strategy(healthy: dict[str, Any]) -> None:
    ds = healthy["server1"]["cluster"]["daemonsets"][0]
    ds.update(desired=2, ready=1)
    ds["env"]["DEVICE_LIST_STRATEGY"] = "envvar"
    found = doctor.findings(healthy)
    msgs = [f.message for f in found if f.check == "device-plugin"]
    assert any("1/2 pods ready" in m and "Registered device plugin" in m for m in msgs)
    assert any("DEVICE_LIST_STRATEGY is 'envvar'" in m for m in msgs)


def test_plugin_schedules_nothing(healthy: dict[str, Any]) -> None:
    healthy["server1"]["cluster"]["daemonsets"][0].update(desired=0, ready=0)
    f = _one(doctor.findings(healthy), "device-plugin")
    assert "nvidia.com/gpu.present=true" in f.message


def test_no_daemonset_shows_helm_job_log(healthy: dict[str, Any]) -> None:
    cl = healthy["server1"]["cluster"]
    cl["daemonsets"] = []
    cl["commands"]["helm_job_logs"]["stdout"] = "Error: INSTALLATION FAILED: failed to download \"nvidia-device-plugin\""
    found = doctor.findings(healthy)
    assert "no device-plugin DaemonSet" in _one(found, "device-plugin").message
    assert "INSTALLATION FAILED" in _one(found, "helm-job", "info").message
    cl["commands"]["helm_job_logs"].update(rc=1, stdout="", stderr="error: no pods or jobs found for job/helm-install-nvidia-device-plugin")
    assert "k3s has not run the chart" in _one(doctor.findings(healthy), "helm-job").message


def test_list_strategy_from_helmchart_when_env_absent(healthy: dict[str, Any]) -> None:
    cl = healthy["server1"]["cluster"]
    cl["daemonsets"][0]["env"] = {}
    assert material.plugin_settings(cl) == {"list": "cdi-cri", "id": "index", "source": "HelmChart values"}
    cl["helmcharts"][0]["values"]["deviceListStrategy"] = ["envvar", "cdi-annotations"]
    assert material.plugin_settings(cl)["list"] == "envvar,cdi-annotations"


def test_gpu_node_without_allocatable_and_label(healthy: dict[str, Any]) -> None:
    node = healthy["server1"]["cluster"]["nodes"][0]
    node["allocatable_gpu"] = "0"
    del node["labels"]["nvidia.com/gpu.present"]
    found = doctor.findings(healthy)
    assert "reports no allocatable nvidia.com/gpu" in _one(found, "allocatable").message
    assert "lacks label nvidia.com/gpu.present=true" in _one(found, "node-label", "warning").message
    assert "GPU sandboxes will be refused" in _one(found, "readiness").message


def test_gpu_host_not_joined(healthy: dict[str, Any]) -> None:
    healthy["server1"]["cluster"]["nodes"] = healthy["server1"]["cluster"]["nodes"][1:]
    assert "has not joined the cluster" in _one(doctor.findings(healthy), "node").message


def test_gpu_pod_with_runtime_class(healthy: dict[str, Any]) -> None:
    healthy["server1"]["cluster"]["pods"][1]["runtime_class"] = "nvidia"
    f = _one(doctor.findings(healthy), "runtime-class", "warning")
    assert "default/sb-1" in f.message and "need none" in f.message


def test_unresolvable_cdi_devices_in_plugin_log(healthy: dict[str, Any]) -> None:
    healthy["server1"]["cluster"]["commands"]["plugin_logs"]["stdout"] += (
        "\nE1127 01:06:00.1 1 server.go:400] failed to allocate: unresolvable CDI devices nvidia.com/gpu=GPU-4c3b")
    assert "unresolvable CDI devices" in _one(doctor.findings(healthy), "id-strategy").message


def test_no_driver_no_devices(healthy: dict[str, Any]) -> None:
    m = healthy["server1"]
    for key in ("nvidia_smi_list", "nvidia_smi_query"):
        m["commands"][key] = {"cmd": ["nvidia-smi"], "rc": 2, "stdout": "", "stderr": "command not found ([Errno 2] No such file or directory: b'nvidia-smi')"}
    m["commands"]["driver_version_file"].update(rc=1, stdout="", stderr="cat: /proc/driver/nvidia/version: No such file or directory")
    m["dev_nodes"] = []
    found = doctor.findings(healthy)
    msgs = [f.message for f in found if f.check == "driver"]
    assert any(s.startswith("no NVIDIA driver found (nvidia-smi: command not found") for s in msgs)
    assert any("no GPU device nodes" in s for s in msgs)


def test_missing_uvm(healthy: dict[str, Any]) -> None:
    healthy["server1"]["dev_nodes"].remove("/dev/nvidia-uvm")
    assert "/dev/nvidia-uvm is missing" in _one(doctor.findings(healthy), "driver", "warning").message


def test_api_unreachable(healthy: dict[str, Any]) -> None:
    cl = healthy["server1"]["cluster"]
    cl["nodes"] = None
    cl["commands"]["nodes"] = {"cmd": ["k3s", "kubectl", "get", "nodes", "-o", "json"], "rc": 1, "stdout": "",
                               "stderr": "The connection to the server 127.0.0.1:6443 was refused - did you specify the right host or port?"}
    f = _one(doctor.findings(healthy), "api")
    assert "was refused" in f.message


def test_no_cluster_material(healthy: dict[str, Any]) -> None:
    healthy["server1"]["cluster"] = None
    assert "first server was not reached" in _one(doctor.findings(healthy), "api").message


def test_reducers_drop_secrets_and_keep_needed_fields() -> None:
    nodes = json.loads((Path(__file__).parent / "data" / "nodes" / "gpu-on-one-of-three.json").read_text())
    summary = gather.summarize_nodes(json.dumps(nodes))
    assert summary is not None
    assert [n["allocatable_gpu"] for n in summary] == [None, "2", None]
    assert "k3s.io/node-args" not in json.dumps(summary)
    pods = {"items": [
        {"metadata": {"name": "a", "namespace": "x"}, "spec": {"containers": [
            {"name": "c", "env": [{"name": "TOKEN", "value": "top-secret"}],
             "resources": {"limits": {"nvidia.com/gpu": "2"}}}]}},
        {"metadata": {"name": "b", "namespace": "x"}, "spec": {"containers": [{"name": "c"}]}},
    ]}
    reduced = gather.summarize_pods(json.dumps(pods))
    assert reduced == [{"namespace": "x", "name": "a", "runtime_class": None, "gpus": 2, "node": None, "phase": None, "labels": {}}]
    assert gather.summarize_pods("not json") is None


def test_cluster_material_replaces_raw_json() -> None:
    secret_pods = json.dumps({"items": [{"metadata": {"name": "p", "namespace": "n"}, "spec": {"containers": [
        {"name": "c", "env": [{"name": "PASSWORD", "value": "hunter2"}]}], "runtimeClassName": "nvidia"}}]})
    results = [
        {"item": {"key": "pods", "value": ["get", "pods", "-A", "-o", "json"]}, "rc": 0, "stdout": secret_pods, "stderr": ""},
        {"item": {"key": "nodes", "value": ["get", "nodes"]}, "rc": 1, "stdout": "", "stderr": "refused"},
        {"item": {"key": "plugin_logs", "value": ["logs"]}, "rc": 0, "stdout": "line", "stderr": ""},
    ]
    material = gather.cluster_material(results)
    assert "hunter2" not in json.dumps(material)
    assert material["pods"][0]["runtime_class"] == "nvidia"
    assert material["nodes"] is None and material["daemonsets"] is None
    assert material["commands"]["plugin_logs"]["stdout"] == "line"


def test_command_results_missing_binary() -> None:
    results = [{"item": {"key": "cdi_list", "value": ["nvidia-ctk", "cdi", "list"]}, "rc": 2,
                "stdout": "Error executing command.", "stderr": "",
                "msg": "Error executing command: [Errno 2] No such file or directory: b'nvidia-ctk'"}]
    out = gather.command_results(results)["cdi_list"]
    assert out["cmd"] == ["nvidia-ctk", "cdi", "list"] and out["stdout"] == ""
    assert out["stderr"].startswith("command not found")


def test_package_versions() -> None:
    facts = {"nvidia-container-toolkit-base": [{"name": "nvidia-container-toolkit-base", "version": "1.18.2-1", "source": "apt"}],
             "libnvidia-container1": [{"version": "1.18.1", "release": "1"}],
             "bash": [{"version": "5.2"}]}
    assert gather.package_versions(facts) == {"nvidia-container-toolkit-base": ["1.18.2-1"], "libnvidia-container1": ["1.18.1-1"]}


def test_cdi_spec_files_decodes_slurp() -> None:
    import base64

    res = [{"source": "/etc/cdi/a.yaml", "content": base64.b64encode(b"kind: x").decode(), "encoding": "base64"},
           {"item": {"path": "/etc/cdi/b.yaml"}, "failed": True, "msg": "Permission denied"}]
    assert gather.cdi_spec_files(res) == [
        {"path": "/etc/cdi/a.yaml", "content": "kind: x"},
        {"path": "/etc/cdi/b.yaml", "content": None, "error": "Permission denied"},
    ]


def test_load_bundle(tmp_path: Path, healthy: dict[str, Any]) -> None:
    (tmp_path / "hosts").mkdir()
    for name, m in healthy.items():
        (tmp_path / "hosts" / f"{name}.json").write_text(json.dumps(m))
    assert doctor.load_bundle(tmp_path) == healthy
    assert copy.deepcopy(healthy) == healthy


def test_spec_rules_from_cdi_module(healthy: dict[str, Any]) -> None:
    spec = healthy["server1"]["cdi_specs"][0]
    spec["content"] = spec["content"].replace("cdiVersion: 0.5.0", "cdiVersion: 9.9.9")
    f = _one(doctor.findings(healthy), "cdi-spec-file")
    assert "/var/run/cdi/nvidia.yaml" in f.message and "9.9.9" in f.message


def _renamed(healthy: dict[str, Any]) -> dict[str, Any]:
    """The plugin installed as HelmChart `gpu-plugin` (chart from the static dir) into `gpu-plugins`."""
    for m in healthy.values():
        m["device_plugin"] = {"namespace": "gpu-plugins", "helmchart": "gpu-plugin"}
    cl = healthy["server1"]["cluster"]
    cl["helmcharts"][0].update(name="gpu-plugin", chart="https://%{KUBERNETES_API}%/static/charts/nvidia-device-plugin-0.19.1.tgz")
    cl["daemonsets"][0].update(name="gpu-plugin-nvidia-device-plugin", namespace="gpu-plugins")
    cl["pods"][0].update(namespace="gpu-plugins", gpus=1)
    return healthy


def test_renamed_namespace_and_helmchart_are_used(healthy: dict[str, Any]) -> None:
    """openshell_device_plugin_namespace / openshell_device_plugin_helmchart as configured: the
    HelmChart's values are found, the plugin's own pods are not workload pods, messages name them."""
    healthy = _renamed(healthy)
    cl = healthy["server1"]["cluster"]
    cl["daemonsets"][0]["env"] = {}
    assert material.plugin_names(healthy).helm_job == "helm-install-gpu-plugin"
    assert material.plugin_settings(cl, material.plugin_names(healthy))["source"] == "HelmChart values"
    assert [f for f in doctor.findings(healthy) if f.severity != "info"] == []
    cl["daemonsets"] = []
    f = _one(doctor.findings(healthy), "device-plugin")
    assert "namespace gpu-plugins" in f.message and "helm-install-gpu-plugin" in f.message


def test_default_names_without_configuration(healthy: dict[str, Any]) -> None:
    assert material.plugin_names(healthy).namespace == "nvidia-device-plugin"
    healthy["server1"]["cluster"]["daemonsets"] = []
    assert "namespace nvidia-device-plugin" in _one(doctor.findings(healthy), "device-plugin").message
