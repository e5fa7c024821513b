"""The CLI as an Ansible user expects it: the user's ansible.cfg stays in force, the common
ansible-playbook options pass through, passwords typed at a prompt never reach the artifacts,
-i takes INI files, directories, several sources and host lists (validated like YAML; scripts
and plugins refused, nothing run), and --diff / -v output and warnings reach the console.

Every run uses the local connection and tests/playbooks/ansible-user.yml, which only reports what
ansible-playbook received and writes into the test's own directory."""

from __future__ import annotations

import json
import os
import stat
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from openshell_auto import cli, paths, runner
from openshell_auto.options import execute_playbook, playbook_options

PLAYBOOK = Path(__file__).resolve().parent / "playbooks" / "ansible-user.yml"
LOCAL = f"ansible_connection=local ansible_python_interpreter={sys.executable}"


@click.command()
@playbook_options
def cli_ansible_user(**options: Any) -> None:
    """Run tests/playbooks/ansible-user.yml (test-only command)."""
    raise SystemExit(execute_playbook(str(PLAYBOOK), **options))


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No ansible.cfg in force but what the test writes: an empty HOME, cwd = a private dir,
    no ANSIBLE_CONFIG, secrets' temp dir observable."""
    work = tmp_path / "work"
    work.mkdir(mode=0o700)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("ANSIBLE_CONFIG", raising=False)
    monkeypatch.chdir(work)
    secrets = tmp_path / "tmp"
    secrets.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(secrets))
    monkeypatch.setitem(cli.COMMANDS, "userrun", f"{__name__}:cli_ansible_user")
    if Path("/etc/ansible/ansible.cfg").exists():
        pytest.skip("/etc/ansible/ansible.cfg would be the config in force")
    return work


def _yaml_inventory(path: Path, group: str = "openshell_servers", host: str = "server1") -> Path:
    path.write_text(textwrap.dedent(f"""\
        all:
          vars:
            ansible_connection: local
            ansible_python_interpreter: {sys.executable}
          children:
            {group}:
              hosts:
                {host}:
        """))
    return path


