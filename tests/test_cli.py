"""CLI behaviour: --help, exit codes 0/1/2/130, --json shape, nothing run on bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from openshell_auto import cli
from openshell_auto.options import execute_playbook, playbook_options

from helpers import INVENTORIES, REPO, TEST_PLAYBOOK

HOST_KEYS = {"ok", "changed", "failed", "unreachable", "skipped", "rescued", "ignored"}
RESULT_KEYS = {"playbook", "status", "rc", "exit_code", "artifacts_dir", "duration_s", "hosts", "failures", "message",
               "warnings", "notes"}


@click.command()
@playbook_options
def cli_testrun(**options: Any) -> None:
    """Run tests/playbooks/local-ok.yml (test-only command)."""
    raise SystemExit(execute_playbook(str(TEST_PLAYBOOK), **options))


@pytest.fixture
def with_testrun(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(cli.COMMANDS, "testrun", f"{__name__}:cli_testrun")


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli.main, list(args))


def test_help_lists_every_command_with_one_line() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    for name in ("provision", "render"):
        assert name in result.output
    assert "Set up every host of the inventory" in result.output


def test_help_does_not_import_ansible() -> None:
    code = "import sys; from openshell_auto.cli import main\n" \
           "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n" \
           "print(sorted(m for m in sys.modules if m.split('.')[0] in ('ansible', 'ansible_runner')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_provision_help_shows_all_options() -> None:
    result = invoke("provision", "--help")
    for option in ("-i, --inventory", "-l, --limit", "-t, --tags", "--skip-tags", "-e, --extra-vars", "--check",
                   "--diff", "--forks", "--json", "--artifacts-dir"):
        assert option in result.output


@pytest.mark.parametrize("args,needle", [
    (["-i", "MISSING"], "inventory file not found"),
    (["-i", str(INVENTORIES / "host-in-both.yml")], "host node1: field groups"),
    (["-i", str(INVENTORIES / "typo-variable.yml")], "did you mean `openshell_gpu`"),
    (["-i", str(REPO / "inventories/example/hosts.yml"), "-e", "no_equals_sign"], "expected KEY=VALUE"),
    (["-i", str(REPO / "inventories/example/hosts.yml"), "-e", "openshell_gpu_grup=x"],
     "did you mean `openshell_gpu_group`"),
    (["-i", str(REPO / "inventories/example/hosts.yml"), "-l", "gpu3"], "`gpu3` is no host or group"),
    (["-i", str(REPO / "inventories/example/hosts.yml"), "--forks", "0"], "--forks 0"),
])
def test_provision_bad_input_exits_2_and_runs_nothing(args: list[str], needle: str, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    result = invoke("provision", *args, "--artifacts-dir", str(runs))
    assert result.exit_code == 2, result.output
    assert needle in result.output
    assert result.output.startswith("error: ")
    assert not runs.exists()  # nothing ran


def test_bad_input_json_shape(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli.main, ["provision", "-i", str(INVENTORIES / "no-server.yml"), "--json",
                                           "--artifacts-dir", str(tmp_path)])
    assert result.exit_code == 2
    data = json.loads(result.stdout.splitlines()[0])
    assert data["status"] == "invalid_input" and data["exit_code"] == 2
    assert "no server in the inventory" in data["errors"][0]


def test_provision_site_yml_failing_hosts_exit_1(write_inventory: Callable[..., Path], tmp_path: Path) -> None:
    """Real site.yml: every host fails in the first play (a templated GPU flag that cannot render), and
    the hosts point at a closed loopback port, so nothing on this machine is touched."""
    inventory = write_inventory("""
        all:
          vars:
            ansible_host: 127.0.0.1
            ansible_port: 1
            ansible_connection: ssh
            openshell_gpu: "{{ no_such_variable_for_the_test }}"
          children:
            openshell_servers:
              hosts:
                server1:
            openshell_agents:
              hosts:
                agent1:
        """)
    result = invoke("provision", "-i", str(inventory), "--json", "--artifacts-dir", str(tmp_path / "runs"))
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert set(data) == RESULT_KEYS
    assert data["playbook"] == "site.yml" and data["status"] == "failed" and data["exit_code"] == 1
    assert set(data["hosts"]) == {"server1", "agent1"}
    for stats in data["hosts"].values():
        assert set(stats) == HOST_KEYS and stats["failed"] + stats["unreachable"] >= 1
    assert {f["host"] for f in data["failures"]} == {"server1", "agent1"}
    for failure in data["failures"]:
        assert set(failure) == {"host", "play", "task", "message", "unreachable"}
        assert failure["task"] and failure["message"]
    assert Path(data["artifacts_dir"]).parent == (tmp_path / "runs").resolve()


def test_exit_0_table_and_artifacts_line(with_testrun: None, local_inventory: Path, tmp_path: Path) -> None:
    result = invoke("testrun", "-i", str(local_inventory), "--artifacts-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "TASK Say hello" in result.output  # plain progress: not a terminal
    assert "local-ok.yml: successful" in result.output  # summary table title
    assert "changer" in result.output
    assert f"artifacts: {tmp_path.resolve()}" in result.output


def test_exit_1_names_failing_task(with_testrun: None, local_inventory: Path, tmp_path: Path) -> None:
    result = invoke("testrun", "-i", str(local_inventory), "-e", '{"fail_hosts": ["server1"]}',
                    "--artifacts-dir", str(tmp_path))
    assert result.exit_code == 1
    assert "FAILED server1: task 'Fail when asked'" in result.output
    assert "asked to fail on server1" in result.output


def test_json_success_shape(with_testrun: None, local_inventory: Path, tmp_path: Path) -> None:
    result = invoke("testrun", "-i", str(local_inventory), "--json", "--artifacts-dir", str(tmp_path))
    assert result.exit_code == 0
    data = json.loads(result.stdout)  # nothing else on stdout
    assert set(data) == RESULT_KEYS
    assert data["status"] == "successful" and data["exit_code"] == 0 and data["rc"] == 0
    assert data["failures"] == [] and data["message"] == ""
    assert set(data["hosts"]) == {"server1", "changer", "gpu1"}
    assert all(set(stats) == HOST_KEYS for stats in data["hosts"].values())
    assert data["hosts"]["changer"]["changed"] == 1 and data["hosts"]["server1"]["changed"] == 0
    assert isinstance(data["duration_s"], float)


def test_ctrl_c_cancels_cleanly_with_exit_130(local_inventory: Path, tmp_path: Path) -> None:
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(f"""
        import click
        from openshell_auto import cli
        from openshell_auto.options import execute_playbook, playbook_options

        @click.command()
        @playbook_options
        def testrun(**options):
            raise SystemExit(execute_playbook({str(TEST_PLAYBOOK)!r}, **options))

        cli.COMMANDS["testrun"] = "__main__:testrun"
        cli.main()
        """))
    proc = subprocess.Popen(
        [sys.executable, str(script), "testrun", "-i", str(local_inventory), "-e", "sleep_seconds=120",
         "--artifacts-dir", str(tmp_path / "runs")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True, cwd=REPO)
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    for line in proc.stdout:
        if "TASK Sleep when asked" in line or time.monotonic() > deadline:
            break
    time.sleep(1)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, (stdout, stderr)
    assert "Traceback" not in stderr
    assert "canceled" in stdout or "interrupted" in stdout


def test_options_reach_ansible_playbook(with_testrun: None, local_inventory: Path, tmp_path: Path) -> None:
    result = invoke("testrun", "-i", str(local_inventory), "-l", "server1,gpu1", "-t", "always,x",
                    "--skip-tags", "y", "--check", "--diff", "--forks", "3", "-e", "a=1", "--json",
                    "--artifacts-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    run_dir = Path(json.loads(result.stdout)["artifacts_dir"])
    command = json.loads((run_dir / "command").read_text())["command"]
    joined = " ".join(command)
    for part in ("--limit server1,gpu1", "--tags always,x", "--skip-tags y", "--check", "--diff", "--forks 3"):
        assert part in joined
    assert command[command.index("-e") + 1].startswith("@")  # extra vars only as a file
    assert "a=1" not in joined
