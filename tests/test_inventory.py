"""Inventory validation: every bad inventory fails with one line naming file, host/group, field."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from openshell_auto.errors import InputError
from openshell_auto.extra_vars import parse_extra_vars
from openshell_auto.inventory import load_inventory

from helpers import INVENTORIES, REPO

# file -> substrings every error line set must contain (host or group, field, the fix)
BAD = {
    "top-level-list.yml": ["top level", "start the file with `all:`"],
    "empty.yml": ["inventory is empty"],
    "unknown-group-key.yml": ["group openshell_servers", "`hostz`", "did you mean `hosts`"],
    "host-outside-hosts.yml": ["group openshell_servers", "unknown key `server1`", "under `hosts:`"],
    "hosts-as-list.yml": [":5:", "group openshell_servers", "field hosts", "mapping of host names"],
    "group-not-mapping.yml": ["group openshell_servers", "must be a mapping"],
    "vars-not-mapping.yml": ["group all", "field vars"],
    "host-in-no-group.yml": [":4:", "host stray1", "field groups", "in no role group", "add it to openshell_servers"],
    "host-in-both.yml": ["host node1", "field groups", "both openshell_servers and openshell_agents"],
    "gpu-host-no-role.yml": ["host gpu9", "GPU host", "neither a server nor an agent", "add it to openshell_agents"],
    "gpu-agent-no-server.yml": ["group openshell_servers", "GPU agent(s) gpu1", "no server", "add a host"],
    "no-server.yml": ["group openshell_servers", "field hosts", "no server in the inventory"],
    "bad-bool.yml": [":10:", "host gpu1", "field openshell_gpu", "maybe", "true or false"],
    "bad-choice.yml": [":4:", "group all", "field openshell_device_id_strategy", "serial", "index, uuid"],
    "bad-checksum.yml": [":4:", "group all", "field k3s_images_checksum", "md5:0123456789abcdef",
                         "is not a sha256", "sha256:<64 hex digits>"],
    "bad-gpg-key-checksum.yml": [":4:", "group all", "field nvidia_container_toolkit_gpg_key_checksum",
                                 "'0123456789abcdef'", "\"<algorithm>:<hex digest>\"", "ansible.builtin.get_url"],
    "bad-k3s-version.yml": [":7:", "host server1", "field k3s_version", "'1.35.2'", "like v1.35.2+k3s1"],
    "old-k3s-version.yml": [":4:", "group all", "field k3s_version", "'v1.28.15+k3s1' is older than v1.29.0+k3s1",
                            "DevicePluginCDIDevices", "set k3s_version to v1.29.0+k3s1 or later"],
    "typo-variable.yml": ["host gpu1", "field openshell_gpuu", "unknown variable", "did you mean `openshell_gpu`"],
    "typo-group.yml": ["host server1", "looks like a typo of `openshell_servers`"],
    "renamed-group-missing.yml": ["host server1", "openshell_server_group is `k3s_masters`", "add it to k3s_masters"],
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_inventory_is_rejected_with_a_precise_message(name: str) -> None:
    path = INVENTORIES / name
    with pytest.raises(InputError) as info:
        load_inventory(path)
    text = "\n".join(info.value.messages)
    for message in info.value.messages:
        assert message.startswith(str(path)), message  # names the file
        assert "\n" not in message
    for needle in BAD[name]:
        assert needle in text, f"{needle!r} missing from:\n{text}"


def test_at_least_ten_distinct_bad_inventories() -> None:
    assert len({p.name for p in INVENTORIES.glob("*.yml") if not p.name.startswith("valid-")} & set(BAD)) >= 10


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="inventory file not found"):
        load_inventory(tmp_path / "nope.yml")


def test_yaml_error_names_the_line(write_inventory: Callable[..., Path]) -> None:
    path = write_inventory("""
        all:
          children:
            openshell_servers:
              hosts:
                server1:
               ansible_host: 192.0.2.10
        """)
    with pytest.raises(InputError) as info:
        load_inventory(path)
    assert info.value.messages[0].startswith(f"{path}:6:8: YAML/JSON syntax error in the inventory file")


def test_example_inventory_classified() -> None:
    classified = load_inventory(REPO / "inventories" / "example" / "hosts.yml")
    assert classified.servers == ["server1"]
    assert classified.agents == ["gpu1", "gpu2"]
    assert classified.gpu_hosts == ["gpu1", "gpu2"]
    assert classified.first_server == "server1"
    assert classified.vars["gpu1"]["ansible_host"] == "192.0.2.21"
    assert classified.vars["gpu1"]["ansible_user"] == "ubuntu"  # from all.vars: a sudo login, not root
    assert classified.vars["gpu1"]["ansible_become"] is True


def test_molecule_shaped_inventory_is_accepted() -> None:
    classified = load_inventory(INVENTORIES / "valid-molecule.yml")
    assert classified.servers == ["default-bookworm"]
    assert classified.agents == ["default-trixie"]
    assert classified.gpu_hosts == ["default-trixie"]  # via the child group openshell_gpu_hosts


def test_renamed_groups_ranges_and_templates() -> None:
    classified = load_inventory(INVENTORIES / "valid-renamed-groups.yml")
    assert classified.servers == ["m2", "m1"]  # order kept: first listed initialises
    assert classified.first_server == "m2"
    assert classified.agents == ["w1", "w2", "w3", "w9"]
    assert classified.gpu_hosts == ["w9"]  # templated values are left to run time


def test_group_names_from_extra_vars(write_inventory: Callable[..., Path]) -> None:
    path = write_inventory("""
        all:
          children:
            masters:
              hosts:
                m1:
            openshell_agents:
              hosts:
                a1:
        """)
    with pytest.raises(InputError, match="host m1: field groups"):
        load_inventory(path)
    classified = load_inventory(path, {"openshell_server_group": "masters"})
    assert classified.servers == ["m1"]


def test_bad_extra_var_value_is_reported(write_inventory: Callable[..., Path]) -> None:
    path = write_inventory("""
        all:
          children:
            openshell_servers:
              hosts:
                s1:
        """)
    with pytest.raises(InputError) as info:
        load_inventory(path, parse_extra_vars(["openshell_device_id_strategy=serial"]))
    assert info.value.messages == [
        "-e: extra vars: field openshell_device_id_strategy: value of openshell_device_id_strategy must be one "
        "of: index, uuid, got: serial; use one of: index, uuid"]


def test_group_vars_directory_is_checked(write_inventory: Callable[..., Path], tmp_path: Path) -> None:
    path = write_inventory("""
        all:
          children:
            openshell_servers:
              hosts:
                s1:
        """)
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "openshell_servers.yml").write_text("---\nopenshell_gpu: perhaps\n")
    with pytest.raises(InputError, match=r"group_vars/openshell_servers.yml:2: group openshell_servers: "
                                         r"field openshell_gpu"):
        load_inventory(path)


def test_host_vars_override_group_vars(write_inventory: Callable[..., Path]) -> None:
    path = write_inventory("""
        all:
          vars: {openshell_gpu: false, x: all}
          children:
            openshell_servers:
              vars: {x: group}
              hosts:
                s1: {x: host}
                s2:
        """)
    classified = load_inventory(path)
    assert classified.vars["s1"]["x"] == "host"
    assert classified.vars["s2"]["x"] == "group"


def test_every_role_default_passes_its_own_argument_spec() -> None:
    """No false positives: the roles' defaults are valid input (checked with the real roles)."""
    from openshell_auto.inventory_checks import check_variables
    from openshell_auto.inventory_model import VarBlock
    from openshell_auto.specs import load_specs

    specs = load_specs()
    assert "openshell" in specs.roles
    for role in specs.roles.values():
        block = VarBlock("group", f"defaults of {role.name}", role.path / "defaults" / "main.yml", role.defaults)
        assert check_variables([block], specs) == [], role.name



