"""Filters of role openshell_verify: the smoke pod comes from the sandbox model
(openshell_auto.sandbox), the readiness decision from openshell_auto.readiness."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

if importlib.util.find_spec("openshell_auto") is None:  # a checkout without `pip install`: add its root
    sys.path.append(str(Path(__file__).resolve().parents[3]))  # roles/<role>/filter_plugins/ -> root

from ansible.errors import AnsibleFilterError

from openshell_auto import readiness, sandbox, verify
from openshell_auto.ansible_glue import json_document, plain


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
    """The verify verdict (openshell_auto.verify.verdict) from the doctor material of every host
    and the smoke pod's result."""
    return verify.verdict(plain(materials), plain(smoke))


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "openshell_verify_smoke_pod": openshell_verify_smoke_pod,
            "openshell_verify_readiness": openshell_verify_readiness,
            "openshell_verify_verdict": openshell_verify_verdict,
        }
