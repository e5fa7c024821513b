"""Hostile inventories: nothing escapes the output directory, nothing runs on the controller,
no value injects a line or an ssh option, reset never removes a system directory."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from ansible_collections.openshell_auto.cluster.plugins.module_utils import hostile
from openshell_auto.cli import main
from openshell_auto.errors import InputError
from openshell_auto.inventory import load_inventory
from openshell_auto.render import render_inventory

Write = Callable[..., Path]


@pytest.fixture(autouse=True)
def no_host_contacted(monkeypatch: pytest.MonkeyPatch) -> None:
    """Should a check let a run through, it reaches no host: ssh is /bin/false, the port closed."""
    monkeypatch.setenv("ANSIBLE_SSH_EXECUTABLE", "/bin/false")


def one_server(host: str = "server1", host_vars: str = "", all_vars: str = "") -> str:
    """One server at 127.0.0.1 on a closed port, over ssh (never the local connection)."""
    body = textwrap.indent(textwrap.dedent(host_vars).strip(), " " * 10) if host_vars.strip() else ""
    top = textwrap.indent(textwrap.dedent(all_vars).strip(), " " * 4) if all_vars.strip() else ""
    return (f"all:\n  vars:\n    ansible_connection: ssh\n    ansible_host: 127.0.0.1\n    ansible_port: 9\n{top}\n  children:\n    openshell_servers:\n"
            f"      hosts:\n        {host}:\n{body}\n")


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


# --------------------------------------------------------------------------- 1. paths
@pytest.mark.parametrize("host", ["'/x'", "'../../x'", "'/'", "'a/b'", "'..'"])
def test_render_refuses_host_names_that_are_paths(write_inventory: Write, tmp_path: Path, host: str) -> None:
    inventory = write_inventory(one_server(host))
    out = tmp_path / "deep" / "out"
    before = tree(tmp_path)
    result = CliRunner().invoke(main, ["render", "-i", str(inventory), "-o", str(out)])
    assert result.exit_code == 2, result.output
    assert "field name" in result.output and "rename the host" in result.output
    assert tree(tmp_path) == before  # nothing written, inside or outside -o


def test_render_refuses_a_path_variable_that_climbs_out(write_inventory: Write, tmp_path: Path) -> None:
    inventory = write_inventory(one_server(host_vars="""
        openshell_gpu: true
        nvidia_cdi_refresh_env_file: /../../../../escaped.env
    """))
    with pytest.raises(InputError, match=r"field nvidia_cdi_refresh_env_file: .*climbs out .* without `..`"):
        render_inventory(inventory, tmp_path / "out")
    assert not (tmp_path / "escaped.env").exists()


def test_render_refuses_an_output_dir_that_is_a_file(write_inventory: Write, tmp_path: Path) -> None:
    inventory = write_inventory(one_server())
    (tmp_path / "file").write_text("x")
    result = CliRunner().invoke(main, ["render", "-i", str(inventory), "-o", str(tmp_path / "file")])
    assert result.exit_code == 2 and "is not a directory" in result.output, result.output


def test_group_names_that_are_paths_never_read_files_outside(tmp_path: Path) -> None:
    (tmp_path / "secret.yml").write_text("password: [unclosed\n")  # would be an error if read
    inv_dir = tmp_path / "inv"
    (inv_dir / "group_vars").mkdir(parents=True)
    (inv_dir / "hosts.yml").write_text(textwrap.dedent("""
        all:
          children:
            openshell_servers:
              hosts:
                server1:
            ../../secret:
              hosts:
                server1:
        """))
    with pytest.raises(InputError) as info:
        load_inventory(inv_dir / "hosts.yml")
    assert all("secret.yml" not in m for m in info.value.messages), info.value.messages
    assert any("group ../../secret: field name" in m for m in info.value.messages)


# --------------------------------------------------------------------------- 2. templates
@pytest.mark.parametrize("template", [
    "{{ lookup('pipe', 'touch MARKER') }}",
    "{{ query('pipe', 'touch MARKER') | first }}",
    "{{ lookup('env', 'MOLECULE_FILE') }}",
    "{{ q('ansible.builtin.pipe', 'touch MARKER') }}",
    "{{ 'x' | pipe }}",
    "{% set l = lookup %}{{ l('pipe', 'touch MARKER') }}",
    "{{ ''.__class__.__mro__ }}",
    "{{ self._TemplateReference__context }}",
    "{% import 'x' as y %}",
    "{% macro m() %}{% endmacro %}",
    "{{ 'a' | map('lookup') }}",
    "#jinja2: variable_start_string:'[['\n[[ lookup('pipe', 'touch MARKER') ]]",
    "{{ x.__init__.__globals__ }}",
    "{{ range(1000000000) | list }}",
    "{{ 'x' * 1000000000 }}",
    "{{ 10 ** 10 ** 10 }}",
    "{{ [1] * n }}",
])
def test_templates_reaching_outside_are_refused_by_name(template: str) -> None:
    problem = hostile.template_problem(template)
    assert problem is not None


@pytest.mark.parametrize("template", [
    "{{ ansible_playbook_python }}",
    "{{ groups['openshell_servers'] | first }}",
    "{{ hostvars[inventory_hostname].ansible_host | default('x') }}",
    "{{ k3s_version | replace('+', '-') }}",
    "{% if openshell_gpu %}a{% else %}b{% endif %}",
    "{{ groups.get('x', []) | length > 1 }}",
    "{{ k3s_ready_retries * 2 }}",
    "plain text",
])
def test_plain_references_and_pure_filters_are_allowed(template: str) -> None:
    assert hostile.template_problem(template) is None


def test_render_never_runs_a_lookup_from_the_inventory(write_inventory: Write, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    inventory = write_inventory(one_server(host_vars="""
        k3s_node_name: "{{ lookup('pipe', 'touch MARKER') }}"
    """))
    result = CliRunner().invoke(main, ["render", "-i", str(inventory), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "field k3s_node_name: call of `lookup(...)` is not allowed" in result.output
    assert not (tmp_path / "MARKER").exists()


def test_extra_vars_lookup_refused_before_provision_runs(write_inventory: Write, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    inventory = write_inventory(one_server())
    result = CliRunner().invoke(main, ["provision", "-i", str(inventory), "-e",
                                       "k3s_token={{ lookup('pipe', 'touch MARKER') }}",
                                       "--artifacts-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2, result.output
    assert "-e: extra vars: field k3s_token: call of `lookup(...)`" in result.output
    assert not (tmp_path / "MARKER").exists() and not (tmp_path / "runs").exists()


# --------------------------------------------------------------------------- 3. reset paths
@pytest.mark.parametrize("value,problem", [
    ("/", "system directory"), ("/etc", "system directory"), ("/usr", "system directory"),
    ("/var", "system directory"), ("/home", "system directory"), ("var/lib/k3s", "not absolute"),
    ("/var/lib/../lib/k3s", "not normalised"), ("/var/lib/k3s/", "not normalised"),
    ("/var/lib/k3s'; rm -rf / #", "cannot take"), ("", "not a path"),
])
def test_removable_path_rules(value: str, problem: str) -> None:
    found = hostile.removable_path_problem(value)
    assert found is not None and problem in found


def test_removable_path_accepts_k3s_dirs() -> None:
    assert hostile.removable_path_problem("/var/lib/rancher/k3s") is None
    assert hostile.removable_path_problem("/srv/k3s-data") is None
    assert hostile.removable_path_problem("/usr/local/bin", contents_only=True) is None


@pytest.mark.parametrize("value", ["/", "/etc", "/var/lib/k3s'$(touch /tmp/x)'"])
def test_reset_cli_refuses_a_system_data_dir(write_inventory: Write, tmp_path: Path, value: str) -> None:
    inventory = write_inventory(one_server(all_vars=f"k3s_data_dir: \"{value}\""))
    result = CliRunner().invoke(main, ["reset", "--yes", "-i", str(inventory), "--artifacts-dir",
                                       str(tmp_path / "runs")])
    assert result.exit_code == 2, result.output
    assert "field k3s_data_dir" in result.output
    assert not (tmp_path / "runs").exists()


# --------------------------------------------------------------------------- 4. line-based files
@pytest.mark.parametrize("name,value", [
    ("openshell_driver_root", "/\nLD_PRELOAD=/tmp/evil.so"),
    ("nvidia_container_toolkit_apt_keyring", "/k.gpg trusted=yes"),
    ("nvidia_container_toolkit_repo_base_url", "https://x/ ] [trusted=yes"),
    ("k3s_install_dir", "/usr/local/bin\nExecStartPre=/bin/sh"),
    ("nvidia_cdi_mode", "auto\r\nX=1"),
])
def test_line_injection_refused(write_inventory: Write, name: str, value: str) -> None:
    escaped = value.replace("\n", "\\n").replace("\r", "\\r")
    inventory = write_inventory(one_server(all_vars=f'{name}: "{escaped}"'))
    with pytest.raises(InputError) as info:
        load_inventory(inventory)
    message = " ".join(info.value.messages)
    assert f"field {name}" in message and "cannot take" in message
    assert len(info.value.messages) == 1 and "\n" not in info.value.messages[0]


# --------------------------------------------------------------------------- 7. addresses, node names
@pytest.mark.parametrize("value", ["-oProxyCommand=touch /tmp/x", "a b", "host;id", "", "[::1", "x" * 300])
def test_bad_ansible_host_refused(write_inventory: Write, value: str) -> None:
    inventory = write_inventory(one_server(host_vars=f'ansible_host: "{value}"'))
    with pytest.raises(InputError, match="field ansible_host: .* neither an IP address nor a DNS name"):
        load_inventory(inventory)


@pytest.mark.parametrize("value", ["192.0.2.10", "2001:db8::1", "[2001:db8::1]", "node1.example.com", "localhost",
                                   "molecule_k3s-1"])
def test_good_ansible_host_accepted(value: str) -> None:
    assert hostile.address_problem(value) is None


@pytest.mark.parametrize("host,node_name", [("Server1", None), ("server_1", None), ("s1", "Bad_Name"),
                                            ("s1", "-lead"), ("s1", "a" * 254)])
def test_node_names_k3s_refuses(write_inventory: Write, host: str, node_name: str | None) -> None:
    inventory = write_inventory(one_server(host, host_vars=f'k3s_node_name: "{node_name}"' if node_name else ""))
    with pytest.raises(InputError, match="field k3s_node_name: .*not a valid Kubernetes node name"):
        load_inventory(inventory)


def test_valid_node_name_for_an_odd_host_name(write_inventory: Write) -> None:
    inventory = write_inventory(one_server("Server_1", host_vars="k3s_node_name: server-1"))
    assert load_inventory(inventory).servers == ["Server_1"]


def test_messages_never_echo_a_huge_value(write_inventory: Write) -> None:
    inventory = write_inventory(one_server(host_vars=f'ansible_host: "{"-o" * 100000}"'))
    with pytest.raises(InputError) as info:
        load_inventory(inventory)
    assert all(len(m) < 600 for m in info.value.messages)



def test_extra_vars_file_errors_name_file_and_line(write_inventory: Write, tmp_path: Path) -> None:
    inventory = write_inventory(one_server())
    extra = tmp_path / "vars.yml"
    extra.write_text("k3s_api_port: 6443\n# a comment\nk3s_data_dir: /etc\n")
    result = CliRunner().invoke(main, ["provision", "-i", str(inventory), "-e", "k3s_api_port=6443", "-e", f"@{extra}",
                                       "--artifacts-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2, result.output
    assert f"error: {extra}:3: extra vars: field k3s_data_dir: `/etc` is a system directory" in result.output