def one_server_with(write_inventory: Callable[..., Path], var_line: str) -> Path:
    """An inventory with one server, s1, and one YAML line (`name: value`) under all.vars."""
    return write_inventory(f"""
        all:
          vars:
            {var_line}
          children:
            openshell_servers:
              hosts:
                s1:
        """)

def test_misspelt_option_of_every_role_is_caught(write_inventory: Callable[..., Path]) -> None:
    from openshell_auto.specs import load_specs

    specs = load_specs()
    for role in specs.roles.values():
        option = next((o for o in sorted(role.options) if len(o) > len(role.prefix) + 3), None)
        if option is None:
            continue
        typo = option[:-2] + option[-1] + option[-2]  # swap the last two letters
        if typo in specs.known_names():
            continue
        path = one_server_with(write_inventory, f"{typo}: x")
        with pytest.raises(InputError) as info:
            load_inventory(path)
        assert f"field {typo}: unknown variable of role {specs.owner(typo).name}" in info.value.messages[0]  # type: ignore[union-attr]
        assert f"did you mean `{option}`" in info.value.messages[0]


@pytest.mark.parametrize("value", ["sha512:" + "ab" * 64, "sha1:" + "0f" * 20, "sha256:" + "ef" * 32,
                                   "sha256:https://example.com/keys/SHA256SUMS"])
