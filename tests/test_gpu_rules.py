"""The GPU-stack rules, each one function, and every caller agreeing with it: "this node has
GPUs" (readiness.has_gpus), "these CDI names are missing" (cdi.missing_names, read from the
material by material.missing_cdi_names), the CDI names in `nvidia-ctk cdi list` output
(cdi.listed_names), the driver version in /proc/driver/nvidia/version
(nvidia_driver.version_from_file), the containerd a k3s release embeds
(k3s_release.embeds_containerd_1_7), the sha256 format (checksum.sha256_hex; the whole checksum
rule and its callers are in test_checksum_rule.py) and "the plugin's DaemonSet is ready"
(device_plugin.daemonset_ready)."""

from __future__ import annotations

import copy
import importlib
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.openshell_auto.cluster.plugins.module_utils import (
    airgap,
    cdi,
    checksum,
    device_plugin,
    doctor,
    k3s_release,
    material,
    nvidia_driver,
    readiness,
    verify,
)

DATA = Path(__file__).parent / "data" / "doctor"


def role_filter(plugin: str, name: str) -> Any:
    module = importlib.import_module(f"ansible_collections.openshell_auto.cluster.plugins.filter.{plugin}")
    return module.FilterModule().filters()[name]


@pytest.fixture
def healthy() -> dict[str, Any]:
    return json.loads((DATA / "healthy-2gpu.json").read_text())


# --------------------------------------------------------------------------- this node has GPUs
@pytest.mark.parametrize(
    ("allocatable", "has"),
    [("2", True), (2, True), ("1k", True), ("500m", True), (Decimal("1"), True),
     ("0", False), (0, False), (None, False), ("", False), ("two", False), (True, False), ("-1", False)],
)
def test_has_gpus(allocatable: Any, has: bool) -> None:
    assert readiness.has_gpus(allocatable) is has


@pytest.mark.parametrize("allocatable", ["2", "1k", "500m", "0", "two", None])
def test_every_caller_decides_has_gpus_alike(healthy: dict[str, Any], allocatable: Any) -> None:
    """The readiness decision, the doctor, verify and the device-plugin wait (MIG strategies) read
    the same allocatable value the same way."""
    want = readiness.has_gpus(allocatable)
    node = {"kind": "Node", "metadata": {"name": "server1"},
            "status": {"allocatable": {} if allocatable is None else {"nvidia.com/gpu": allocatable}}}
    assert readiness.gpu_readiness({"items": [node]}).ready is want

    healthy["server1"]["cluster"]["nodes"][0]["allocatable_gpu"] = allocatable
    readiness_findings = [f for f in doctor.findings(healthy) if f.check == "readiness"]
    assert [f.severity for f in readiness_findings] == (["info"] if want else ["error"])
    (check,) = [c for c in verify.evaluate(healthy) if c.host == "node/server1" and c.check == "allocatable-gpus"]
    assert check.ok is want

    assert device_plugin.allocatable_mismatches(json.dumps({"items": [node]}), {"server1": 1},
                                                mig_strategy="single") == ([] if want else [
        f"server1 has {node['status']['allocatable'] or 'no GPU resource'} (expected nvidia.com/gpu or "
        "nvidia.com/mig-<profile> > 0)"])


# --------------------------------------------------------------------------- these CDI names are missing
def _with_cdi_list(m: dict[str, Any], stdout: str, strategy: str) -> dict[str, Any]:
    host = copy.deepcopy(m["server1"])
    host["commands"]["cdi_list"]["stdout"] = stdout
    host["device_id_strategy"] = strategy
    return host