def _invoke(*args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(cli.main, ["userrun", *args, "--artifacts-dir", "runs"], input=input)


def _messages(result: runner.RunResult) -> str:
    events = Path(result.artifacts_dir) / "job_events"
    return "\n".join(str((json.loads(p.read_text()).get("event_data") or {}).get("res", {}).get("msg", ""))
                     for p in sorted(events.glob("*.json")))


def _artifacts_text(runs: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in runs.rglob("*") if p.is_file())


# --------------------------------------------------------------------------- ansible.cfg
def test_users_ansible_cfg_settings_reach_ansible_playbook(home: Path) -> None:
    (home / "ansible.cfg").write_text(textwrap.dedent("""\
        [defaults]
        remote_user = alice
        private_key_file = /nonexistent/alice_key
        forks = 3
        host_key_checking = False
        collections_path = /nonexistent/collections
        collections_scan_sys_path = False
        [privilege_escalation]
        become = True
        become_user = bob
        """))
    result = runner.run_playbook(PLAYBOOK, _yaml_inventory(home / "hosts.yml"), runs_dir=home / "runs")
    assert result.exit_code == 0, result
    text = _messages(result)
    for setting in ("remote_user=alice", "private_key_file=/nonexistent/alice_key", "become=True",
                    "become_user=bob", "forks=3", "collection=found"):
        assert setting in text, text
    env = json.loads((Path(result.artifacts_dir) / "command").read_text())["env"]
    assert env["ANSIBLE_CONFIG"] == str(home / "ansible.cfg")
    assert env["ANSIBLE_HOST_KEY_CHECKING"] == "False"  # ansible-runner's default would hide the user's choice
    assert env["ANSIBLE_ROLES_PATH"].split(os.pathsep)[0] == str(paths.content().roles)
    # the collection the CLI drives comes first; the user's collections_path follows
    assert env["ANSIBLE_COLLECTIONS_PATH"].split(os.pathsep) == [str(paths.content().collections_root),
                                                                 "/nonexistent/collections"]


def test_ansible_config_follows_ansibles_own_precedence(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    content = paths.content()
    assert runner.ansible_config_env(content)["ANSIBLE_CONFIG"] == str(content.ansible_cfg)  # none: the project's
    (home.parent / "home").mkdir()
    (home.parent / "home" / ".ansible.cfg").write_text("[defaults]\nforks = 4\n")
    assert runner.ansible_config_env(content)["ANSIBLE_CONFIG"] == str(home.parent / "home" / ".ansible.cfg")
    (home / "ansible.cfg").write_text("[defaults]\nforks = 5\n")
    assert runner.ansible_config_env(content)["ANSIBLE_CONFIG"] == str(home / "ansible.cfg")
    other = home.parent / "other.cfg"
    other.write_text("[defaults]\nroles_path = /srv/roles\n")
    monkeypatch.setenv("ANSIBLE_CONFIG", str(other))
    env = runner.ansible_config_env(content)
    assert env["ANSIBLE_CONFIG"] == str(other)
    assert env["ANSIBLE_ROLES_PATH"] == os.pathsep.join([str(content.roles), "/srv/roles"])


def test_without_a_user_config_the_projects_settings_apply(home: Path) -> None:
    result = runner.run_playbook(PLAYBOOK, _yaml_inventory(home / "hosts.yml"), runs_dir=home / "runs")
    assert result.exit_code == 0, result
    assert "forks=20" in _messages(result)  # the project's ansible.cfg


# --------------------------------------------------------------------------- pass-through options
def test_common_ansible_playbook_options_pass_through(home: Path) -> None:
    key = home / "id_test"
    key.write_text("not a real key\n")
    inventory = _yaml_inventory(home / "hosts.yml")
    result = _invoke("-i", str(inventory), "-u", "carol", "--private-key", str(key), "-b", "--become-user", "dave",
                     "-f", "2", "-C", "--json")
    assert result.exit_code == 0, result.output
    run_dir = Path(json.loads(result.stdout)["artifacts_dir"])
    argv = json.loads((run_dir / "command").read_text())["command"]
    for args in (["--user", "carol"], ["--private-key", str(key)], ["--become-user", "dave"], ["--forks", "2"]):
        assert any(argv[i:i + 2] == args for i in range(len(argv))), (args, argv)
    assert "--become" in argv and "--check" in argv
    text = "\n".join(str(json.loads(p.read_text()).get("event_data", {}).get("res", {}).get("msg", ""))
                     for p in (run_dir / "job_events").glob("*.json"))
    assert "forks=2 check=True" in text


def test_bad_pass_through_values_are_input_errors_before_anything_runs(home: Path) -> None:
    inventory = _yaml_inventory(home / "hosts.yml")
    for args, field in ((["-f", "0"], "field forks"), (["--private-key", "nope"], "field private-key"),
                        (["-u", "-oProxyCommand=x"], "field user"), (["--vault-id", "a@nofile"], "field vault-id")):
        result = _invoke("-i", str(inventory), *args)
        assert result.exit_code == 2, (args, result.output)
        assert field in result.stderr
    assert not (home / "runs").exists()


def test_become_password_never_reaches_the_artifacts(home: Path) -> None:
    secret = "become-pw-7d1c9e"
    result = _invoke("-i", str(_yaml_inventory(home / "hosts.yml")), "-K", input=secret + "\n")
    assert result.exit_code == 0, result.output  # ansible-playbook read the password file at start
    argv = json.loads(next((home / "runs").rglob("command")).read_text())["command"]
    assert "--become-password-file" in argv
    assert secret not in _artifacts_text(home / "runs")
    assert secret not in result.output
    assert not list(Path(tempfile.gettempdir()).glob("openshell-auto-secret-*"))  # deleted after the run


def test_vault_password_decrypts_and_never_reaches_the_artifacts(home: Path) -> None:
    from ansible.parsing.vault import VaultLib, VaultSecret

    password = "vault-pw-52ab0f"
    encrypted = VaultLib([("default", VaultSecret(password.encode()))]).encrypt("the-decrypted-value").decode()
    vars_file = home / "vaulted.yml"
    vars_file.write_text("vaulted: !vault |\n" + textwrap.indent(encrypted, "  "))
    result = _invoke("-i", str(_yaml_inventory(home / "hosts.yml")), "-e", f"@{vars_file}", "--ask-vault-pass",
                     "-v", input=password + "\n")
    assert result.exit_code == 0, result.output
    assert "vaulted=the-decrypted-value" in result.stdout  # -v streams Ansible's output
    assert password not in _artifacts_text(home / "runs")
    assert password not in result.output
    assert not list(Path(tempfile.gettempdir()).glob("openshell-auto-secret-*"))


def test_passwords_the_users_config_asks_for_are_asked_once_by_the_cli(home: Path) -> None:
    """become_ask_pass in the user's ansible.cfg: ansible-playbook, without a terminal under
    ansible-runner, would wait at its own prompt for ever; the CLI asks and passes a file."""
    import subprocess

    (home / "ansible.cfg").write_text("[privilege_escalation]\nbecome_ask_pass = True\n")
    inventory = _yaml_inventory(home / "hosts.yml")
    code = ("import sys; from openshell_auto import cli; "
            "cli.COMMANDS['userrun'] = 'test_cli_ansible:cli_ansible_user'; sys.argv[0] = 'openshell-auto'; cli.main()")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), str(paths.content().root)])}
    proc = subprocess.Popen([sys.executable, "-c", code, "userrun", "-i", str(inventory), "--artifacts-dir", "runs",
                             "--json"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=home)
    try:
        stdout, stderr = proc.communicate("cfg-become-pw-19fa\n", timeout=90)
    except subprocess.TimeoutExpired as exc:
        from openshell_auto.proctree import stop_descendants

        stop_descendants(proc.pid, grace_int=1, grace_term=1)  # ansible-playbook runs in a session of its own
        proc.kill()
        proc.communicate()
        raise AssertionError("ansible-playbook waited at its own password prompt") from exc
    assert proc.returncode == 0, stdout + stderr
    assert "BECOME password" in stderr
    argv = json.loads(next((home / "runs").rglob("command")).read_text())["command"]
    assert "--become-password-file" in argv
    assert "cfg-become-pw-19fa" not in _artifacts_text(home / "runs")


# --------------------------------------------------------------------------- console output
def test_diff_output_reaches_the_console(home: Path) -> None:
    out = home / "out"
    out.mkdir()
    result = _invoke("-i", str(_yaml_inventory(home / "hosts.yml")), "-e", f"out_dir={out}", "-D")
    assert result.exit_code == 0, result.output
    assert "+line for server1" in result.stdout, result.stdout


def test_role_warnings_and_notes_are_printed_in_the_summary(home: Path) -> None:
    result = _invoke("-i", str(_yaml_inventory(home / "hosts.yml")), "-e", "role_warning=true")
    assert result.exit_code == 0, result.output
    assert "WARNING: server1: role-style warning for server1" in result.stdout
    assert "NOTE: server1: role-style note for server1" in result.stdout
    data = json.loads(_invoke("-i", str(home / "hosts.yml"), "-e", "role_warning=true", "--json").stdout)
    assert data["warnings"] == ["server1: role-style warning for server1"]  # a note is no warning
    assert data["notes"] == ["server1: role-style note for server1"]


def test_ansibles_own_warning_lines_are_collected() -> None:
    event = {"event": "runner_on_ok", "stdout": "[WARNING]: a module warning\nok: [h]\n"
                                                "[DEPRECATION WARNING]: Something is deprecated.\nOrigin: x.yml:3:5",
             "event_data": {"host": "h", "res": {"warnings": ["a module  warning"]}}}
    assert list(dict.fromkeys(runner.event_warnings(event))) == ["a module warning", "Something is deprecated."]


# --------------------------------------------------------------------------- inventory sources
def test_ini_inventory_runs(home: Path) -> None:
    ini = home / "hosts.ini"
    ini.write_text(f"[openshell_servers]\nserver1 {LOCAL}\n\n[openshell_agents]\ngpu1 {LOCAL} openshell_gpu=true\n")
    result = _invoke("-i", str(ini), "--json")
    assert result.exit_code == 0, result.output
    assert set(json.loads(result.stdout)["hosts"]) == {"server1", "gpu1"}


def test_directory_with_group_vars_and_several_sources(home: Path) -> None:
    inv = home / "inv"
    (inv / "group_vars").mkdir(parents=True)
    (inv / "hosts").write_text("[openshell_servers]\nserver1\n")
    (inv / "group_vars" / "all.yml").write_text(
        f"ansible_connection: local\nansible_python_interpreter: {sys.executable}\n")
    agents = _yaml_inventory(home / "agents.yml", group="openshell_agents", host="agent1")
    result = _invoke("-i", str(inv), "-i", str(agents), "--json")
    assert result.exit_code == 0, result.output
    assert set(json.loads(result.stdout)["hosts"]) == {"server1", "agent1"}
    # group_vars of a directory are checked with file and line
    (inv / "group_vars" / "all.yml").write_text("k3s_version: 12\n")
    result = _invoke("-i", str(inv), "-i", str(agents))
    assert result.exit_code == 2
    assert f"{inv / 'group_vars' / 'all.yml'}:1: group all: field k3s_version" in result.stderr


def test_toml_inventory_and_a_vault_encrypted_group_vars_file(home: Path) -> None:
    from ansible.parsing.vault import VaultLib, VaultSecret

    inv = home / "inv"
    (inv / "group_vars").mkdir(parents=True)
    (inv / "hosts.toml").write_text('[openshell_servers.hosts.server1]\n')
    secret = VaultLib([("default", VaultSecret(b"file-pw-0c4e"))]).encrypt(
        f"ansible_connection: local\nansible_python_interpreter: {sys.executable}\n")
    (inv / "group_vars" / "all.yml").write_bytes(secret)
    password_file = home / "vault-pass"
    password_file.write_text("file-pw-0c4e\n")
    result = _invoke("-i", str(inv), "--vault-password-file", str(password_file), "--json")
    assert result.exit_code == 0, result.output  # the local connection came from the decrypted file
    assert set(json.loads(result.stdout)["hosts"]) == {"server1"}


@pytest.mark.parametrize(("text", "expect"), [
    ("[openshell_servers]\nserver1 ansible_host=\"{{ lookup('pipe', 'touch MARKER') }}\"\n", "lookup"),
    ("[openshell_servers]\n../x ansible_host=127.0.0.1\n", "host name"),
    ("[openshell_servers]\nserver1 ansible_host=-oProxyCommand=touch\n", "ansible_host"),
    ("[openshell_agents]\nagent1\n", "no server"),
])
def test_hostile_ini_values_are_refused_before_anything_runs(home: Path, text: str, expect: str) -> None:
    ini = home / "hosts.ini"
    ini.write_text(text)
    result = _invoke("-i", str(ini))
    assert result.exit_code == 2, result.output
    assert expect in result.stderr and "hosts.ini" in result.stderr
    assert all(line.startswith("error: ") for line in result.stderr.splitlines() if line.strip())
    assert not (home / "runs").exists() and not (home / "MARKER").exists()


def test_inventory_scripts_and_plugins_are_refused(home: Path) -> None:
    script = home / "inventory.sh"
    script.write_text(f"#!/bin/sh\ntouch {home / 'MARKER'}\necho '{{}}'\n")
    script.chmod(0o755)
    plugin = home / "constructed.yml"
    plugin.write_text("plugin: ansible.builtin.constructed\ncompose:\n  x: lookup('pipe', 'touch MARKER')\n")
    for source in (script, plugin):
        result = _invoke("-i", str(source))
        assert result.exit_code == 2, result.output
        assert "runs no inventory script or plugin" in result.stderr and "ansible-inventory -i" in result.stderr
    assert not (home / "runs").exists() and not (home / "MARKER").exists()


def test_an_executable_yaml_inventory_is_never_run_as_a_script(home: Path) -> None:
    """A file that is valid YAML and a shell script: ansible-playbook's default `script` inventory
    plugin (tried before `yaml`) would execute it; the run enables only the text plugins."""
    marker = home / "MARKER"
    inventory = _yaml_inventory(home / "hosts.yml")
    inventory.write_text("#!/bin/sh\n" + inventory.read_text().replace(
        "server1:", f"server1:\n          note: $(touch {marker})"))
    inventory.chmod(inventory.stat().st_mode | stat.S_IXUSR)
    result = _invoke("-i", str(inventory), "--json")
    assert result.exit_code == 0, result.output
    assert not marker.exists()
