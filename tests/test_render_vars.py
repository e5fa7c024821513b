"""`render` templates each role variable once per distinct input (openshell_auto/render_vars.py):
a chain of role defaults that every host reaches is templated once, not once per host, and what
is written stays byte for byte what handing every variable to Ansible's lazy templating writes."""

from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from openshell_auto import paths, render, rendered_files
from openshell_auto.render import render_inventory
from openshell_auto.rendered_files import RenderedFile

TRICKY_DEFAULTS = """\
fakek3s_chain_a: "{{ fakek3s_chain_b }}-a"
fakek3s_chain_b: "{{ fakek3s_chain_c | upper }}"
fakek3s_chain_c: "{{ 'gpu' if inventory_hostname in groups['openshell_role_gpu'] else 'cpu' }}"
fakek3s_missing: "{{ fakek3s_defined_nowhere }}"
fakek3s_where: "{{ template_path | default('no template') | basename }}"
fakek3s_managed: "{{ ansible_managed }}"
fakek3s_peers: "{{ groups['all'] | map('extract', hostvars) | list }}"
fakek3s_listed: ["{{ inventory_hostname }}", {k: "{{ fakek3s_chain_c }}", n: 3}]
fakek3s_quoted: "[{{ literal_text }}]"
fakek3s_looped: "{% for h in groups['openshell_role_server'] %}{{ h }};{% endfor %}"
"""

TRICKY_TEMPLATE = """\
a={{ fakek3s_chain_a }}
missing={{ fakek3s_missing | default('defaulted') }}
where={{ fakek3s_where }}
managed={{ fakek3s_managed }}
peers={{ fakek3s_peers | map(attribute='inventory_hostname') | join(',') }}
listed={{ fakek3s_listed | to_json }}
quoted={{ fakek3s_quoted }}
looped={{ fakek3s_looped }}
url={{ fakek3s_server_url }}
"""


