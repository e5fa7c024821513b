"""Filters of role gpu_sandbox: the SAME sandbox renderer and readiness decision as the CLI.

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


def openshell_sandbox_render(sandboxes: Any, max_gpus: int = sandbox.DEFAULT_MAX_GPUS) -> dict[str, Any]:
    """Validate + render the inventory's sandbox list.

    Returns {"manifests": [...], "yaml": "<multi-doc>", "names": [...], "gpu_names": [...]}."""
    try:
        parsed = sandbox.parse_sandboxes(_plain(sandboxes or []), max_gpus=int(max_gpus), source="gpu_sandbox_sandboxes")
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
    doc = json.loads(str(nodes_json)) if isinstance(nodes_json, str) else _plain(nodes_json)
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
