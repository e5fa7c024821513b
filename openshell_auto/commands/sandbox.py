"""`openshell-auto sandbox render|ready`: sandbox Pod manifests and the GPU-readiness decision."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from ansible_collections.openshell_auto.cluster.plugins.module_utils import readiness, sandbox
from openshell_auto.errors import InputError


def _fail(message: str) -> NoReturn:
    """Bad input: the CLI prints each line as `error: ...` and exits 2."""
    raise InputError(message.splitlines())


def _load_file(path: str) -> Any:
    from openshell_auto.input_files import parse_yaml, read_text

    text = sys.stdin.read() if path == "-" else read_text(Path(path), "sandbox", "give an existing file")
    return parse_yaml(text, path, "sandbox file")


def _from_inventory(path: str, max_gpus: int) -> list[sandbox.Sandbox]:
    """The sandboxes role gpu_sandbox would apply: gpu_sandbox_sandboxes as the first server sees it."""
    from openshell_auto.inventory import load_inventory
    from openshell_auto.inventory_checks import is_template

    classified = load_inventory(path)
    first = classified.first_server
    host_vars = classified.vars.get(first, {}) if first else {}
    raw = host_vars.get("gpu_sandbox_sandboxes", [])
    limit = host_vars.get("gpu_sandbox_max_gpus", max_gpus)
    if is_template(raw) or is_template(limit):
        _fail(f"{path}: host {first}: field gpu_sandbox_sandboxes: uses Jinja templates, which only Ansible can "
              "resolve; run playbooks/sandboxes.yml in check mode instead")
    return sandbox.parse_sandboxes(raw or [], max_gpus=int(limit), source=f"{path}: host {first}: gpu_sandbox_sandboxes")


@click.group("sandbox")
def sandbox_group() -> None:
    """Render OpenShell-style sandbox Pods; decide whether the cluster can run GPU sandboxes."""


@sandbox_group.command("render")
@click.option("--name", help="Pod name (RFC 1123 label); also the openshell.ai/sandbox-id label.")
@click.option("--image", help="Container image reference.")
@click.option("--gpus", type=int, default=0, show_default=True, help="GPUs (nvidia.com/gpu limit); 0 = CPU sandbox.")
@click.option("--namespace", default=sandbox.DEFAULT_NAMESPACE, show_default=True)
@click.option("--runtime-class", default=None, help="runtimeClassName (normally unset: CDI mode needs none).")
@click.option("--env", "env", multiple=True, metavar="K=V", help="Environment variable (repeatable).")
@click.option("--label", "labels", multiple=True, metavar="K=V", help="Extra Pod label (repeatable).")
@click.option("--node-selector", "node_selector", multiple=True, metavar="K=V", help="nodeSelector entry (repeatable).")
@click.option("--id", "sandbox_id", default=None, help="Sandbox id label value (default: the name).")
@click.option("--from-file", "from_file", type=str, default=None,
              help="YAML file with a list of sandboxes (or key sandboxes / gpu_sandbox_sandboxes); '-' = stdin.")
@click.option("-i", "--inventory", "inventory", type=str, default=None,
              help="Render the inventory's gpu_sandbox_sandboxes (what role gpu_sandbox applies).")
@click.option("--max-gpus", type=int, default=sandbox.DEFAULT_MAX_GPUS, show_default=True,
              help="Largest GPU count a sandbox may ask for.")
@click.option("-o", "--output", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
@click.argument("command", nargs=-1)
def render_cmd(
    name: str | None,
    image: str | None,
    gpus: int,
    namespace: str,
    runtime_class: str | None,
    env: tuple[str, ...],
    labels: tuple[str, ...],
    node_selector: tuple[str, ...],
    sandbox_id: str | None,
    from_file: str | None,
    inventory: str | None,
    max_gpus: int,
    fmt: str,
    command: tuple[str, ...],
) -> None:
    """Print sandbox Pod manifest(s): multi-document YAML, or with -o json one Pod object or a v1 List.

    Arguments after `--` become the container command, e.g.
    `openshell-auto sandbox render --name a --image ubuntu:24.04 --gpus 1 -- nvidia-smi -L`.
    """
    sandboxes: list[sandbox.Sandbox] = []
    try:
        if inventory:
            sandboxes.extend(_from_inventory(inventory, max_gpus))
        if from_file:
            sandboxes.extend(sandbox.parse_sandboxes(_load_file(from_file), max_gpus=max_gpus, source=from_file))
        if name is not None or image is not None or not (from_file or inventory):
            raw: dict[str, Any] = {"name": name, "image": image, "gpus": gpus, "namespace": namespace}
            if runtime_class is not None:
                raw["runtime_class"] = runtime_class
            if env:
                raw["env"] = list(env)
            if labels:
                raw["labels"] = list(labels)
            if node_selector:
                raw["node_selector"] = list(node_selector)
            if sandbox_id is not None:
                raw["id"] = sandbox_id
            if command:
                raw["command"] = list(command)
            one = sandbox.parse_sandbox(raw, max_gpus=max_gpus, source="command line")
            if any((s.namespace, s.name) == (one.namespace, one.name) for s in sandboxes):
                _fail(f"command line: name: {one.namespace}/{one.name} is also defined in {from_file or inventory}")
            sandboxes.append(one)
    except sandbox.SandboxError as exc:
        _fail(str(exc))
    manifests = sandbox.render_pods(sandboxes)
    click.echo(sandbox.to_json(manifests) if fmt == "json" else sandbox.to_yaml(manifests), nl=False)


@sandbox_group.command("ready")
@click.option("--nodes-json", "nodes_json", required=True,
              help="Output of `kubectl get nodes -o json` ('-' = stdin).")
@click.option("--json", "as_json", is_flag=True, help="Print the decision as JSON.")
def ready_cmd(nodes_json: str, as_json: bool) -> None:
    """Exit 0 when some node reports allocatable nvidia.com/gpu > 0, else 1 (2: bad input).

    The `nvidia` RuntimeClass is ignored: k3s creates it on every cluster."""
    from openshell_auto.input_files import read_text

    text = sys.stdin.read() if nodes_json == "-" else read_text(Path(nodes_json), "nodes JSON", "give an existing file")
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        _fail(f"{nodes_json}: not JSON ({' '.join(str(exc).split())[:200]}); give the output of "
              "`kubectl get nodes -o json`")
    try:
        result = readiness.gpu_readiness(doc)
    except ValueError as exc:
        _fail(f"{nodes_json}: {exc}")
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        for node in result.nodes:
            alloc = "-" if node.allocatable is None else readiness.as_number(node.allocatable)
            extra = f" ({node.problem})" if node.problem else ""
            click.echo(f"{node.name}: allocatable {readiness.GPU_RESOURCE}={alloc}{extra}")
        click.echo(result.message())
    sys.exit(0 if result.ready else 1)
