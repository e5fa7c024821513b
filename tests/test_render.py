"""Offline render: paths, Ansible filters/magic vars, precedence, selectors, errors, real registry."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from openshell_auto import paths, rendered_files
from openshell_auto.cli import main
from openshell_auto.errors import InputError, RenderError
from openshell_auto.render import render_inventory


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_render_cli_writes_every_file_under_host_and_absolute_path(fake_content: paths.ContentPaths,
                                                                    tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["render", "-o", str(out)])  # default: the example inventory
    assert result.exit_code == 0, result.output
    assert _files(out) == [
        "gpu1/etc/fake/gpu.env",
        "gpu1/etc/rancher/k3s/config.yaml",
        "gpu2/etc/fake/gpu.env",
        "gpu2/etc/rancher/k3s/config.yaml",
        "server1/etc/fake/server1-init.txt",
        "server1/etc/rancher/k3s/config.yaml",
    ]
    assert "server1" in result.output and "server,first" in result.output and "agent,gpu" in result.output
    assert "6 files written" in result.output
    assert (out / "gpu1/etc/rancher/k3s/config.yaml").stat().st_mode & 0o777 == 0o600


def test_render_uses_ansible_filters_magic_vars_and_includes(fake_content: paths.ContentPaths,
                                                             tmp_path: Path) -> None:
    render_inventory(fake_content.example_inventory, tmp_path / "out")
    text = (tmp_path / "out/gpu1/etc/rancher/k3s/config.yaml").read_text()
    assert text.startswith("# Ansible managed")
    body = yaml.safe_load(text)
    assert body["write-kubeconfig-mode"] == "0600"  # role vars/main.yml combined with defaults
    assert body["node-name"] == "gpu1"  # templated role default
    assert body["server"] == "https://192.0.2.10:6443"  # hostvars of the first server
    assert body["token_b64"] == "bm90LWEtcmVhbC10b2tlbg=="  # b64encode
    assert body["servers"] == "server1"  # dynamic group openshell_role_server
    assert body["gpu"] is True
    assert body["hostname"] == "gpu1"  # no facts needed
    assert body["strategy"] == "index"  # inventory all.vars
    assert text.rstrip().endswith("# end of gpu1")  # {% include %} from the role's templates/
    assert (tmp_path / "out/gpu1/etc/fake/gpu.env").read_text() == "LABEL=nvidia.com/gpu.present=true\n"
    assert (tmp_path / "out/server1/etc/fake/server1-init.txt").read_text() == "first=server1 group=server1\n"


def test_precedence_defaults_inventory_extra_vars(fake_content: paths.ContentPaths, tmp_path: Path,
                                                  write_inventory: Callable[..., Path]) -> None:
    inventory = write_inventory("""
        all:
          vars:
            fakek3s_precedence: from-inventory
            fakek3s_config_file: /srv/k3s.yaml
          children:
            openshell_servers:
              hosts:
                s1:
                s2:
                  fakek3s_precedence: from-host
        """)
    render_inventory(inventory, tmp_path / "a")
    assert "precedence: from-inventory" in (tmp_path / "a/s1/srv/k3s.yaml").read_text()
    assert "precedence: from-host" in (tmp_path / "a/s2/srv/k3s.yaml").read_text()
    render_inventory(inventory, tmp_path / "b", ["fakek3s_precedence=from-cli", "fakek3s_config_file=/x/c.yaml"])
    assert "precedence: from-cli" in (tmp_path / "b/s2/x/c.yaml").read_text()
    assert _files(tmp_path / "b") == ["s1/etc/fake/s1-init.txt", "s1/x/c.yaml", "s2/x/c.yaml"]


def test_render_rejects_bad_inventory_with_exit_2(fake_content: paths.ContentPaths, tmp_path: Path,
                                                  write_inventory: Callable[..., Path]) -> None:
    inventory = write_inventory("""
        all:
          children:
            openshell_servers:
              hosts:
                s1:
                  fakek3s_port: many
        """)
    result = CliRunner().invoke(main, ["render", "-i", str(inventory), "-o", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "host s1: field fakek3s_port" in result.output
    assert not (tmp_path / "o").exists()


def test_render_template_error_exits_1(fake_content: paths.ContentPaths, tmp_path: Path) -> None:
    (fake_content.roles / "fakek3s/templates/gpu.env.j2").write_text("X={{ undefined_thing }}\n")
    result = CliRunner().invoke(main, ["render", "-o", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "host gpu1: fakek3s/templates/gpu.env.j2" in result.output
    assert "undefined_thing" in result.output


def test_render_rejects_relative_dest(fake_content: paths.ContentPaths, tmp_path: Path) -> None:
    entry = rendered_files.RenderedFile("fakek3s", "gpu.env.j2", "relative/path", "gpu", "bad")
    with pytest.raises(RenderError) as info:
        render_inventory(fake_content.example_inventory, tmp_path / "o", registry=[entry])
    assert "field dest rendered to `relative/path`, not an absolute path" in info.value.messages[0]


def test_render_writes_nothing_outside_the_output_directory(fake_content: paths.ContentPaths, tmp_path: Path) -> None:
    """A dest with `..`, a symlink inside -o pointing out, and a host directory that is such a
    symlink: each refused with the file named; nothing appears outside -o."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    climbing = rendered_files.RenderedFile("fakek3s", "gpu.env.j2", "/etc/../../../escape.env", "gpu", "bad")
    with pytest.raises(RenderError) as info:
        render_inventory(fake_content.example_inventory, tmp_path / "o1", registry=[climbing])
    assert "field dest rendered to `/etc/../../../escape.env`, which leaves" in info.value.messages[0]

    out = tmp_path / "o2"
    (out / "gpu1").mkdir(parents=True)
    (out / "gpu1" / "etc").symlink_to(elsewhere)  # planted before the render
    with pytest.raises(RenderError) as info:
        render_inventory(fake_content.example_inventory, out)
    messages = "\n".join(info.value.messages)
    assert "host gpu1: fakek3s/templates/gpu.env.j2: field dest rendered to `/etc/fake/gpu.env`, which leaves" in messages
    assert "host gpu1: fakek3s/templates/config.yaml.j2: field dest rendered to `/etc/rancher/k3s/config.yaml`, " \
           "which leaves" in messages
    assert "host gpu2" not in messages

    shutil.rmtree(out / "gpu2")
    (out / "gpu2").symlink_to(elsewhere)  # a host's own directory: refused before anything is written
    with pytest.raises(InputError, match=r"o2/gpu2 is a symlink that leads outside .*o2; remove it"):
        render_inventory(fake_content.example_inventory, out)
    assert list(elsewhere.iterdir()) == []
    assert not (tmp_path / "escape.env").exists()