@pytest.mark.parametrize(
    ("listed", "strategy", "missing"),
    [
        ("nvidia.com/gpu=0\nnvidia.com/gpu=1\nnvidia.com/gpu=all", "index", []),
        ("nvidia.com/gpu=0\nnvidia.com/gpu=1", "index", ["nvidia.com/gpu=all"]),
        ("nvidia.com/gpu=0\nnvidia.com/gpu=all", "index", ["nvidia.com/gpu=1"]),
        ("nvidia.com/gpu=GPU-4c3b1f0e\nnvidia.com/gpu=GPU-9a1e\nnvidia.com/gpu=all", "uuid", []),
        ("nvidia.com/gpu=GPU-4c3b1f0e\nnvidia.com/gpu=all", "uuid", ["1 of 2 nvidia.com/gpu=GPU-<uuid> names"]),
    ],
)
def test_missing_cdi_names_one_rule(healthy: dict[str, Any], listed: str, strategy: str, missing: list[str]) -> None:
    """verify and the doctor report what the nvidia_cdi role refuses (cdi.missing_names), no less."""
    host = _with_cdi_list(healthy, listed, strategy)
    assert material.missing_cdi_names(host) == missing
    assert cdi.missing_names(listed.splitlines(), 2, strategy) == missing
    problems = role_filter("nvidia_cdi", "nvidia_cdi_problems")([], listed.splitlines(), 2, strategy)
    assert problems == [f"nvidia-ctk cdi list does not show {name}" for name in missing]
    (check,) = [c for c in verify.evaluate({"server1": host}) if c.check == "cdi-names"]
    assert check.ok is (not missing), check
    doctor_errors = [f for f in doctor.findings({"server1": host}) if f.check == "cdi-spec" and f.severity == "error"]
    assert bool(doctor_errors) is bool(missing)
    for name in missing:
        assert name in check.detail and name in doctor_errors[0].message


def test_missing_cdi_names_on_wsl(healthy: dict[str, Any]) -> None:
    host = _with_cdi_list(healthy, "nvidia.com/gpu=all", "index")
    host["dev_nodes"] = ["/dev/dxg"]
    host["commands"]["nvidia_smi_list"] = {"rc": 0, "stdout": "GPU 0: NVIDIA RTX (UUID: GPU-1)", "stderr": ""}
    assert material.cdi_platform(host) == "wsl"
    assert material.missing_cdi_names(host) == []


def test_failed_cdi_list_is_no_list(healthy: dict[str, Any]) -> None:
    host = copy.deepcopy(healthy["server1"])
    host["commands"]["cdi_list"] = {"rc": 1, "stdout": "", "stderr": "nvidia-ctk: not found"}
    assert material.missing_cdi_names(host) is None
    (check,) = [c for c in verify.evaluate({"server1": host}) if c.check == "cdi-names"]
    assert not check.ok and "failed" in check.detail


def test_listed_names_keeps_device_names_only() -> None:
    out = ['time="2026-11-27T01:40:11Z" level=info msg="Found 3 CDI devices"', "INFO[0000] Found 3 CDI devices",
           "nvidia.com/gpu=0", " nvidia.com/gpu=all ", "k8s.device-plugin.nvidia.com/gpu=GPU-1::2", "x/y=", "=0"]
    assert cdi.listed_names(out) == ["nvidia.com/gpu=0", "nvidia.com/gpu=all", "k8s.device-plugin.nvidia.com/gpu=GPU-1::2"]
    host = {"commands": {"cdi_list": {"rc": 0, "stdout": "\n".join(out), "stderr": ""}}}
    assert material.cdi_names(host) == cdi.listed_names(out)


# --------------------------------------------------------------------------- driver version
@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("NVRM version: NVIDIA UNIX x86_64 Kernel Module  570.133.20  Fri Mar 14 20:15:18 UTC 2025\n", "570.133.20"),
        ("NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.95.05  Release Build  (x)\n", "580.95.05"),
        ("NVRM version: NVIDIA UNIX Kernel Module  550.54\n", "550.54"),
        ("NVRM version: NVIDIA UNIX Kernel Module for aarch64\n", ""),
        ("", ""),
        (None, ""),
    ],
)
def test_driver_version_one_rule(text: Any, version: str) -> None:
    assert nvidia_driver.version_from_file(text) == version
    assert role_filter("nvidia_container_toolkit", "nvidia_container_toolkit_driver_version")(text) == version
    host = {"commands": {"driver_version_file": {"rc": 0, "stdout": text or "", "stderr": ""}}}
    assert material.driver_version(host) == (version or None)


# --------------------------------------------------------------------------- k3s release -> containerd
@pytest.mark.parametrize(
    ("release", "v17"),
    [("v1.29.0+k3s1", True), ("v1.31.5+k3s1", True), ("v1.31.6+k3s1", False), ("v1.31.14+k3s1", False),
     ("v1.32.0+k3s1", True), ("v1.32.1+k3s2", True), ("v1.32.2+k3s1", False), ("v1.35.2+k3s1", False),
     ("1.30.0", False), ("v1.30.0+k3s1\n", False), (None, False)],
)
def test_embeds_containerd_1_7(release: Any, v17: bool) -> None:
    assert k3s_release.embeds_containerd_1_7(release) is v17
    assert role_filter("k3s_release", "k3s_embeds_containerd_1_7")(release) is v17


