"""Is the cluster GPU-capable? Decided from node objects, as OpenShell decides it.

True iff some node reports `status.allocatable["nvidia.com/gpu"]` > 0: `has_gpus` is that rule for
one node, used by the readiness decision, the doctor, verify and the device-plugin wait. The `nvidia`
RuntimeClass proves nothing (k3s creates it on every cluster) and is ignored on purpose.
Input: the JSON of `kubectl get nodes -o json` (a List/NodeList), a single Node, or a list.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

GPU_RESOURCE = "nvidia.com/gpu"

NOT_READY_MESSAGE = (
    "GPU sandbox requested, but the cluster is not GPU-enabled: "
    "no node reports allocatable nvidia.com/gpu"
)
NEXT_STEP = (
    "Next step: run `openshell-auto doctor -i INVENTORY` and check the NVIDIA device plugin "
    "(in whichever namespace it was installed: k3s kubectl get ds,pods -A "
    "-l app.kubernetes.io/name=nvidia-device-plugin)."
)

# resource.Quantity: <signedNumber><suffix>; suffix binary (Ki..Ei), decimal (n,u,m,"",k,M,G,T,P,E)
# or decimal exponent (e/E<signedNumber>).
_QUANTITY = re.compile(
    r"^(?P<num>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$"
)
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}


class QuantityError(ValueError):
    pass


def parse_quantity(value: Any) -> Decimal:
    """Parse a Kubernetes resource quantity ("2", "500m", "1Ki", "1e3", 2) into a Decimal."""
    if isinstance(value, bool):
        raise QuantityError(f"{value!r} is not a quantity")
    if isinstance(value, int):
        return Decimal(value)
    if not isinstance(value, str):
        raise QuantityError(f"{value!r} is not a quantity")
    m = _QUANTITY.match(value.strip())
    if not m:
        raise QuantityError(f"{value!r} is not a Kubernetes quantity")
    try:
        num = Decimal(m.group("num"))
    except InvalidOperation as exc:  # pragma: no cover - the regex excludes it
        raise QuantityError(f"{value!r} is not a Kubernetes quantity") from exc
    suffix = m.group("suffix") or ""
    if suffix in _BINARY:
        return num * _BINARY[suffix]
    if suffix in _DECIMAL:
        return num * _DECIMAL[suffix]
    if suffix[:1] in ("e", "E"):
        return num.scaleb(int(suffix[1:]))
    return num


def has_gpus(allocatable: Any) -> bool:
    """This node has GPUs: its allocatable nvidia.com/gpu (a quantity, parsed or not) is above 0.
    A missing or unreadable quantity is no GPU."""
    if allocatable is None:
        return False
    try:
        value = allocatable if isinstance(allocatable, Decimal) else parse_quantity(allocatable)
    except QuantityError:
        return False
    return value > 0


@dataclass
class NodeGpus:
    name: str
    allocatable: Decimal | None  # None: the node reports no allocatable nvidia.com/gpu
    capacity: Decimal | None
    problem: str = ""  # why the value could not be read, if it could not

    @property
    def ready(self) -> bool:
        return has_gpus(self.allocatable)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["allocatable"] = as_number(self.allocatable)
        d["capacity"] = as_number(self.capacity)
        d["ready"] = self.ready
        return d


@dataclass
class Readiness:
    ready: bool
    nodes: list[NodeGpus] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # objects that are not Nodes

    @property
    def gpu_nodes(self) -> list[str]:
        return [n.name for n in self.nodes if n.ready]

    @property
    def total_gpus(self) -> Decimal:
        return sum((n.allocatable for n in self.nodes if n.ready and n.allocatable is not None), Decimal(0))

    def message(self) -> str:
        if self.ready:
            return (
                f"GPU-enabled: {len(self.gpu_nodes)} of {len(self.nodes)} node(s) report allocatable "
                f"{GPU_RESOURCE} ({', '.join(f'{n.name}={as_number(n.allocatable)}' for n in self.nodes if n.ready)})"
            )
        return f"{NOT_READY_MESSAGE} ({len(self.nodes)} node(s) checked). {NEXT_STEP}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "ready": self.ready,
            "gpu_nodes": self.gpu_nodes,
            "total_gpus": as_number(self.total_gpus),
            "nodes": [n.to_dict() for n in self.nodes],
            "ignored": self.ignored,
            "message": self.message(),
        }


def as_number(value: Decimal | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def _items(doc: Any) -> list[Any]:
    if isinstance(doc, Mapping):
        if "items" in doc and isinstance(doc.get("items"), Sequence):
            return list(doc["items"])
        if doc.get("kind") == "Node" or "status" in doc or "metadata" in doc:
            return [doc]
        raise ValueError("nodes JSON: expected the output of `kubectl get nodes -o json` (an object with 'items')")
    if isinstance(doc, Sequence) and not isinstance(doc, str):
        return list(doc)
    if doc is None:
        return []
    raise ValueError(f"nodes JSON: expected a list of nodes or a List object, got {type(doc).__name__}")


def _resource(status: Mapping[str, Any], section: str) -> tuple[Decimal | None, str]:
    block = status.get(section)
    if not isinstance(block, Mapping) or GPU_RESOURCE not in block:
        return None, ""
    try:
        return parse_quantity(block[GPU_RESOURCE]), ""
    except QuantityError as exc:
        return None, f"{section}[{GPU_RESOURCE}]: {exc}"


def node_gpus(node: Mapping[str, Any]) -> NodeGpus:
    meta = found if isinstance(found := node.get("metadata"), Mapping) else {}
    name = str(meta.get("name", "<unnamed>"))
    status = node.get("status")
    if not isinstance(status, Mapping):
        return NodeGpus(name, None, None, "node has no status")
    alloc, p1 = _resource(status, "allocatable")
    cap, p2 = _resource(status, "capacity")
    return NodeGpus(name, alloc, cap, "; ".join(p for p in (p1, p2) if p))


def gpu_readiness(doc: Any) -> Readiness:
    """Decide GPU readiness from `kubectl get nodes -o json` output (already parsed)."""
    nodes: list[NodeGpus] = []
    ignored: list[str] = []
    for item in _items(doc):
        if not isinstance(item, Mapping):
            ignored.append(repr(item)[:40])
            continue
        kind = item.get("kind", "Node")
        if kind != "Node":
            meta = found if isinstance(found := item.get("metadata"), Mapping) else {}
            ignored.append(f"{kind}/{meta.get('name', '?')}")
            continue
        nodes.append(node_gpus(item))
    return Readiness(ready=any(n.ready for n in nodes), nodes=nodes, ignored=ignored)