def test_gpg_key_checksum_takes_what_get_url_takes(write_inventory: Callable[..., Path], value: str) -> None:
    """nvidia_container_toolkit_gpg_key_checksum goes to get_url `checksum:`: any algorithm, or a URL."""
    path = one_server_with(write_inventory, f'nvidia_container_toolkit_gpg_key_checksum: "{value}"')
    assert load_inventory(path).servers == ["s1"]


@pytest.mark.parametrize("name", ["k3s_images_checksum", "nvidia_device_plugin_chart_checksum",
                                  "nvidia_device_plugin_image_checksum"])
def test_archive_checksums_must_be_sha256(write_inventory: Callable[..., Path], name: str) -> None:
    """The roles hash these archives with sha256 themselves: another algorithm is refused up front."""
    path = one_server_with(write_inventory, f'{name}: "sha512:{"ab" * 64}"')
    with pytest.raises(InputError) as info:
        load_inventory(path)
    assert len(info.value.messages) == 1
    assert f"field {name}: 'sha512:{'ab' * 64}' is not a sha256" in info.value.messages[0]


@pytest.mark.parametrize(("version", "accepted"), [
    ("v1.28.15+k3s1", False), ("v1.28.99+k3s9", False), ("v0.99.0+k3s1", False),
    ("v1.29.0+k3s1", True), ("v1.29.15+k3s1", True), ("v1.35.2+k3s1", True), ("v2.0.0+k3s1", True),
])
def test_k3s_version_minimum_is_one_rule_for_cli_and_role(version: str, accepted: bool) -> None:
    """The CLI's check and the role's filter plugin (k3s_version_problem) are the same function."""
    import importlib.util
    from ansible_collections.openshell_auto.cluster.plugins.module_utils.k3s_release import k3s_version_problem

    plugin_path = REPO / "plugins" / "filter" / "k3s_release.py"
    spec = importlib.util.spec_from_file_location("k3s_release_plugin", plugin_path)
    assert spec is not None and spec.loader is not None
    plugin = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plugin)
    role_filter = plugin.FilterModule().filters()["k3s_version_problem"]
    assert role_filter is k3s_version_problem
    assert (k3s_version_problem(version) == "") is accepted


@pytest.mark.parametrize("value", ["1", "-2"])
def test_time_slicing_replicas_below_two_are_refused_as_the_plugin_does(write_inventory: Callable[..., Path],
                                                                       value: str) -> None:
    """NVIDIA/k8s-device-plugin v0.19.1 api/config/v1/replicas.go refuses replicas < 2 and then
    advertises no GPU: refused here before anything runs (0 means no time slicing)."""
    path = one_server_with(write_inventory, f"nvidia_device_plugin_time_slicing_replicas: {value}")
    with pytest.raises(InputError) as info:
        load_inventory(path)
    assert len(info.value.messages) == 1
    assert "field nvidia_device_plugin_time_slicing_replicas" in info.value.messages[0]
    assert "number of replicas must be >= 2" in info.value.messages[0]
    assert "set 0 (no time slicing) or 2 or more" in info.value.messages[0]


@pytest.mark.parametrize("value", ["0", "2", "8"])
def test_time_slicing_replicas_the_plugin_accepts(write_inventory: Callable[..., Path], value: str) -> None:
    path = one_server_with(write_inventory, f"nvidia_device_plugin_time_slicing_replicas: {value}")
    assert load_inventory(path).servers == ["s1"]
