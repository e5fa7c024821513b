"""Filters of role gpu_sandbox: the SAME sandbox renderer and readiness decision as the CLI."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.openshell_auto.cluster.plugins.module_utils import readiness, sandbox
from ansible_collections.openshell_auto.cluster.plugins.module_utils.ansible_glue import json_document, plain


def openshell_sandbox_render(sandboxes: Any, max_gpus: int = sandbox.DEFAULT_MAX_GPUS) -> dict[str, Any]:
    """Validate + render the inventory's sandbox list.

    Returns {"manifests": [...], "yaml": "<multi-doc>", "names": [...], "gpu_names": [...]}."""
    try:
        parsed = sandbox.parse_sandboxes(plain(sandboxes or []), max_gpus=int(max_gpus), source="gpu_sandbox_sandboxes")
    except sandbox.SandboxError as exc:
        raise AnsibleFilterError(str(exc)) from exc
    manifests = sandbox.render_pods(parsed)
    return {
        "manifests": manifests,
        "yaml": sandbox.to_yaml(manifests) if manifests else "",
        "names": [f"{s.namespace}/{s.name}" for s in parsed],
        "gpu_names": [f"{s.namespace}/{s.name}" for s in parsed if s.gpus > 0],
    }


def openshell_gpu_readiness(nodes_json: Any) -> dict[str, Any]:
    """`kubectl get nodes -o json` output (string or parsed) -> readiness decision dict."""
    doc = json_document(nodes_json)
    try:
        return readiness.gpu_readiness(doc).to_dict()
    except ValueError as exc:
        raise AnsibleFilterError(f"GPU readiness: {exc}") from exc


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "openshell_sandbox_render": openshell_sandbox_render,
            "openshell_gpu_readiness": openshell_gpu_readiness,
        }