def test_real_registry_renders_for_the_example_inventory(tmp_path: Path) -> None:
    """Every entry the roles registered renders for the bundled example inventory."""
    result = render_inventory(paths.content().example_inventory, tmp_path / "out")
    expected = 0
    from openshell_auto.inventory import load_inventory

    classified = load_inventory(paths.content().example_inventory)
    for entry in rendered_files.RENDERED_FILES:
        assert (paths.content().roles / entry.role / "templates" / entry.template).is_file(), entry
        if not entry.when:  # conditional files (proxy, registries.yaml) are not set in the example
            expected += len(classified.select(entry.hosts))
    assert result.file_count == expected
    for host in result.hosts:
        for dest, written in host.files:
            assert dest.startswith("/")
            assert written == tmp_path / "out" / host.host / dest.lstrip("/")
            assert written.is_file()


def test_compile_cache_workers_and_pruning_do_not_change_output(fake_content: paths.ContentPaths, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         write_inventory: Callable[..., Path]) -> None:
    hosts = "\n".join(f"        a{i}: {{openshell_gpu: {str(i % 2 == 0).lower()}}}" for i in range(12))
    inventory = write_inventory(
        "all:\n  children:\n    openshell_servers:\n      hosts:\n        s1: {ansible_host: 192.0.2.1}\n"
        f"    openshell_agents:\n      hosts:\n{hosts}\n")
    monkeypatch.setenv("OPENSHELL_AUTO_RENDER_WORKERS", "2")
    render_inventory(inventory, tmp_path / "fast")
    import contextlib

    from openshell_auto import render

    monkeypatch.setattr(render, "compile_cache", contextlib.nullcontext)
    monkeypatch.setattr(render, "referenced_variables", lambda texts, variables: None)  # every variable, no memo
    monkeypatch.setenv("OPENSHELL_AUTO_RENDER_WORKERS", "1")
    render_inventory(inventory, tmp_path / "plain")
    fast, plain = _files(tmp_path / "fast"), _files(tmp_path / "plain")
    assert fast == plain and len(fast) == 13 + 6 + 1
    for name in fast:
        assert (tmp_path / "fast" / name).read_text() == (tmp_path / "plain" / name).read_text(), name
    from ansible._internal._templating._jinja_bits import AnsibleEnvironment

    assert "compile" not in AnsibleEnvironment.__dict__  # the cache is removed after a render


