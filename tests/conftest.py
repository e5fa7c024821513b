"""Shared fixtures: inventories written on the fly, and a fake content root for render tests."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from openshell_auto import paths, rendered_files
from openshell_auto.rendered_files import RenderedFile

from helpers import ANSIBLE_PLAYBOOK, REPO, ansible_env


@pytest.fixture
def run_play(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Write an inventory and a playbook into tmp_path and run ansible-playbook on them: the one way
    tests run plays. `inventory` and `playbook` are YAML text (dedented, written to hosts.yml and
    play.yml) or paths; `args` follow the playbook (--check, --tags, -l, -vv, -e k=v); `extra_vars`
    goes in as -e @vars.json; `env` is added to ansible_env(). With `on_line`, stderr joins stdout
    and each line goes to on_line as it comes (to act on the play while it runs)."""

    def run(inventory: str | Path, playbook: str | Path, *args: str, extra_vars: Mapping[str, object] | None = None,
            env: Mapping[str, str] | None = None, timeout: int = 600,
            on_line: Callable[[str], None] | None = None) -> subprocess.CompletedProcess[str]:
        def written(value: str | Path, name: str) -> Path:
            if isinstance(value, Path):
                return value
            path = tmp_path / name
            path.write_text(textwrap.dedent(value).lstrip(), encoding="utf-8")
            return path

        argv: Sequence[str] = [ANSIBLE_PLAYBOOK, "-i", str(written(inventory, "hosts.yml")),
                               str(written(playbook, "play.yml")), *args]
        if extra_vars is not None:
            (tmp_path / "vars.json").write_text(json.dumps(extra_vars), encoding="utf-8")
            argv = [*argv, "-e", f"@{tmp_path / 'vars.json'}"]
        if on_line is None:
            return subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path, timeout=timeout, check=False,
                                  env=ansible_env(**(env or {})))
        lines: list[str] = []
        with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
                              env=ansible_env(**(env or {}))) as proc:
            assert proc.stdout is not None
            try:
                for line in proc.stdout:
                    lines.append(line)
                    on_line(line)
                proc.wait(timeout=timeout)
            finally:
                if proc.poll() is None:
                    proc.kill()
        return subprocess.CompletedProcess(argv, proc.returncode, "".join(lines), "")

    return run


