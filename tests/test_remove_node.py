"""`openshell-auto remove-node -i INV NODE`: input refused before anything runs (exit 2), the
removal rule (plugins/module_utils/node_removal.py) and its filter for playbooks/remove_node.yml."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ansible_collections.openshell_auto.cluster.plugins.filter.openshell_nodes import (
    openshell_node_removal_problem,
)
from ansible_collections.openshell_auto.cluster.plugins.module_utils.node_removal import (
    node_removal_problem,
    ready_by_host,
)
from openshell_auto.cli import COMMANDS, main

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "inventories" / "example" / "hosts.yml"

THREE_SERVERS = """\
all:
  children:
    openshell_servers:
      hosts:
        s1: {ansible_host: 127.0.0.1}
        s2: {ansible_host: 127.0.0.1}
        s3: {ansible_host: 127.0.0.1}
    openshell_agents:
      hosts:
        a1: {ansible_host: 127.0.0.1, openshell_gpu: true}
"""


def _nodes(**ready: bool) -> dict[str, Any]:
    return {"items": [{"metadata": {"name": name},
                       "status": {"conditions": [{"type": "Ready", "status": "True" if ok else "Unknown"}]}}
                      for name, ok in ready.items()]}


def _run(tmp_path: Path, *args: str) -> Any:
    return CliRunner().invoke(main, ["remove-node", *args, "--artifacts-dir", str(tmp_path / "runs")])


@pytest.fixture
def three(tmp_path: Path) -> Path:
    path = tmp_path / "hosts.yml"
    path.write_text(THREE_SERVERS)
    return path


# ---------------------------------------------------------------- the rule
def test_an_agent_may_always_leave() -> None:
    assert node_removal_problem("a1", ["s1", "a1"], ["s1"], "s1", {"s1": False}) is None


def test_the_last_server_is_refused() -> None:
    problem = node_removal_problem("s1", ["s1", "a1"], ["s1"], "s1")
    assert problem is not None and "last server" in problem and "field node" in problem


def test_the_first_server_is_refused_with_the_fix() -> None:
    problem = node_removal_problem("s1", ["s1", "s2"], ["s1", "s2"], "s1", {"s1": True, "s2": True})
    assert problem is not None and "openshell_first_server" in problem and "s2" in problem


def test_a_server_leaves_only_while_every_other_server_is_ready() -> None:
    servers = ["s1", "s2", "s3"]
    assert node_removal_problem("s3", servers, servers, "s1", {"s1": True, "s2": True, "s3": False}) is None
    problem = node_removal_problem("s3", servers, servers, "s1", {"s1": True, "s2": False, "s3": True})
    assert problem is not None and "s2 is not Ready" in problem and "quorum" in problem
    # a server without a Node object counts as not Ready
    problem = node_removal_problem("s3", servers, servers, "s1", {"s1": True, "s3": True})
    assert problem is not None and "s2" in problem
    # Ready unknown (the CLI, before connecting): only the static checks
    assert node_removal_problem("s3", servers, servers, "s1", None) is None


@pytest.mark.parametrize("node", ["", "all", "s*", "s1,a1", "s1:a1", "a1;reboot", "$(id)", "a1\n", "../a1",
                                  "a" * 500, 7, None])
def test_a_name_that_is_no_inventory_host_is_refused(node: Any) -> None:
    problem = node_removal_problem(node, ["s1", "a1"], ["s1"], "s1")
    assert problem is not None and problem.startswith("field node: ")
    assert len(problem) < 300 and "\n" not in problem


def test_ready_by_host_maps_node_names_to_hosts() -> None:
    nodes = _nodes(**{"node-s1": True, "a1": False})
    assert ready_by_host(nodes, {"s1": "node-s1", "a1": "a1", "s2": "s2"}) == {"s1": True, "a1": False, "s2": False}


def test_the_filter_reads_the_cluster_and_uses_the_same_rule() -> None:
    servers = ["s1", "s2", "s3"]
    nodes = _nodes(s1=True, s2=False, s3=True)
    names = {"s1": "s1", "s2": "s2", "s3": "s3", "a1": ""}
    assert "s2 is not Ready" in openshell_node_removal_problem("s3", servers + ["a1"], servers, "s1", nodes, names)
    assert openshell_node_removal_problem("a1", servers + ["a1"], servers, "s1", nodes, names) == ""
    assert "no host" in openshell_node_removal_problem("all", servers + ["a1"], servers, "s1", nodes, names)


# ---------------------------------------------------------------- the command
def test_remove_node_is_registered() -> None:
    assert COMMANDS["remove-node"] == "openshell_auto.commands.remove_node:remove_node"


@pytest.mark.parametrize("node", ["nope", "all", "gpu*", "gpu1,gpu2", "gpu1;id", "$(touch /tmp/x)", "gpu1 ", "ser ver1"])
def test_hostile_or_unknown_node_names_exit_2_and_run_nothing(tmp_path: Path, node: str) -> None:
    result = _run(tmp_path, "-i", str(EXAMPLE), "--yes", node)
    assert result.exit_code == 2, result.output
    assert "field node" in result.output and "no host of the inventory" in result.output
    assert not (tmp_path / "runs").exists(), "no run directory: nothing was started"


def test_the_last_server_exits_2(tmp_path: Path) -> None:
    result = _run(tmp_path, "-i", str(EXAMPLE), "--yes", "server1")
    assert result.exit_code == 2 and "last server" in result.output
    assert not (tmp_path / "runs").exists()


def test_json_output_reports_the_refusal(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["remove-node", "-i", str(EXAMPLE), "--yes", "--json", "server1",
                                       "--artifacts-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2
    document = json.loads(result.stdout.splitlines()[0])
    assert document["status"] == "invalid_input" and "last server" in document["errors"][0]


def test_the_first_server_exits_2(tmp_path: Path, three: Path) -> None:
    result = _run(tmp_path, "-i", str(three), "--yes", "s1")
    assert result.exit_code == 2 and "openshell_first_server" in result.output


def test_a_first_server_set_in_the_inventory_is_the_one_refused(tmp_path: Path, three: Path) -> None:
    result = _run(tmp_path, "-i", str(three), "-e", "openshell_first_server=s2", "s2")
    assert result.exit_code == 2 and "s2 is the first server" in result.output


def test_limit_is_refused(tmp_path: Path) -> None:
    result = _run(tmp_path, "-i", str(EXAMPLE), "--yes", "-l", "gpu1", "gpu1")
    assert result.exit_code == 2 and "field limit" in result.output


def test_without_yes_exits_2(tmp_path: Path) -> None:
    result = _run(tmp_path, "-i", str(EXAMPLE), "gpu1")
    assert result.exit_code == 2 and "--yes" in result.output and "field yes" in result.output
    assert not (tmp_path / "runs").exists()


def test_a_bad_inventory_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("all:\n  children:\n    openshell_agents:\n      hosts:\n        a1: {}\n")
    result = _run(tmp_path, "-i", str(bad), "--yes", "a1")
    assert result.exit_code == 2
    assert not (tmp_path / "runs").exists()


def test_drain_timeout_is_bounded(tmp_path: Path) -> None:
    for value in ("0", "-5", "999999", "soon"):
        result = _run(tmp_path, "-i", str(EXAMPLE), "--yes", "--drain-timeout", value, "gpu1")
        assert result.exit_code == 2, value


def test_a_valid_removal_runs_the_playbook_with_the_node_as_data(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def fake_execute(playbook: str, **options: Any) -> int:
        seen.update(options, playbook=playbook)
        return 0

    monkeypatch.setattr("openshell_auto.commands.remove_node.execute_playbook", fake_execute)
    result = _run(tmp_path, "-i", str(EXAMPLE), "--yes", "--gpu-layer", "--drain-timeout", "90",
                  "-e", '{"openshell_remove_node": "server1", "openshell_reset_gpu_layer": false}', "gpu2")
    assert result.exit_code == 0, result.output
    assert seen["playbook"] == "remove_node.yml"
    assert seen["limit"] is None
    # last, so it wins over the -e that named another node
    assert json.loads(seen["extra_vars"][-1]) == {"openshell_remove_node": "gpu2", "openshell_reset_gpu_layer": True,
                                                  "openshell_remove_node_drain_timeout": 90}

