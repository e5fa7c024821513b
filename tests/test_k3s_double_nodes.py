"""The k3s test double (tests/doubles/k3s/k3s) where it imitates kubectl's node operations, which
playbooks/remove_node.yml relies on (kubernetes/kubernetes staging/src/k8s.io/kubectl/pkg/drain/
filters.go and pkg/cmd/drain/drain.go, v1.35):

- cordon sets spec.unschedulable ("node/N cordoned", then "already cordoned"); the scheduler skips it;
- drain refuses, naming them, pods that declare no controller (without --force), DaemonSet-managed
  pods (without --ignore-daemonsets) and pods with emptyDir volumes (without --delete-emptydir-data);
  it leaves the node cordoned and exits 1;
- a deleted node does not come back while its k3s keeps running (the kubelet registers once per start).
Two real double servers run on loopback (the second joined to the first, carrying a node of its
own); both are stopped at the end of the test."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.test_k3s_double_plugin import _kubectl, two_servers  # noqa: F401 - two_servers is a fixture


@pytest.fixture
def cluster(two_servers: tuple[Path, Path, Path, int, int]) -> Path:
    """Two double servers on loopback that both posted their node (test_k3s_double_plugin's fixture):
    the first server's kubeconfig."""
    return two_servers[0]


def _apply_pod(kubeconfig: Path, tmp_path: Path, name: str, node: str, **spec: object) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
           "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sleep", "infinity"]}],
                    "nodeSelector": {"kubernetes.io/hostname": node}, **spec}}
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(pod))
    out = _kubectl(kubeconfig, "apply", "-f", str(path))
    assert out.returncode == 0, out.stderr


def _node(kubeconfig: Path, name: str) -> dict | None:
    out = _kubectl(kubeconfig, "get", "nodes", "-o", "json")
    assert out.returncode == 0, out.stderr
    return next((n for n in json.loads(out.stdout)["items"] if n["metadata"]["name"] == name), None)


def _pod_node(kubeconfig: Path, name: str) -> str | None:
    out = _kubectl(kubeconfig, "get", "pods", "-o", "json")
    pod = next((p for p in json.loads(out.stdout)["items"] if p["metadata"]["name"] == name), None)
    return None if pod is None else str(pod["spec"].get("nodeName") or "")


def test_cordon_marks_the_node_unschedulable_and_reports_a_repeat(cluster: Path, tmp_path: Path) -> None:
    first = _kubectl(cluster, "cordon", "s2")
    again = _kubectl(cluster, "cordon", "s2")
    assert (first.returncode, first.stdout.strip()) == (0, "node/s2 cordoned")
    assert (again.returncode, again.stdout.strip()) == (0, "node/s2 already cordoned")
    node = _node(cluster, "s2")
    assert node is not None and node["spec"]["unschedulable"] is True
    _apply_pod(cluster, tmp_path, "pinned", "s2")
    assert _pod_node(cluster, "pinned") == "", "a cordoned node gets no new pod"
    out = _kubectl(cluster, "uncordon", "s2")
    assert (out.returncode, out.stdout.strip()) == (0, "node/s2 uncordoned")
    assert _pod_node(cluster, "pinned") == "s2"
    missing = _kubectl(cluster, "cordon", "nope")
    assert missing.returncode == 1 and 'nodes "nope" not found' in missing.stderr


def test_drain_names_the_pods_that_would_not_leave_and_keeps_the_node_cordoned(cluster: Path, tmp_path: Path) -> None:
    _apply_pod(cluster, tmp_path, "bare", "s2")
    _apply_pod(cluster, tmp_path, "scratch", "s2", volumes=[{"name": "tmp", "emptyDir": {}}])
    _apply_pod(cluster, tmp_path, "elsewhere", "s1")
    out = _kubectl(cluster, "drain", "s2", "--ignore-daemonsets", "--timeout=30s")
    assert out.returncode == 1
    assert out.stdout.strip() == "node/s2 cordoned"
    assert 'error: unable to drain node "s2" due to error: ' in out.stderr
    assert "cannot delete Pods that declare no controller (use --force to override): default/bare" in out.stderr
    assert ("cannot delete Pods with local storage (use --delete-emptydir-data to override): default/scratch"
            in out.stderr)
    assert "default/elsewhere" not in out.stderr
    node = _node(cluster, "s2")
    assert node is not None and node["spec"].get("unschedulable") is True
    assert _pod_node(cluster, "bare") == "s2", "a refused drain evicts nothing"
    # with the overrides every pod leaves; the pod on the other node stays
    out = _kubectl(cluster, "drain", "s2", "--ignore-daemonsets", "--delete-emptydir-data", "--force")
    assert out.returncode == 0, out.stderr
    assert "node/s2 already cordoned" in out.stdout and "node/s2 drained" in out.stdout
    assert "evicting pod default/bare" in out.stdout and "evicting pod default/scratch" in out.stdout
    assert _pod_node(cluster, "bare") is None and _pod_node(cluster, "elsewhere") == "s1"


def test_drain_refuses_a_timeout_that_is_no_duration(cluster: Path) -> None:
    out = _kubectl(cluster, "drain", "s2", "--timeout=soon")
    assert out.returncode == 1 and 'invalid argument "soon" for "--timeout" flag' in out.stderr
    node = _node(cluster, "s2")
    assert node is not None and not node["spec"].get("unschedulable"), "nothing was cordoned"


def test_a_deleted_node_stays_deleted_while_its_k3s_runs(cluster: Path) -> None:
    out = _kubectl(cluster, "delete", "node", "s2")
    assert (out.returncode, out.stdout.strip()) == (0, 'node "s2" deleted')
    time.sleep(5)  # two heartbeats of the still-running s2 (every 2 s)
    assert _node(cluster, "s2") is None
    assert _node(cluster, "s1") is not None
    again = _kubectl(cluster, "delete", "node", "s2")
    assert again.returncode == 1 and 'nodes "s2" not found' in again.stderr
