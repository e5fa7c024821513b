"""site.yml checks every role's variables for every host before any host is changed.

Hosts are 127.0.0.1 on a closed port behind ANSIBLE_SSH_EXECUTABLE=/bin/false: no packet leaves,
and the play headers show how far the run got."""

from __future__ import annotations

import re
import subprocess
import textwrap
from collections.abc import Callable

import pytest

from helpers import REPO

INVENTORY = """\
all:
  vars:
    ansible_host: 127.0.0.1
    ansible_port: 9
  children:
    openshell_servers:
      hosts:
        server1:
    openshell_agents:
      hosts:
        cpu1:
        gpu1:
          openshell_gpu: true
{extra}"""


Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def site(run_play: Run) -> Run:
    return lambda extra="": run_play(INVENTORY.format(extra=textwrap.indent(extra, " " * 10)),
                                     REPO / "playbooks" / "site.yml", timeout=300,
                                     env={"ANSIBLE_SSH_EXECUTABLE": "/bin/false", "ANSIBLE_SSH_RETRIES": "0"})


@pytest.mark.parametrize(("extra", "needle"), [
    ("nvidia_cdi_refresh_enabled: maybe\n", "argument 'nvidia_cdi_refresh_enabled'"),
    ("k3s_api_port: six-four-four-three\n", "argument 'k3s_api_port'"),
    ("k3s_ready_retries: lots\n", "argument 'k3s_ready_retries'"),
])
def test_a_bad_value_on_the_last_agent_stops_the_run_before_any_host(site: Run, extra: str, needle: str) -> None:
    result = site(extra)
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert needle in out, out
    after = out.split("TASK [Check the variables of each role that runs on this host", 1)[1]
    assert "PLAY [" not in after, "a later play ran after a variable failed its check"


def test_good_values_pass_the_check_and_the_run_goes_on(site: Run) -> None:
    result = site("nvidia_cdi_refresh_enabled: true\n")
    out = result.stdout + result.stderr
    assert "Validation of arguments failed" not in out, out
    after = out.split("TASK [Check the variables of each role that runs on this host", 1)[1]
    later = [p for p in re.findall(r"^PLAY \[([^\]]+)\]", after, re.MULTILINE) if p != "Classify hosts by cluster role"]
    assert later, out  # the run went on to the plays after the check (the first that needs the hosts)