def test_airgap_example_inventory_renders_without_downloads(tmp_path: Path) -> None:
    """The documented air-gapped inventory validates and points k3s at its own static chart."""
    airgap = paths.content().root / "inventories" / "airgap" / "hosts.yml"
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["render", "-i", str(airgap), "-o", str(out)])
    assert result.exit_code == 0, result.output
    chart = yaml.safe_load((out / "server1/var/lib/rancher/k3s/server/manifests/nvidia-device-plugin.yaml").read_text())
    assert chart["spec"]["chart"] == "https://%{KUBERNETES_API}%/static/charts/nvidia-device-plugin-0.19.1.tgz"
    assert "repo" not in chart["spec"]
    config = yaml.safe_load((out / "gpu1/etc/rancher/k3s/config.yaml").read_text())
    assert config["server"] == "https://10.0.0.10:6443"
    assert "nvidia.com/gpu.present=true" in config["node-label"]
    assert "token" not in config and config["token-file"]


def _template_tasks(node: object) -> list[tuple[dict[str, str], object]]:
    """`ansible.builtin.template` task arguments anywhere in a task list (blocks included), each with
    the task's `loop` (None without one)."""
    found: list[tuple[dict[str, str], object]] = []
    if isinstance(node, list):
        for item in node:
            found += _template_tasks(item)
    elif isinstance(node, dict):
        args = node.get("ansible.builtin.template")
        if isinstance(args, dict):
            found.append((args, node.get("loop")))
        for key in ("block", "rescue", "always"):
            found += _template_tasks(node.get(key))
    return found


def _written(role_dir: Path, args: dict[str, str], loop: object) -> list[tuple[str, str]]:
    """(src, dest) a template task writes. A looped task (`src: "{{ item.src }}"`) writes each item
    of the role variable its loop starts from (roles/<role>/vars or defaults)."""
    import re

    import yaml

    if loop is None:
        return [(args["src"], args["dest"])]
    match = re.match(r"\{\{\s*(\w+)", str(loop))
    assert match, f"{role_dir.name}: a template loop that does not start from a role variable: {loop}"
    items = None
    for sub in ("vars", "defaults"):
        data = yaml.safe_load((role_dir / sub / "main.yml").read_text()) or {}
        items = data.get(match.group(1), items)
    assert isinstance(items, list), f"{role_dir.name}: {match.group(1)} is no list in vars/ or defaults/"
    assert args == {**args, "src": "{{ item.src }}", "dest": "{{ item.dest }}"}, args
    return [(item["src"], item["dest"]) for item in items]


def test_render_covers_every_template_the_roles_write_at_the_same_path() -> None:
    """Each role template is registered for `render`, with the dest expression its task uses."""
    import yaml

    registry = {(e.role, e.template): e.dest for e in rendered_files.RENDERED_FILES}
    written: dict[tuple[str, str], str] = {}
    for tasks in sorted(paths.content().roles.glob("*/tasks/*.yml")):
        role = tasks.parent.parent.name
        for args, loop in _template_tasks(yaml.safe_load(tasks.read_text())):
            for src, dest in _written(tasks.parent.parent, args, loop):
                written[(role, src)] = dest
    templates = {(t.parent.parent.name, t.name) for t in paths.content().roles.glob("*/templates/*.j2")}
    assert templates == set(written), "every template file is written by exactly the tasks found"
    assert written == registry