# --------------------------------------------------------------------------- sha256 format
def test_sha256_hex() -> None:
    digest = "ab" * 32
    assert checksum.sha256_hex(digest) == digest
    assert checksum.sha256_hex(f"sha256:{digest.upper()}") == digest
    assert checksum.sha256_hex(f"sha256:{digest}", prefix=False) == ""
    assert checksum.sha256_hex(digest[:-1]) == "" and checksum.sha256_hex(f"md5:{digest}") == ""
    assert checksum.sha256_hex(f"{digest}\n") == ""
    assert airgap.sums_line(f"sha256:{digest}  k3s\n{digest.upper()} *k3s-airgap.tar\n", "k3s") == ""
    assert airgap.sums_line(f"{digest.upper()} *k3s-airgap.tar\n", "k3s-airgap.tar") == digest


# --------------------------------------------------------------------------- shared settings
def test_doctor_names_the_configured_cdi_dirs(healthy: dict[str, Any]) -> None:
    """The spec directories come from openshell_cdi_spec_dirs (recorded in the material), not from
    a copy in Python."""
    healthy["server1"]["cdi_specs"] = []
    healthy["server1"]["cdi_dirs"] = ["/srv/cdi", "/run/cdi"]
    (finding,) = [f for f in doctor.findings(healthy) if f.host == "server1" and f.check == "cdi-spec-file"]
    assert finding.message.startswith("no CDI spec files in /srv/cdi or /run/cdi;")


def test_doctor_checks_the_configured_gpu_node_label(healthy: dict[str, Any]) -> None:
    """The label comes from openshell_gpu_node_label (recorded in the material; the shared role's
    default when none is), not from a copy in Python."""
    assert material.gpu_node_label(healthy) == tuple(
        device_plugin.shared_defaults()["openshell_gpu_node_label"].split("=", 1))
    assert not [f for f in doctor.findings(healthy) if f.check == "node-label"]
    for host in healthy.values():
        host["gpu_node_label"] = "example.com/gpu=yes"
    (finding,) = [f for f in doctor.findings(healthy) if f.check == "node-label"]
    assert "lacks label example.com/gpu=yes" in finding.message
    healthy["server1"]["cluster"]["nodes"][0]["labels"]["example.com/gpu"] = "yes"
    assert not [f for f in doctor.findings(healthy) if f.check == "node-label"]


# --------------------------------------------------------------------------- the plugin's DaemonSet is ready
@pytest.mark.parametrize(("desired", "ready", "want"),
                         [(1, 1, True), (3, 3, True), ("2", "2", True), (2, 1, False), (0, 0, False),
                          (1, 2, False), (None, None, False)])
def test_every_caller_decides_daemonset_ready_alike(healthy: dict[str, Any], desired: Any, ready: Any,
                                                   want: bool) -> None:
    """The device-plugin wait (filter over `kubectl get daemonset -o json`), verify and the doctor
    read the same counts the same way."""
    assert device_plugin.daemonset_ready(desired, ready) is want
    listed = {"kind": "List", "items": [{"kind": "DaemonSet", "metadata": {"name": "nvidia-device-plugin"},
                                         "status": {"desiredNumberScheduled": desired, "numberReady": ready}}]}
    wait = role_filter("nvidia_device_plugin", "nvidia_device_plugin_daemonset_ready")
    assert wait(json.dumps(listed)) is want
    healthy["server1"]["cluster"]["daemonsets"][0].update({"desired": desired, "ready": ready})
    (check,) = [c for c in verify.evaluate(healthy) if c.check == "device-plugin"]
    assert check.ok is want
    errors = [f for f in doctor.findings(healthy) if f.check == "device-plugin" and f.severity == "error"]
    assert (errors == []) is want


def test_daemonset_list_ready_needs_a_daemonset() -> None:
    wait = role_filter("nvidia_device_plugin", "nvidia_device_plugin_daemonset_ready")
    assert wait('{"kind": "List", "items": []}') is False
    assert wait("not json") is False
    assert wait({"items": [{"status": {}}]}) is False
    assert device_plugin.daemonset_ready("x", 1) is False
