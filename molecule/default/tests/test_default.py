"""Checks on the hosts after `playbooks/site.yml` converged (testinfra, podman:// backend)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
from molecule_hosts import podman_hosts  # noqa: E402

testinfra_hosts = podman_hosts()


def test_systemd_is_pid1(host) -> None:
    assert host.process.get(pid=1).comm == "systemd"
    assert host.run("systemctl is-system-running --wait").stdout.strip() in {"running", "degraded"}