def test_the_real_roles_render_the_same_with_only_the_variables_they_reach(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write_inventory: Callable[..., Path]) -> None:
    """The real templates, with per-host differences (GPU or not, labels, a proxy on some hosts):
    handing each template only the variables it reaches, and sharing renders between hosts whose
    reached values are equal, writes byte for byte what the full variable set writes."""
    from openshell_auto import render

    hosts = "\n".join(
        f"        a{i}: {{openshell_gpu: {str(i % 2 == 0).lower()}"
        + (", k3s_http_proxy: 'http://proxy.example:3128'" if i % 3 == 0 else "")
        + (", k3s_node_labels: [rack=r%d]" % i if i % 4 == 0 else "") + "}" for i in range(10))
    inventory = write_inventory(
        "all:\n  children:\n    openshell_servers:\n      hosts:\n        s1: {ansible_host: 192.0.2.1}\n"
        f"        s2: {{ansible_host: 192.0.2.2}}\n    openshell_agents:\n      hosts:\n{hosts}\n")
    monkeypatch.setenv("OPENSHELL_AUTO_RENDER_WORKERS", "1")
    reached = render_inventory(inventory, tmp_path / "reached")
    monkeypatch.setattr(render, "referenced_variables", lambda texts, variables: None)
    full = render_inventory(inventory, tmp_path / "full")
    names = _files(tmp_path / "full")
    assert _files(tmp_path / "reached") == names and full.file_count == reached.file_count
    assert any(n.endswith("etc/default/k3s-agent") for n in names) and any(n.endswith("nvidia-cdi-refresh.env") for n in names)
    for name in names:
        assert (tmp_path / "reached" / name).read_bytes() == (tmp_path / "full" / name).read_bytes(), name


def test_referenced_variables_follows_values_and_gives_up_on_dynamic_names() -> None:
    from openshell_auto.render import referenced_variables

    variables = {"a": "{{ b }}-x", "b": {"k": ["{{ c | upper }}"]}, "c": "plain", "d": "{{ e }}", "e": 1}
    assert referenced_variables(["{{ a }} {% for i in items %}{{ i }}{% endfor %}"], variables) == {
        "a", "b", "c", "items", "i"}
    assert referenced_variables(["no template here"], variables) == set()
    assert referenced_variables(["{{ lookup('vars', 'a' ~ n) }}"], variables) is None
    assert referenced_variables(["{{ vars['a'] }}"], variables) is None
    assert referenced_variables(["{% include 'other.j2' %}"], variables) is None
    assert referenced_variables(["{{ a }"], variables) is None  # not parseable here: every variable
    assert referenced_variables(["{{ x }}"], {"x": "{{ query('varnames', '^k3s_') }}"}) is None


def test_inventory_values_may_name_role_defaults_and_hostvars(tmp_path: Path) -> None:
    """A value that names a role default renders with it; one that reads another host's variables
    through `hostvars` renders with that host's; one asking `hostvars` for a role default (which
    Ansible's hostvars do not hold either) is a render error naming the host and template, not a
    traceback."""
    base = ("all:\n  children:\n    openshell_servers:\n      hosts:\n        s1: {ansible_host: 127.0.0.1}\n"
            "    openshell_agents:\n      hosts:\n        a1: {ansible_host: 192.0.2.7, openshell_gpu: true}\n"
            "  vars:\n    k3s_node_labels: [%s]\n")
    cases = {"default": ("'port={{ k3s_api_port }}'", "- port=6443"),
             "hostvars": ("'peer={{ hostvars[\"a1\"].ansible_host }}'", "- peer=192.0.2.7")}
    for name, (label, line) in cases.items():
        inventory = tmp_path / f"{name}.yml"
        inventory.write_text(base % label)
        result = CliRunner().invoke(main, ["render", "-i", str(inventory), "-o", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
        assert line in (tmp_path / name / "s1" / "etc/rancher/k3s/config.yaml").read_text().splitlines()
    inventory = tmp_path / "undefined.yml"
    inventory.write_text(base % "'x={{ hostvars[\"a1\"].k3s_api_port }}'")
    result = CliRunner().invoke(main, ["render", "-i", str(inventory), "-o", str(tmp_path / "undefined")])
    assert result.exit_code == 1, result.output
    assert "host s1: k3s/templates/config.yaml.j2:" in result.output and "k3s_api_port" in result.output
    assert "Traceback" not in result.output
