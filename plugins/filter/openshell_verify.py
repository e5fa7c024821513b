"""Filters of role openshell_verify: the smoke pod comes from the sandbox model
(module_utils/sandbox.py), the readiness decision from module_utils/readiness.py."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.openshell_auto.cluster.plugins.module_utils import readiness, sandbox, verify
from ansible_collections.openshell_auto.cluster.plugins.module_utils.ansible_glue import json_document, plain


def openshell_verify_smoke_pod(name: str, namespace: str, image: str, gpus: int = 1) -> dict[str, Any]:
    try:
        pod = sandbox.smoke_pod(name=str(name), namespace=str(namespace), image=str(image), gpus=int(gpus))
    except sandbox.SandboxError as exc:
        raise AnsibleFilterError(f"openshell_verify smoke pod: {exc}") from exc
    return {"manifest": pod, "yaml": sandbox.to_yaml([pod])}


def openshell_verify_readiness(nodes_json: Any) -> dict[str, Any]:
    try:
        doc = json_document(nodes_json)
        return readiness.gpu_readiness(doc).to_dict()
    except ValueError as exc:
        return {"ready": False, "message": f"cannot read nodes: {exc}"}


def openshell_verify_verdict(materials: Any, smoke: Any = None) -> dict[str, Any]:
    """The verify verdict (module_utils.verify.verdict) from the doctor material of every host
    and the smoke pod's result."""
    return verify.verdict(plain(materials), plain(smoke))


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "openshell_verify_smoke_pod": openshell_verify_smoke_pod,
            "openshell_verify_readiness": openshell_verify_readiness,
            "openshell_verify_verdict": openshell_verify_verdict,
        }
