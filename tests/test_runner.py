"""run_playbook end to end (real ansible-playbook via ansible-runner, controller-only tasks)."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from openshell_auto import runner
from openshell_auto.errors import EXIT_FAILED, EXIT_OK, InputError

from helpers import TEST_PLAYBOOK

SECRET = "s3cr3t-value-that-must-not-leak"


def test_successful_run_counts_per_host(local_inventory: Path, tmp_path: Path) -> None:
    events: list[dict[str, Any]] = []
    result = runner.run_playbook(TEST_PLAYBOOK, local_inventory, runs_dir=tmp_path / "runs", display=events.append)
    assert result.exit_code == EXIT_OK, result
    assert result.status == "successful"
    assert set(result.hosts) == {"server1", "changer", "gpu1"}
    assert result.hosts["changer"]["changed"] == 1
    assert result.hosts["server1"]["changed"] == 0
    assert result.hosts["server1"]["ok"] == 1
    assert result.hosts["server1"]["skipped"] == 2
    assert result.failures == []
    assert any(e.get("event") == "playbook_on_task_start" for e in events)  # live display fed
    run_dir = Path(result.artifacts_dir)
    assert run_dir.parent == (tmp_path / "runs").resolve()
    assert stat.S_IMODE(run_dir.stat().st_mode) == 0o700
    assert (run_dir / "job_events").is_dir() and (run_dir / "stdout").is_file()
    # suppress_env_files: no envvars/extravars/passwords/cmdline files, only our non-secret settings
    assert [p.name for p in (run_dir / "env").iterdir()] == ["settings"]


def test_failed_host_reports_task_and_message(local_inventory: Path, tmp_path: Path) -> None:
    result = runner.run_playbook(TEST_PLAYBOOK, local_inventory, extra_vars={"fail_hosts": ["gpu1"]},
                                 runs_dir=tmp_path)
    assert result.exit_code == EXIT_FAILED
    assert result.hosts["gpu1"]["failed"] == 1
    assert [(f.host, f.task, f.message, f.unreachable) for f in result.failures] == [
        ("gpu1", "Fail when asked", "asked to fail on gpu1", False)]
    assert result.failures[0].play == "Local no-op"


def test_limit_and_tags_reach_ansible(local_inventory: Path, tmp_path: Path) -> None:
    result = runner.run_playbook(TEST_PLAYBOOK, local_inventory, limit="gpu1", runs_dir=tmp_path)
    assert list(result.hosts) == ["gpu1"]
    command = json.loads((Path(result.artifacts_dir) / "command").read_text())["command"]
    assert command[command.index("--limit") + 1] == "gpu1"


def test_extra_vars_go_through_a_0600_file_outside_the_artifacts(
        local_inventory: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}
    original = runner.write_extra_vars

    def spy(extra: dict[str, Any]) -> Path:
        path = original(extra)
        seen["path"] = path
        seen["mode"] = stat.S_IMODE(path.stat().st_mode)
        seen["content"] = json.loads(path.read_text())
        return path

    monkeypatch.setattr(runner, "write_extra_vars", spy)
    monkeypatch.setenv("MY_SHELL_SECRET", SECRET + "-env")
    result = runner.run_playbook(TEST_PLAYBOOK, local_inventory, extra_vars={"token": SECRET}, runs_dir=tmp_path)
    assert result.exit_code == EXIT_OK
    assert seen["mode"] == 0o600
    assert seen["content"] == {"token": SECRET}
    assert not seen["path"].exists()  # deleted after the run
    run_dir = Path(result.artifacts_dir)
    assert run_dir not in seen["path"].parents
    command = json.loads((run_dir / "command").read_text())
    assert f"@{seen['path']}" in command["command"]
    assert all(k.startswith(("ANSIBLE_", "RUNNER_")) for k in command["env"])  # shell env scrubbed
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    assert len(files) > 5
    for file in files:
        assert SECRET not in file.read_text(errors="replace"), file


def test_missing_playbook_and_bad_forks_are_input_errors(local_inventory: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="playbook not found"):
        runner.run_playbook(tmp_path / "nope.yml", local_inventory, runs_dir=tmp_path)
    with pytest.raises(InputError, match="--forks 0"):
        runner.run_playbook(TEST_PLAYBOOK, local_inventory, forks=0, runs_dir=tmp_path)


def test_failure_message_prefers_msg_then_stderr() -> None:
    assert runner.failure_message({"msg": "boom\n  twice"}) == "boom twice"
    assert runner.failure_message({"stderr": "E: x"}) == "E: x"
    assert runner.failure_message({"results": [{"failed": False}, {"failed": True, "msg": "item 2"}]}) == "item 2"


def test_extra_vars_keep_command_line_order(local_inventory: Path, tmp_path: Path) -> None:
    user_file = tmp_path / "mine.yml"
    user_file.write_text("---\nfrom_file: 1\n")
    result = runner.run_playbook(TEST_PLAYBOOK, local_inventory, extra_vars=[{"a": "1"}, user_file, {"b": "2"}],
                                 runs_dir=tmp_path / "runs")
    assert result.exit_code == EXIT_OK
    command = json.loads((Path(result.artifacts_dir) / "command").read_text())["command"]
    files = [command[i + 1][1:] for i, arg in enumerate(command) if arg == "-e"]
    assert len(files) == 3 and files[1] == str(user_file)
    assert not Path(files[0]).exists() and not Path(files[2]).exists()  # temp files removed


def test_live_panel_tracks_hosts_from_events() -> None:
    from io import StringIO

    from rich.console import Console

    from openshell_auto.progress import LiveProgress, PlainProgress

    events = [
        {"event": "playbook_on_play_start", "event_data": {"play": "Classify"}},
        {"event": "playbook_on_task_start", "event_data": {"task": "Check"}},
        {"event": "runner_on_ok", "event_data": {"host": "a", "res": {"changed": True}}},
        {"event": "runner_on_failed", "event_data": {"host": "b", "res": {"msg": "bad layout"}}},
        {"event": "runner_on_unreachable", "event_data": {"host": "c", "res": {"msg": "ssh: refused"}}},
    ]
    stream = StringIO()
    console = Console(file=stream, width=100, force_terminal=False)
    live = LiveProgress(console, "site.yml")
    plain = PlainProgress(stream)
    collectors = [runner.EventCollector(live), runner.EventCollector(plain)]  # as run_playbook feeds them
    for event in events:
        for collector in collectors:
            collector(event)
    # one owner of play/task: the collector moves on the very position the display reads
    assert collectors[0].position is live.position and collectors[1].position is plain.position
    assert live.position == runner.RunPosition(play="Classify", task="Check")
    assert live.states == {"a": "changed", "b": "failed", "c": "unreachable"}
    assert live.counts["a"] == {"changed": 1, "ok": 1}
    console.print(live)
    text = stream.getvalue()
    for line in ("PLAY Classify", "  TASK Check", "    changed: a", "    failed: b: bad layout",
                 "    unreachable: c: ssh: refused", "task: Check", "site.yml"):
        assert line in text, line


def test_collector_position_names_the_failing_task_when_the_event_does_not() -> None:
    collector = runner.EventCollector(display=None)
    for event in ({"event": "playbook_on_play_start", "event_data": {"play": "K3s servers"}},
                  {"event": "playbook_on_task_start", "event_data": {"task": "Start k3s"}},
                  {"event": "runner_on_failed", "event_data": {"host": "s1", "res": {"msg": "boom"}}}):
        collector(event)
    assert collector.position == runner.RunPosition(play="K3s servers", task="Start k3s")
    assert collector.last_failure["s1"] == runner.Failure(host="s1", play="K3s servers", task="Start k3s",
                                                          message="boom")


def test_callers_ansible_secrets_never_reach_the_artifacts(local_inventory: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANSIBLE_BECOME_PASS", SECRET + "-become")
    monkeypatch.setenv("ANSIBLE_PRIVATE_KEY_PASSPHRASE", SECRET + "-key")
    monkeypatch.setenv("ANSIBLE_VAULT_PASSWORD", SECRET + "-vault")
    seen_during_run: list[str] = []
    runs = tmp_path / "runs"

    def display(event: dict[str, Any]) -> None:  # the command file while ansible-playbook runs
        if not seen_during_run:
            seen_during_run.extend(p.read_text() for p in runs.rglob("command"))

    result = runner.run_playbook(TEST_PLAYBOOK, local_inventory, runs_dir=runs, display=display)
    assert result.exit_code == EXIT_OK, result
    assert seen_during_run and all(SECRET not in text for text in seen_during_run)
    for path in sorted(p for p in Path(result.artifacts_dir).rglob("*") if p.is_file()):
        assert SECRET not in path.read_text(errors="replace"), path
    env = json.loads((Path(result.artifacts_dir) / "command").read_text())["env"]
    assert env["ANSIBLE_CONFIG"] and "ANSIBLE_BECOME_PASS" not in env


def test_the_pty_of_an_ended_child_closes_without_ptyprocess_wait() -> None:
    """ansible-runner closes the pty after its child exited; inside the runner's context that close
    no longer sleeps ptyprocess's 0.1 s, the exit status is still the child's, and pexpect is left
    as it was found."""
    import time

    import pexpect

    original = pexpect.spawn
    with runner._pty_closed_at_once():
        child = pexpect.spawn("sh", ["-c", "exit 3"])
        while child.isalive():
            time.sleep(0.01)
        started = time.monotonic()
        child.close()
        closed_in = time.monotonic() - started
    assert pexpect.spawn is original
    assert child.exitstatus == 3
    assert closed_in < 0.05, closed_in
    slow = pexpect.spawn("sh", ["-c", "exit 0"])  # outside the context: ptyprocess's own wait
    assert slow.ptyproc.delayafterclose == 0.1
    slow.close()
