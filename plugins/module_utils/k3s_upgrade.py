"""Settings of k3s upgrades, one function per rule: used by the k3s role (plugins/filter/k3s_upgrade.py:
the settings check and the upgrade plan's groups) and by the CLI's inventory check (exit 2 before
anything runs).

- k3s_agent_batch: how many agents change release at a time. It becomes the `serial` of the play
  that upgrades agents (playbooks/cluster.yml), so it takes what Ansible's `serial` takes for one
  batch size: a whole number of hosts, or a percentage of the play's hosts ("25%"; Ansible rounds
  down and never below one host: lib/ansible/utils/helpers.py pct_to_int). Zero (Ansible: all at
  once) is refused: an upgrade of every agent together is what batches are for.
- k3s_upgrade_snapshot_name: the `--name` of `k3s etcd-snapshot save`; k3s adds -<node>-<unix time>
  (k3s-io/k3s pkg/etcd/snapshot.go) and the result names a file under <data-dir>/server/db/snapshots
  and a Kubernetes object (ETCDSnapshotFile), so it is held to lower-case letters, digits and `-`.
"""

from __future__ import annotations

import re
from typing import Any

from ansible_collections.openshell_auto.cluster.plugins.module_utils.hostile import shown

_BATCH = re.compile(r"[1-9][0-9]{0,5}|(?:[1-9][0-9]?|100)%")
_SNAPSHOT_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?")
# The suffix of the upgrade plan's group for a batch size ("25%" -> "25pct"; group names take no `%`).
GROUP_PREFIX = "openshell_k3s_upgrade_batch_"


def agent_batch_problem(value: Any) -> str | None:
    """k3s_agent_batch: a whole number of agents (1 or more) or a percentage ('1%' to '100%')."""
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if isinstance(text, str) and _BATCH.fullmatch(text.strip()):
        return None
    return f"`{shown(value)}` is not a batch size; use a whole number of agents (1 or more), or a percentage " \
           "of the agents that change release such as '25%'"


def agent_batch_group(value: Any) -> str:
    """The plan's group for agents that change release in batches of `value` (a valid size)."""
    return GROUP_PREFIX + str(value).strip().replace("%", "pct")


def snapshot_name_problem(value: Any) -> str | None:
    """k3s_upgrade_snapshot_name: 1 to 40 lower-case letters, digits and inner `-`."""
    if isinstance(value, str) and _SNAPSHOT_NAME.fullmatch(value):
        return None
    return f"`{shown(value)}` is not a snapshot name; use 1 to 40 lower-case letters, digits and `-` " \
           "(not first or last), e.g. openshell-pre-upgrade"
