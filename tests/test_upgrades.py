"""Upgrades: the settings' rules (plugins/module_utils/upgrades.py, shared by the k3s role and the
CLI's inventory check), the upgrade plan (roles/k3s/tasks/upgrade_plan.yml) against two k3s double
servers on loopback, the plays of playbooks/cluster.yml that select its groups (their `hosts`,
`serial` and `max_fail_percentage` read from the playbook itself), and the double's
`k3s etcd-snapshot save` (k3s-io/k3s pkg/cli/etcdsnapshot/etcd_snapshot.go, pkg/etcd/snapshot.go).
The whole upgrade on real systemd hosts: molecule/multinode (batches, drains, a stopped batch) and
molecule/ha (the etcd snapshot)."""

from __future__ import annotations

import json
import re
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from ansible_collections.openshell_auto.cluster.plugins.module_utils import upgrades
from helpers import K3S_SETTINGS_INVENTORY, K3S_SETTINGS_PLAY, REPO, ROLE_TEST_ENV, inventory_line_problems
from tests.test_k3s_double_plugin import DOUBLE, _free_port, _kubectl, two_servers  # noqa: F401 - fixture

OLD = "v1.35.2+k3s1"  # what the double's nodes report
NEW = "v1.35.3+k3s1"


# ---------------------------------------------------------------- the rules
@pytest.mark.parametrize("value", [1, 3, "2", "25%", "100%", "1%", 999999])
def test_batch_sizes_that_serial_takes(value: object) -> None:
    assert upgrades.agent_batch_problem(value) is None


@pytest.mark.parametrize("value", [0, "0", -1, "0%", "101%", "1.5", "25 %", "all", True, None, "", [1], "1\n2",
                                   1000000])
def test_batch_sizes_refused(value: object) -> None:
    problem = upgrades.agent_batch_problem(value)
    assert problem is not None and "whole number of agents" in problem and "\n" not in problem


def test_a_percentage_becomes_a_group_name() -> None:
    assert upgrades.agent_batch_group("25%", "k3s") == "openshell_k3s_upgrade_batch_25pct"
    assert upgrades.agent_batch_group(2, "toolkit") == "openshell_toolkit_upgrade_batch_2"
    with pytest.raises(ValueError, match="unknown upgrade plan"):
        upgrades.agent_batch_group(2, "chart")


def test_a_node_is_found_only_in_an_answer_of_the_api() -> None:
    listing = {"rc": 0, "stdout": json.dumps({"items": [{"metadata": {"name": "n1"}, "spec": {"unschedulable": True}},
                                                        {"metadata": {"name": "n2"}}]})}
    assert upgrades.api_node(listing, "n1") == {"metadata": {"name": "n1"}, "spec": {"unschedulable": True}}
    assert upgrades.api_node(listing, "n3") == {}
    assert upgrades.api_node({**listing, "rc": 1}, "n1") == {}  # no cluster yet: every node is new
    assert upgrades.api_node({"rc": 0, "stdout": "not json"}, "n1") == {}
    assert upgrades.api_node({}, "n1") == {} and upgrades.api_node(None, "n1") == {}


@pytest.mark.parametrize("value,ok", [("openshell-pre-upgrade", True), ("a", True), ("pre-1-35", True),
                                      ("Pre", False), ("-x", False), ("x-", False), ("a b", False), ("a/b", False),
                                      ("a" * 41, False), ("", False), (7, False), ("x;rm -rf /", False)])
def test_snapshot_names(value: object, ok: bool) -> None:
    assert (upgrades.snapshot_name_problem(value) is None) is ok


@pytest.mark.parametrize("line,problem", [
    ("openshell_upgrade_batch: 0", "field openshell_upgrade_batch: `0` is not a batch size"),
    ("openshell_upgrade_batch: '150%'", "field openshell_upgrade_batch: `150%` is not a batch size"),
    ("k3s_upgrade_snapshot_name: 'pre upgrade'", "field k3s_upgrade_snapshot_name: `pre upgrade` is not a snapshot"),
])
def test_the_cli_refuses_bad_upgrade_settings(tmp_path: Path, line: str, problem: str) -> None:
    problems = inventory_line_problems(tmp_path / "hosts.yml", line)
    assert any(problem in message for message in problems), problems


