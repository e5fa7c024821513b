"""GPU readiness from node JSON (tests/data/nodes/, in the shape of `kubectl get nodes -o json`)."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from ansible_collections.openshell_auto.cluster.plugins.module_utils import readiness
from ansible_collections.openshell_auto.cluster.plugins.module_utils.readiness import QuantityError, gpu_readiness, parse_quantity

DATA = Path(__file__).parent / "data" / "nodes"


def _load(name: str) -> object:
    return json.loads((DATA / name).read_text())


@pytest.mark.parametrize(
    "fname,ready,gpu_nodes,node_count",
    [
        ("zero-gpus.json", False, [], 3),
        ("gpu-on-one-of-three.json", True, ["gpu1"], 3),
        ("allocatable-zero.json", False, [], 2),
        ("missing-status.json", False, [], 2),
        ("runtimeclass-no-gpus.json", False, [], 1),
    ],
)
def test_recorded_nodes(fname: str, ready: bool, gpu_nodes: list[str], node_count: int) -> None:
    result = gpu_readiness(_load(fname))
    assert result.ready is ready
    assert result.gpu_nodes == gpu_nodes
    assert len(result.nodes) == node_count


def test_runtimeclass_is_ignored() -> None:
    result = gpu_readiness(_load("runtimeclass-no-gpus.json"))
    assert result.ignored == ["RuntimeClass/nvidia", "RuntimeClass/nvidia-experimental"]
    assert "not GPU-enabled" in result.message()


def test_missing_status_is_explained() -> None:
    result = gpu_readiness(_load("missing-status.json"))
    assert [n.problem for n in result.nodes] == ["node has no status", "node has no status"]


def test_ready_message_and_dict() -> None:
    result = gpu_readiness(_load("gpu-on-one-of-three.json"))
    assert result.total_gpus == 2
    d = result.to_dict()
    assert d["ready"] is True and d["gpu_nodes"] == ["gpu1"] and d["total_gpus"] == 2
    assert "1 of 3 node(s)" in result.message()


def test_not_ready_message_has_openshell_meaning_and_next_step() -> None:
    msg = gpu_readiness(_load("zero-gpus.json")).message()
    assert msg.startswith("GPU sandbox requested, but the cluster is not GPU-enabled")
    assert "openshell-auto doctor" in msg


def test_single_node_and_plain_list_inputs() -> None:
    doc = _load("gpu-on-one-of-three.json")
    items = doc["items"]  # type: ignore[index]
    assert gpu_readiness(items).ready
    assert gpu_readiness(items[1]).ready
    assert not gpu_readiness(items[0]).ready
    assert not gpu_readiness({"kind": "List", "items": []}).ready


def test_unparseable_quantity_counts_as_none() -> None:
    node = {"kind": "Node", "metadata": {"name": "n"}, "status": {"allocatable": {"nvidia.com/gpu": "lots"}}}
    result = gpu_readiness({"items": [node]})
    assert not result.ready
    assert "not a Kubernetes quantity" in result.nodes[0].problem


def test_bad_document() -> None:
    with pytest.raises(ValueError, match="expected the output of `kubectl get nodes -o json`"):
        gpu_readiness({"foo": 1})
    with pytest.raises(ValueError, match="expected a list of nodes"):
        gpu_readiness("text")


@pytest.mark.parametrize(
    "text,value",
    [("2", 2), ("0", 0), (1, 1), ("500m", Decimal("0.5")), ("1Ki", 1024), ("2k", 2000),
     ("1e3", 1000), ("1.5", Decimal("1.5")), ("+3", 3), ("-1", -1), ("4E0", 4)],
)
def test_quantities(text: object, value: object) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "two", "1Kb", "1..2", True, None, "1 Ki"])
def test_bad_quantities(text: object) -> None:
    with pytest.raises(QuantityError):
        parse_quantity(text)


def test_cli_ready_exit_codes(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "openshell_auto", "sandbox", "ready", *args],
            capture_output=True, text=True, check=False,
        )

    ok = run("--nodes-json", str(DATA / "gpu-on-one-of-three.json"), "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["gpu_nodes"] == ["gpu1"]
    no = run("--nodes-json", str(DATA / "runtimeclass-no-gpus.json"))
    assert no.returncode == 1
    assert readiness.NOT_READY_MESSAGE in no.stdout
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    err = run("--nodes-json", str(bad))
    assert err.returncode == 2 and "not JSON" in err.stderr
