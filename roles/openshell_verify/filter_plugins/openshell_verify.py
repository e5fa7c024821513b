"""Filters of role openshell_verify: the smoke pod comes from the sandbox model
(openshell_auto.sandbox), the readiness decision from openshell_auto.readiness.

`openshell_auto` is imported from the installed package, or, when ansible-playbook runs from a
checkout without the package installed, from the repository root three levels above this file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

try:
    from openshell_auto import readiness, sandbox
except ImportError:  # a checkout run without `pip install`: roles/<role>/filter_plugins/ -> root
    sys.path.append(str(Path(__file__).resolve().parents[3]))
    from openshell_auto import readiness, sandbox

from ansible.errors import AnsibleFilterError


def _plain(value: Any) -> Any:
    """Ansible's tagged/lazy values -> plain Python types (str, int, list, dict)."""
    return json.loads(json.dumps(value))


def openshell_verify_smoke_pod(name: str, namespace: str, image: str, gpus: int = 1) -> dict[str, Any]:
    try:
        pod = sandbox.smoke_pod(name=str(name), namespace=str(namespace), image=str(image), gpus=int(gpus))
    except sandbox.SandboxError as exc:
        raise AnsibleFilterError(f"openshell_verify smoke pod: {exc}") from exc
    return {"manifest": pod, "yaml": sandbox.to_yaml([pod])}


def openshell_verify_readiness(nodes_json: Any) -> dict[str, Any]:
    try:
        doc = json.loads(str(nodes_json)) if isinstance(nodes_json, str) else _plain(nodes_json)
        return readiness.gpu_readiness(doc).to_dict()
    except ValueError as exc:
        return {"ready": False, "message": f"cannot read nodes: {exc}"}


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "openshell_verify_smoke_pod": openshell_verify_smoke_pod,
            "openshell_verify_readiness": openshell_verify_readiness,
        }