@pytest.fixture
def write_inventory(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a YAML inventory (dedented) into tmp_path and return its path."""

    def write(text: str, name: str = "hosts.yml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
        return path

    return write


@pytest.fixture
def local_inventory(write_inventory: Callable[[str, str], Path]) -> Path:
    """A valid cluster inventory whose hosts use the local connection (for tests/playbooks only)."""
    return write_inventory(
        """
        all:
          vars:
            ansible_connection: local
            ansible_python_interpreter: "{{ ansible_playbook_python }}"
          children:
            openshell_servers:
              hosts:
                server1:
            openshell_agents:
              hosts:
                changer:
                gpu1:
                  openshell_gpu: true
        """
    )


FAKE_TEMPLATES = {
    "config.yaml.j2": """\
        # {{ ansible_managed }}
        {% set cfg = __fakek3s_base | combine(fakek3s_extra) %}
        {{ cfg | to_nice_yaml }}
        server: {{ fakek3s_server_url }}
        token_b64: {{ fakek3s_token | b64encode }}
        servers: {{ groups['openshell_role_server'] | join(',') }}
        gpu: {{ inventory_hostname in groups['openshell_role_gpu'] }}
        hostname: {{ ansible_facts.get('hostname', inventory_hostname) }}
        precedence: {{ fakek3s_precedence }}
        strategy: {{ openshell_device_id_strategy }}
        {% include 'footer.j2' %}
        """,
    "footer.j2": "# end of {{ inventory_hostname }}\n",
    "gpu.env.j2": "LABEL={{ openshell_gpu_node_label }}\n",
    "init.txt.j2": "first={{ openshell_first_server }} group={{ groups['openshell_role_first_server'] | join(',') }}\n",
}


@pytest.fixture
def fake_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[paths.ContentPaths]:
    """A content root with the real role `openshell` and a fake role `fakek3s` whose templates
    exercise filters, includes, magic vars and precedence; RENDERED_FILES points at it."""
    root = tmp_path / "content"
    shutil.copytree(REPO / "roles" / "openshell", root / "roles" / "openshell")
    shutil.copytree(REPO / "playbooks", root / "playbooks")
    shutil.copytree(REPO / "inventories", root / "inventories")
    shutil.copy(REPO / "ansible.cfg", root / "ansible.cfg")
    role = root / "roles" / "fakek3s"
    (role / "templates").mkdir(parents=True)
    (role / "defaults").mkdir()
    (role / "meta").mkdir()
    (role / "vars").mkdir()
    (role / "defaults" / "main.yml").write_text(textwrap.dedent("""\
        ---
        fakek3s_config_file: /etc/rancher/k3s/config.yaml
        fakek3s_token: not-a-real-token
        fakek3s_extra: {node-name: "{{ inventory_hostname }}"}
        fakek3s_server_url: "https://{{ hostvars[openshell_first_server]['ansible_host'] | default(openshell_first_server) }}:6443"
        fakek3s_precedence: from-defaults
        fakek3s_gpu_env: /etc/fake/gpu.env
        fakek3s_port: 6443
        """))
    (role / "vars" / "main.yml").write_text(textwrap.dedent("""\
        ---
        __fakek3s_base: {write-kubeconfig-mode: "0600"}
        """))
    (role / "meta" / "argument_specs.yml").write_text(textwrap.dedent("""\
        ---
        argument_specs:
          main:
            short_description: fake
            options:
              fakek3s_config_file: {type: path, default: /etc/rancher/k3s/config.yaml, description: x}
              fakek3s_token: {type: str, default: not-a-real-token, description: x, no_log: true}
              fakek3s_extra: {type: dict, description: x}
              fakek3s_server_url: {type: str, description: x}
              fakek3s_precedence: {type: str, default: from-defaults, description: x}
              fakek3s_gpu_env: {type: path, default: /etc/fake/gpu.env, description: x}
              fakek3s_port: {type: int, default: 6443, description: x}
        """))
    for name, text in FAKE_TEMPLATES.items():
        (role / "templates" / name).write_text(textwrap.dedent(text))
    content = paths.ContentPaths(root)
    monkeypatch.setattr(paths, "content", lambda: content)
    monkeypatch.setattr(rendered_files, "RENDERED_FILES", [
        RenderedFile("fakek3s", "config.yaml.j2", "{{ fakek3s_config_file }}", "all", "k3s config"),
        RenderedFile("fakek3s", "gpu.env.j2", "{{ fakek3s_gpu_env }}", "gpu", "gpu env"),
        RenderedFile("fakek3s", "init.txt.j2", "/etc/fake/{{ inventory_hostname }}-init.txt", "first_server",
                     "init marker"),
    ])
    yield content


@pytest.fixture
def firewall_host(request: pytest.FixtureRequest) -> Iterator[str]:
    """A throw-away systemd container (localhost/debian-systemd:<param>, default 12) with the
    capabilities a host firewall needs in its own network namespace (NET_ADMIN, NET_RAW); removed
    afterwards. Skipped where podman or the image is missing (scripts/test-hosts builds it)."""
    image = f"localhost/debian-systemd:{getattr(request, 'param', '12')}"
    if shutil.which("podman") is None or subprocess.run(["podman", "image", "exists", image],
                                                         check=False).returncode != 0:
        if os.environ.get("OPENSHELL_REQUIRE_TEST_HOSTS") == "1":  # scripts/test built them: missing is a failure
            pytest.fail(f"podman with {image} is needed and scripts/test-hosts has run")
        pytest.skip(f"podman with {image} is needed (bash scripts/test-hosts)")
    name = f"openshell-fw-{request.node.name.replace('[', '-').replace(']', '')}-{os.getpid()}"
    name = "".join(c if c.isalnum() or c in "-_." else "-" for c in name)
    subprocess.run(["podman", "rm", "-f", name], capture_output=True, check=False)
    try:
        # sshd on a free loopback port (`podman port NAME 22` tells which): plays reach it over ssh.
        subprocess.run(["podman", "run", "-d", "--name", name, "--cap-add", "NET_ADMIN", "--cap-add", "NET_RAW",
                        "--publish", "127.0.0.1::22", image, "/sbin/init"],
                       capture_output=True, text=True, check=True, timeout=120)
        yield name
    finally:
        subprocess.run(["podman", "rm", "-f", "-t", "0", name], capture_output=True, check=False, timeout=120)