@pytest.mark.parametrize("variables,problem", [
    ({"openshell_upgrade_batch": "all"}, "field openshell_upgrade_batch: `all` is not a batch size"),
    ({"k3s_upgrade_snapshot_name": "Pre"}, "field k3s_upgrade_snapshot_name: `Pre` is not a snapshot name"),
])
def test_the_role_refuses_bad_upgrade_settings(run_play: Callable[..., subprocess.CompletedProcess[str]],
                                               variables: dict[str, object], problem: str) -> None:
    result = run_play(K3S_SETTINGS_INVENTORY, K3S_SETTINGS_PLAY,
                      extra_vars={"openshell_first_server": "localhost", **variables}, env=ROLE_TEST_ENV)
    assert result.returncode == 2 and problem in result.stdout, result.stdout


# ---------------------------------------------------------------- the plan and cluster.yml's plays
def _plays(playbook: str) -> dict[str, dict[str, Any]]:
    return {play["name"]: play for play in yaml.safe_load((REPO / "playbooks" / playbook).read_text())
            if "name" in play}


TOOLKIT_UPGRADE = "NVIDIA container toolkit and CDI specs on GPU agents that change version (in batches, each drained first)"
K3S_UPGRADE = "K3s agents that change release (in batches, each drained first)"
K3S_FIRST = "K3s first server, and the agents already on this release"


def _plan_playbook(playbook: str = "cluster.yml", plan: str = "Plan the upgrade (which nodes change release)",
                   names: tuple[str, ...] = ("Snapshot etcd before the first server changes release", K3S_FIRST,
                                             "K3s agents", K3S_UPGRADE)) -> str:
    """The playbook's plan play as it is, then the plays that select its groups with their own
    `hosts`, `serial` and `max_fail_percentage`, each printing who runs in which batch instead of
    changing anything."""
    plays = _plays(playbook)
    out: list[dict[str, Any]] = [{**plays[plan], "become": False}]
    for name in names:
        play = plays[name]
        keep = {k: play[k] for k in ("hosts", "serial", "max_fail_percentage") if k in play}
        out.append({"name": name, "gather_facts": False, **keep, "tasks": [
            {"name": "Report the batch", "ansible.builtin.debug": {
                "msg": "BATCH " + name + " {{ ansible_play_batch | join(',') }}"
                       " unschedulable={{ __k3s_was_unschedulable | default('-') }}"
                       " before={{ __k3s_release_before | default('-') }}"},
             "vars": {"__k3s_was_unschedulable": "{{ __k3s_plan_node.spec.unschedulable | default(false) }}",
                      "__k3s_release_before": "{{ __k3s_plan_node.status.nodeInfo.kubeletVersion | default('') }}",
                      "__k3s_plan_node": "{{ __openshell_nodes_before | openshell_auto.cluster.openshell_api_node("
                                         "k3s_node_name | default(inventory_hostname)) }}"}}]})
    return yaml.safe_dump(out, sort_keys=False)


def _plan_inventory(kubeconfig: Path, agents: dict[str, dict[str, object]]) -> str:
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    return yaml.safe_dump({"all": {
        "vars": {"openshell_first_server": "s1", "openshell_kubectl": [sys.executable, str(DOUBLE), "kubectl",
                                                                       "--kubeconfig", str(kubeconfig)]},
        "children": {
            "openshell_role_server": {"hosts": {"s1": local}},
            "openshell_role_first_server": {"hosts": {"s1": {}}},
            "openshell_role_agent": {"hosts": {name: {**local, **extra} for name, extra in agents.items()}},
            "openshell_role_gpu": {"hosts": dict.fromkeys(agents, {})}}}})


def _batches(stdout: str) -> list[tuple[str, str]]:
    """(play, hosts of the batch) per batch, in the order they ran."""
    return list(dict.fromkeys(re.findall(r'"msg": "BATCH (.+?) ([\w,-]+) unschedulable', stdout)))


