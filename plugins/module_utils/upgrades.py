"""Settings of k3s upgrades, one function per rule: used by the k3s role (plugins/filter/upgrades.py:
the settings check and the upgrade plan's groups) and by the CLI's inventory check (exit 2 before
anything runs).

- openshell_upgrade_batch: how many agents change release at a time. It becomes the `serial` of the play
  that upgrades agents (playbooks/cluster.yml), so it takes what Ansible's `serial` takes for one
  batch size: a whole number of hosts, or a percentage of the play's hosts ("25%"; Ansible rounds
  down and never below one host: lib/ansible/utils/helpers.py pct_to_int). Zero (Ansible: all at
  once) is refused: an upgrade of every agent together is what batches are for.
- k3s_upgrade_snapshot_name: the `--name` of `k3s etcd-snapshot save`; k3s adds -<node>-<unix time>
  (k3s-io/k3s pkg/etcd/snapshot.go) and the result names a file under <data-dir>/server/db/snapshots
  and a Kubernetes object (ETCDSnapshotFile), so it is held to lower-case letters, digits and `-`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from ansible_collections.openshell_auto.cluster.plugins.module_utils.hostile import shown

_BATCH = re.compile(r"[1-9][0-9]{0,5}|(?:[1-9][0-9]?|100)%")
_SNAPSHOT_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?")
# What an upgrade plan changes, and the prefix of its batch groups: openshell_<what>_upgrade_batch_<size>
# ("25%" -> "25pct"; group names take no `%`).
PLANS = ("k3s", "toolkit")


def agent_batch_problem(value: Any) -> str | None:
    """openshell_upgrade_batch: a whole number of agents (1 or more) or a percentage ('1%' to '100%')."""
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if isinstance(text, str) and _BATCH.fullmatch(text.strip()):
        return None
    return f"`{shown(value)}` is not a batch size; use a whole number of agents (1 or more), or a percentage " \
           "of the agents that change such as '25%'"


def agent_batch_group(value: Any, what: str) -> str:
    """The group of the `what` plan (k3s, toolkit) for agents that change in batches of `value` (a
    valid size)."""
    if what not in PLANS:
        raise ValueError(f"unknown upgrade plan {what!r}; one of {', '.join(PLANS)}")
    return f"openshell_{what}_upgrade_batch_" + str(value).strip().replace("%", "pct")


def snapshot_name_problem(value: Any) -> str | None:
    """k3s_upgrade_snapshot_name: 1 to 40 lower-case letters, digits and inner `-`."""
    if isinstance(value, str) and _SNAPSHOT_NAME.fullmatch(value):
        return None
    return f"`{shown(value)}` is not a snapshot name; use 1 to 40 lower-case letters, digits and `-` " \
           "(not first or last), e.g. openshell-pre-upgrade"


def api_node(result: Any, name: str) -> dict[str, Any]:
    """The Node object called `name` in a registered `kubectl get nodes -o json` (roles/openshell/
    tasks/nodes_read.yml), or {} when the API does not know it, did not answer, or the read did not
    run (a node that counts as new: nothing to drain, nothing to upgrade)."""
    if not isinstance(result, Mapping) or result.get("rc") != 0:
        return {}
    try:
        items = json.loads(str(result.get("stdout") or "")).get("items") or []
    except (ValueError, AttributeError):
        return {}
    return next((dict(item) for item in items if isinstance(item, Mapping)
                 and (item.get("metadata") or {}).get("name") == name), {})


def node_settled(node: Any, release: str) -> bool:
    """The node (an `api_node` object, read before the run changed anything) was Ready on `release`:
    when this run then neither started nor restarted its k3s, the role's readiness wait has nothing
    to wait for (roles/k3s/tasks/service.yml). Anything else, an unknown node included, is not."""
    if not isinstance(node, Mapping) or not release:
        return False
    status = node.get("status") or {}
    if not isinstance(status, Mapping) or (status.get("nodeInfo") or {}).get("kubeletVersion") != release:
        return False
    conditions = status.get("conditions")
    if not isinstance(conditions, list):
        return False
    return any(isinstance(c, Mapping) and c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