@pytest.fixture
def tricky(fake_content: paths.ContentPaths, monkeypatch: pytest.MonkeyPatch,
           write_inventory: Callable[..., Path]) -> Iterator[Path]:
    """fakek3s with defaults that chain, fail, use names only the template step defines, hold
    hostvars, nest templates in lists and dicts; an inventory of 12 hosts, one value `!unsafe`."""
    role = fake_content.roles / "fakek3s"
    defaults = role / "defaults" / "main.yml"
    defaults.write_text(defaults.read_text() + TRICKY_DEFAULTS)
    (role / "templates" / "tricky.j2").write_text(TRICKY_TEMPLATE)
    monkeypatch.setattr(rendered_files, "RENDERED_FILES", [
        *rendered_files.RENDERED_FILES,
        RenderedFile("fakek3s", "tricky.j2", "/etc/fake/tricky-{{ fakek3s_chain_c }}.txt", "all", "tricky"),
    ])
    hosts = "\n".join(f"        a{i}: {{openshell_gpu: {str(i % 2 == 0).lower()}}}" for i in range(10))
    yield write_inventory(textwrap.dedent("""\
        all:
          vars:
            literal_text: !unsafe "{{ never_templated }}"
          children:
            openshell_servers:
              hosts:
                s1: {ansible_host: 192.0.2.1}
                s2: {ansible_host: 192.0.2.2}
            openshell_agents:
              hosts:
        """) + hosts + "\n")


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_resolved_variables_write_what_lazy_templating_writes(tricky: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENSHELL_AUTO_RENDER_WORKERS", "1")
    render_inventory(tricky, tmp_path / "resolved")
    monkeypatch.setenv("OPENSHELL_AUTO_RENDER_WORKERS", "2")
    render_inventory(tricky, tmp_path / "workers")
    monkeypatch.setattr(render, "referenced_variables", lambda texts, variables: None)  # every variable, lazily
    monkeypatch.setenv("OPENSHELL_AUTO_RENDER_WORKERS", "1")
    render_inventory(tricky, tmp_path / "lazy")
    resolved, lazy = _files(tmp_path / "resolved"), _files(tmp_path / "lazy")
    assert resolved == lazy == _files(tmp_path / "workers")
    assert len([n for n in resolved if "/tricky-" in n]) == 12
    gpu = resolved["a0/etc/fake/tricky-gpu.txt"].decode()
    assert "a=GPU-a\n" in gpu and "missing=defaulted\n" in gpu and "where=tricky.j2\n" in gpu
    assert "managed=Ansible managed\n" in gpu and "peers=s1,s2,a0," in gpu
    assert 'listed=["a0", {"k": "gpu", "n": 3}]\n' in gpu and "quoted=[{{ never_templated }}]\n" in gpu
    assert "looped=s1;s2;\n" in gpu and "url=https://192.0.2.1:6443\n" in gpu
    assert "a=CPU-a\n" in resolved["a1/etc/fake/tricky-cpu.txt"].decode()


def test_a_default_every_host_reaches_is_templated_once_per_distinct_input(
        tricky: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Counted at Ansible's template engine in one process: the first server's URL (the same for
    all 12 hosts) once, the per-host node name once per host, the GPU/CPU chain once per host
    for its first link (it reads inventory_hostname) and once per distinct result after it."""
    from ansible._internal._templating import _engine

    seen: Counter[str] = Counter()
    original = _engine.TemplateEngine.template

    def counting(self: Any, variable: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(variable, str):
            seen[str(variable)] += 1
        return original(self, variable, *args, **kwargs)

    monkeypatch.setattr(_engine.TemplateEngine, "template", counting)
    # only tricky.j2: the fake config.yaml.j2 has an {% include %}, which hands it every variable
    monkeypatch.setattr(rendered_files, "RENDERED_FILES", [e for e in rendered_files.RENDERED_FILES
                                                           if e.template == "tricky.j2"])
    monkeypatch.setenv("OPENSHELL_AUTO_RENDER_WORKERS", "1")
    render_inventory(tricky, tmp_path / "out")
    url = "https://{{ hostvars[openshell_first_server]['ansible_host'] | default(openshell_first_server) }}:6443"
    assert seen[url] == 1
    assert seen["{{ inventory_hostname }}"] == 12  # fakek3s_listed's first item
    assert seen["{{ 'gpu' if inventory_hostname in groups['openshell_role_gpu'] else 'cpu' }}"] == 12
    assert seen["{{ fakek3s_chain_c | upper }}"] == 2  # inputs: 'gpu' or 'cpu'
    assert seen["{{ fakek3s_chain_b }}-a"] == 2


def test_scope_keys_values_by_result_and_leaves_the_unknowable_to_ansible() -> None:
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import trust_as_template as t

    from openshell_auto.render import names_of
    from openshell_auto.render_vars import Dynamic, Resolver

    resolver = Resolver(DataLoader(), names_of)
    shared = {"long": t("{{ h | length > 2 }}"), "label": t("{{ 'long' if long else 'short' }}-{{ n }}"), "n": 1}
    one, two, short = (resolver.scope({**shared, "h": h}) for h in ("one", "two", "x"))
    assert one.handed(["label"]) == two.handed(["label"])  # different h, same result of `long`: one key
    assert one.handed(["label"])[1] == {"label": "long-1"} and short.handed(["label"])[1] == {"label": "short-1"}
    assert one.handed(["h"])[0] != two.handed(["h"])[0]
    late = resolver.scope({"where": t("{{ template_path | basename }}"), "broken": t("{{ nowhere_defined }}"),
                           "uses": t("{{ broken | default('d') }}")})
    key, handed = late.handed(["where", "uses"])
    assert handed["where"] == "{{ template_path | basename }}"  # left for the template step
    assert handed["broken"] == "{{ nowhere_defined }}" and "uses" in handed  # fails alone: left lazy
    # `{{ name }}` is taken as name's value without the engine, as Ansible's native templating
    # returns it (an int stays an int); a string not trusted as a template is no template at all
    from ansible.template import Templar

    values = {"alias": t("{{ n }}"), "n": 7, "raw": "{{ n }}", "name": t("{{ h }}"), "h": "node-1",
              "shown": t("{{ n }} "), "listed": t("{{ [n] }}")}
    engine = Templar(loader=DataLoader(), variables=values)
    expected = {name: engine.template(values[name]) for name in ("alias", "raw", "name", "shown", "listed")}
    assert expected == {"alias": 7, "raw": "{{ n }}", "name": "node-1", "shown": "7 ", "listed": [7]}
    bare = resolver.scope(values)
    assert {k: v for k, v in bare.handed(list(expected))[1].items() if k in expected} == expected
    assert bare.node("alias") is bare.node("n") and bare.node("name") is bare.node("h")
    assert bare.node("raw") is not bare.node("n")
    for variables in ({"a": t("{{ b }}"), "b": t("{{ a }}")}, {"a": t("{{ vars['b'] }}"), "b": 1}):
        with pytest.raises(Dynamic):
            resolver.scope(variables).handed(["a"])


def _k3s_membership() -> dict[str, str]:
    import yaml

    from helpers import REPO

    data = yaml.safe_load((REPO / "roles/k3s/vars/main.yml").read_text())
    return {name: data[name] for name in ("__k3s_is_server", "__k3s_is_gpu")}


def test_k3s_membership_costs_each_host_the_same_whatever_the_cluster_size(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write_inventory: Callable[..., Path]) -> None:
    """The real roles on 2 servers and 10 agents (5 GPU): role k3s's server/GPU membership is
    templated once per distinct set of the host's own groups (4 here), not once per host (a scan
    of the whole group each time)."""
    from ansible._internal._templating import _engine

    expressions = set(_k3s_membership().values())
    seen: Counter[str] = Counter()
    original = _engine.TemplateEngine.template

    def counting(self: Any, variable: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(variable, str) and str(variable) in expressions:
            seen[str(variable)] += 1
        return original(self, variable, *args, **kwargs)

    hosts = "\n".join(f"        a{i}: {{openshell_gpu: {str(i % 2 == 0).lower()}}}" for i in range(10))
    inventory = write_inventory(
        "all:\n  children:\n    openshell_servers:\n      hosts:\n        s1: {ansible_host: 192.0.2.1}\n"
        f"        s2: {{ansible_host: 192.0.2.2}}\n    openshell_agents:\n      hosts:\n{hosts}\n")
    monkeypatch.setattr(_engine.TemplateEngine, "template", counting)
    monkeypatch.setenv("OPENSHELL_AUTO_RENDER_WORKERS", "1")
    render_inventory(inventory, tmp_path / "out")
    assert set(seen) == expressions and all(count <= 4 for count in seen.values()), seen


def test_k3s_membership_follows_group_by_in_a_play(run_play: Callable[..., Any]) -> None:
    """Role k3s's membership variables (its vars/main.yml) in a play: before the dynamic groups
    exist, after group_by adds them, delegated, and in the next play, each host answers for itself."""
    from helpers import REPO

    checks = "(__k3s_is_gpu | bool) == gpu and (__k3s_is_server | bool) == server"
    result = run_play(
        """
        all:
          vars: {ansible_connection: local, ansible_python_interpreter: "{{ ansible_playbook_python }}"}
          hosts:
            s1: {gpu: false, server: true}
            g1: {gpu: true, server: false}
            c1: {gpu: false, server: false}
        """,
        f"""
        - hosts: all
          gather_facts: false
          vars_files: [{REPO / "roles/k3s/vars/main.yml"}]
          tasks:
            - name: No dynamic group yet
              ansible.builtin.assert:
                that: not (__k3s_is_gpu | bool) and not (__k3s_is_server | bool)
            - name: Group as role openshell does
              ansible.builtin.group_by:
                key: "{{{{ item }}}}"
              loop: "{{{{ (['openshell_role_gpu'] if gpu else []) + (['openshell_role_server'] if server else []) }}}}"
            - name: Each host answers for itself
              ansible.builtin.assert:
                that: {checks}
            - name: Delegated, still the host's own answer
              ansible.builtin.assert:
                that: {checks}
              delegate_to: c1
        - hosts: all
          gather_facts: false
          vars_files: [{REPO / "roles/k3s/vars/main.yml"}]
          tasks:
            - name: The next play too
              ansible.builtin.assert:
                that: {checks}
        """)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("failed=0") == 3 and "ok=5" in result.stdout