def test_the_plan_groups_the_nodes_and_the_agents_upgrade_one_batch_at_a_time(
        two_servers: tuple[Path, Path, Path, int, int], run_play: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    kubeconfig = two_servers[0]
    # nodes the API knows: s1 and s2 (both on OLD); a3 is new; s2 is served by two inventory agents
    # (same node name) so that a batch holds more than one agent.
    agents = {"a1": {"k3s_node_name": "s2"}, "a2": {"k3s_node_name": "s2"}, "a3": {}, "a4": {"k3s_node_name": "s2"}}
    assert _kubectl(kubeconfig, "cordon", "s2").returncode == 0  # cordoned by its operator before the upgrade
    result = run_play(_plan_inventory(kubeconfig, agents), _plan_playbook(), extra_vars={"k3s_version": NEW},
                      env=ROLE_TEST_ENV)
    assert result.returncode == 0, result.stdout
    batches = _batches(result.stdout)
    upgrade = K3S_UPGRADE
    assert batches == [("Snapshot etcd before the first server changes release", "s1"),
                       (K3S_FIRST, "s1"), ("K3s agents", "a3"),
                       (upgrade, "a1"), (upgrade, "a2"), (upgrade, "a4")], batches
    assert "unschedulable=True before=v1.35.2+k3s1" in result.stdout
    assert "WARNING" not in result.stdout + result.stderr

    result = run_play(_plan_inventory(kubeconfig, agents), _plan_playbook(),
                      extra_vars={"k3s_version": NEW, "openshell_upgrade_batch": "67%"}, env=ROLE_TEST_ENV)
    assert result.returncode == 0, result.stdout
    # Ansible's percentage of the play's 3 hosts (lib/ansible/utils/helpers.py pct_to_int): int(2.01) = 2
    assert [b for b in _batches(result.stdout) if b[0] == upgrade] == [(upgrade, "a1,a2"), (upgrade, "a4")]
    result = run_play(_plan_inventory(kubeconfig, agents), _plan_playbook(),
                      extra_vars={"k3s_version": NEW, "openshell_upgrade_batch": 2}, env=ROLE_TEST_ENV)
    assert [b for b in _batches(result.stdout) if b[0] == upgrade] == [(upgrade, "a1,a2"), (upgrade, "a4")]


def test_nothing_upgrades_on_the_running_release_or_without_an_api(
        two_servers: tuple[Path, Path, Path, int, int], run_play: Callable[..., subprocess.CompletedProcess[str]],
        tmp_path: Path) -> None:
    kubeconfig = two_servers[0]
    agents = {"a1": {"k3s_node_name": "s2"}, "a2": {}}
    result = run_play(_plan_inventory(kubeconfig, agents), _plan_playbook(), extra_vars={"k3s_version": OLD},
                      env=ROLE_TEST_ENV)
    assert result.returncode == 0, result.stdout
    # a re-run: a1's node is on the release already, so it is checked beside the first server; a2 joins
    assert _batches(result.stdout) == [(K3S_FIRST, "s1,a1"), ("K3s agents", "a2")]
    assert "WARNING" not in result.stdout + result.stderr
    # no cluster yet (nothing answers): every node joins, none is drained or snapshotted
    closed = tmp_path / "closed.yaml"
    closed.write_text(kubeconfig.read_text().replace(str(two_servers[3]), str(_free_port())))
    result = run_play(_plan_inventory(closed, agents), _plan_playbook(), extra_vars={"k3s_version": NEW},
                      env=ROLE_TEST_ENV)
    assert result.returncode == 0, result.stdout
    assert _batches(result.stdout) == [(K3S_FIRST, "s1"), ("K3s agents", "a1,a2")]


@pytest.mark.parametrize("agents,problem", [
    ({"a1": {"k3s_node_name": "s2", "openshell_upgrade_batch": 0}, "a2": {}},
     "field openshell_upgrade_batch on a1: `0` is not a batch size"),
    ({"a1": {"k3s_node_name": "s2", "openshell_upgrade_batch": 2}, "a2": {"k3s_node_name": "s2", "openshell_upgrade_batch": "50%"}},
     "field openshell_upgrade_batch: the agents that change have different values (2, 50%)"),
])
def test_a_bad_or_split_batch_size_stops_the_plan(
        two_servers: tuple[Path, Path, Path, int, int], run_play: Callable[..., subprocess.CompletedProcess[str]],
        agents: dict[str, dict[str, object]], problem: str) -> None:
    result = run_play(_plan_inventory(two_servers[0], agents), _plan_playbook(), extra_vars={"k3s_version": NEW},
                      env=ROLE_TEST_ENV)
    assert result.returncode == 2 and problem in result.stdout and "Nothing was changed" in result.stdout, \
        result.stdout
    assert _batches(result.stdout) == []  # no later play ran


def _dpkg_says(version: str) -> dict[str, object]:
    """The toolkit role's package query (its dpkg-query line format) answering `version` installed."""
    return {"__nvidia_container_toolkit_query": {
        "Debian": ["echo", f"nvidia-container-toolkit-base installed {version} hold"],
        "RedHat": ["echo", f"nvidia-container-toolkit-base installed {version} hold"]}}


def test_the_toolkit_plan_drains_only_cluster_agents_whose_version_changes(
        two_servers: tuple[Path, Path, Path, int, int], run_play: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    kubeconfig = two_servers[0]
    agents = {"a1": {"k3s_node_name": "s2"}, "a2": {}, "a3": {"k3s_node_name": "s2"}}  # a2: not in the cluster yet
    names = ("NVIDIA container toolkit and CDI specs on GPU hosts", TOOLKIT_UPGRADE)
    plan = "Plan a toolkit change (which GPU agents change version)"
    result = run_play(_plan_inventory(kubeconfig, agents), _plan_playbook("gpu_hosts.yml", plan, names),
                      extra_vars={"nvidia_container_toolkit_version": "1.18.2-1", **_dpkg_says("1.18.1-1")},
                      env=ROLE_TEST_ENV)
    assert result.returncode == 0, result.stdout
    assert _batches(result.stdout) == [(names[0], "a2"), (TOOLKIT_UPGRADE, "a1"), (TOOLKIT_UPGRADE, "a3")], \
        result.stdout
    assert "WARNING" not in result.stdout + result.stderr
    # the pinned version already installed: every GPU host at once, nothing drained
    result = run_play(_plan_inventory(kubeconfig, agents), _plan_playbook("gpu_hosts.yml", plan, names),
                      extra_vars={"nvidia_container_toolkit_version": "1.18.2-1", **_dpkg_says("1.18.2-1"),
                                  "openshell_upgrade_batch": "100%"}, env=ROLE_TEST_ENV)
    assert result.returncode == 0, result.stdout
    assert _batches(result.stdout) == [(names[0], "a1,a2,a3")]
    # a bad batch size stops the plan before any host changed
    result = run_play(_plan_inventory(kubeconfig, agents), _plan_playbook("gpu_hosts.yml", plan, names),
                      extra_vars={"nvidia_container_toolkit_version": "1.18.2-1", **_dpkg_says("1.18.1-1"),
                                  "openshell_upgrade_batch": "0%"}, env=ROLE_TEST_ENV)
    assert result.returncode == 2 and "field openshell_upgrade_batch on a1, a2, a3: `0%`" in result.stdout, \
        result.stdout
    assert _batches(result.stdout) == []


# ---------------------------------------------------------------- the double's etcd-snapshot
def _snapshot(data_dir: Path, port: int, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(DOUBLE), "etcd-snapshot", "save", "--config", str(data_dir / "none.yaml"),
                           "--data-dir", str(data_dir), "--server", f"https://127.0.0.1:{port}", *args],
                          capture_output=True, text=True, timeout=60, check=False)


def test_a_server_without_etcd_has_nothing_to_snapshot(two_servers: tuple[Path, Path, Path, int, int]) -> None:
    _, d1, _, p1, _ = two_servers  # the first server runs without cluster-init: sqlite in k3s
    out = _snapshot(d1, p1)
    assert out.returncode == 1
    assert 'level=fatal msg="Error: see server log for details: etcd datastore disabled"' in out.stderr
    assert not (d1 / "server" / "db" / "snapshots").exists()


def test_a_server_with_etcd_saves_a_named_snapshot(two_servers: tuple[Path, Path, Path, int, int]) -> None:
    _, _, d2, _, p2 = two_servers  # the joined server: an etcd member
    out = _snapshot(d2, p2, "--name", "openshell-pre-upgrade")
    assert out.returncode == 0, out.stderr
    names = re.findall(r'msg="Snapshot (\S+) saved\."', out.stderr)
    assert len(names) == 1 and re.fullmatch(r"openshell-pre-upgrade-s2-\d{10}", names[0]), out.stderr
    path = d2 / "server" / "db" / "snapshots" / names[0]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert "nodes" in json.loads(path.read_text())  # the datastore's content at the time


def test_an_unknown_flag_is_refused(two_servers: tuple[Path, Path, Path, int, int]) -> None:
    _, _, d2, _, p2 = two_servers
    out = _snapshot(d2, p2, "--etcd-snapshot-compres")
    assert out.returncode == 1 and "flag provided but not defined: -etcd-snapshot-compres" in out.stderr
    assert not (d2 / "server" / "db" / "snapshots").exists()


def test_the_snapshot_needs_the_token_and_a_running_server(two_servers: tuple[Path, Path, Path, int, int],
                                                           tmp_path: Path) -> None:
    _, _, d2, _, p2 = two_servers
    empty = tmp_path / "empty"
    empty.mkdir()
    out = _snapshot(empty, p2)
    assert out.returncode == 1 and f"open {empty}/server/token: no such file or directory" in out.stderr
    port = _free_port()
    out = _snapshot(d2, port)
    assert out.returncode == 1 and f'Error: Post "https://127.0.0.1:{port}/db/snapshot"' in out.stderr


# ---------------------------------------------------------------- the readiness wait on a re-run
def _node(release: str, ready: str = "True") -> dict[str, Any]:
    return {"metadata": {"name": "n1"}, "status": {"nodeInfo": {"kubeletVersion": release},
                                                   "conditions": [{"type": "Ready", "status": ready}]}}


def test_a_node_is_settled_only_when_the_api_had_it_ready_on_the_release() -> None:
    assert upgrades.node_settled(_node(OLD), OLD)
    assert not upgrades.node_settled(_node(OLD), NEW)  # upgrading
    assert not upgrades.node_settled(_node(OLD, "False"), OLD)
    assert not upgrades.node_settled(_node(OLD, "Unknown"), OLD)
    assert not upgrades.node_settled({}, OLD)  # new node, or no API answer
    assert not upgrades.node_settled({"status": {"nodeInfo": {"kubeletVersion": OLD}}}, OLD)  # no conditions
    assert not upgrades.node_settled({"status": {"nodeInfo": {"kubeletVersion": OLD}, "conditions": "x"}}, OLD)


@pytest.mark.parametrize("start,restart,node,waits", [
    ({"changed": False}, None, _node(OLD), False),               # a re-run: nothing to wait for
    ({"changed": True}, None, _node(OLD), True),                 # k3s was not running (or not enabled)
    ({"changed": False}, {"changed": True}, _node(OLD), True),   # restarted by the handler
    ({"changed": False}, {"changed": False, "skipped": True}, _node(OLD), False),
    ({"changed": False}, None, _node(OLD, "False"), True),       # NotReady before the run
    ({"changed": False}, None, _node("v1.35.1+k3s1"), True),     # on another release before the run
    ({"changed": False}, None, {}, True),                        # new node, or the role run without the plan
])
def test_the_readiness_wait_is_left_out_only_for_a_settled_node_nothing_restarted(
        run_play: Callable[..., subprocess.CompletedProcess[str]], start: dict[str, bool],
        restart: dict[str, bool] | None, node: dict[str, Any], waits: bool) -> None:
    """The `when` of roles/k3s/tasks/service.yml's wait step, as it is in the file, with the filter."""
    steps = yaml.safe_load((REPO / "roles" / "k3s" / "tasks" / "service.yml").read_text())
    wait = next(step for step in steps if step["name"] == "Wait until the node is Ready")
    facts = {"__k3s_start": start, "__k3s_plan_node": node, "k3s_version": OLD,
             **({"__k3s_restart": restart} if restart is not None else {})}
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "Set what the role registered", "ansible.builtin.set_fact": facts},
        {"name": "The wait step", "ansible.builtin.debug": {"msg": "WAITS"}, "when": wait["when"]}]}]
    result = run_play("localhost ansible_connection=local\n", yaml.safe_dump(play), env=ROLE_TEST_ENV)
    assert result.returncode == 0, result.stdout
    assert ("WAITS" in result.stdout) is waits, result.stdout
