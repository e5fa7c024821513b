"""Every rendered sandbox Pod validates against the Kubernetes OpenAPI schema (strict mode:
unknown fields are errors) for each Kubernetes minor that k3s ships and kubernetes-validate
carries (1.31 .. newest)."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.openshell_auto.cluster.plugins.module_utils import sandbox

kv = pytest.importorskip("kubernetes_validate")
from kubernetes_validate import utils as kv_utils  # noqa: E402

K3S_VERSIONS = sorted(
    {v for v in kv_utils.all_versions() if tuple(int(p) for p in v.split(".")[:2]) >= (1, 31)},
    key=lambda v: tuple(int(p) for p in v.split(".")),
)

CASES: list[dict[str, Any]] = [
    {"name": "cpu", "image": "ubuntu:24.04"},
    {"name": "gpu", "image": "nvcr.io/nvidia/cuda:12.8.1-base-ubuntu24.04", "gpus": 1},
    {
        "name": "full",
        "namespace": "agents",
        "id": "sbx-0001",
        "image": "localhost:5000/agent@sha256:" + "f" * 64,
        "command": ["sh", "-c", "echo 'a: {b}'\nexit 0"],
        "args": ["--flag"],
        "env": {"TEXT": 'x: "y"\n{z}', "EMPTY": ""},
        "gpus": 4,
        "runtime_class": "nvidia",
        "node_selector": {"nvidia.com/gpu.present": "true"},
        "tolerations": [
            {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
            {"key": "dedicated", "value": "gpu", "effect": "NoExecute", "toleration_seconds": 30},
        ],
        "labels": {"team": "ml", "example.com/owner": "alice"},
        "restart_policy": "OnFailure",
    },
]


def test_versions_cover_k3s_releases() -> None:
    assert {"1.31.0", "1.35.0"} <= set(K3S_VERSIONS), K3S_VERSIONS


@pytest.mark.parametrize("version", K3S_VERSIONS)
@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_rendered_pod_is_schema_valid(version: str, case: dict[str, Any]) -> None:
    pod = sandbox.render_pod(sandbox.parse_sandbox(case))
    kv.validate(pod, version, strict=True)


@pytest.mark.parametrize("version", K3S_VERSIONS)
def test_smoke_pod_is_schema_valid(version: str) -> None:
    kv.validate(sandbox.smoke_pod(), version, strict=True)


def test_schema_check_catches_a_bad_pod() -> None:
    """The validator really validates: an integer GPU limit passes JSON typing as
    int-or-string, but an unknown field fails in strict mode."""
    pod = sandbox.render_pod(sandbox.parse_sandbox(CASES[1]))
    pod["spec"]["containers"][0]["gpuCount"] = 1
    with pytest.raises(kv.ValidationError):
        kv.validate(pod, K3S_VERSIONS[-1], strict=True)
