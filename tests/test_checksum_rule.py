"""The checksum rule, one function (module_utils.checksum.checksum_problem), and every caller
agreeing with it on the same values: the CLI's inventory checks, the roles' air-gap input check
(filter openshell_airgap_verdict, which the k3s and device-plugin roles run) and the bundle
command's settings; and the toolkit role's check of its key's checksum (filter
openshell_checksum_problem) before it changes anything. A caller refuses exactly what the rule refuses, with the rule's words behind
the variable's name."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.openshell_auto.cluster.plugins.module_utils import checksum
from openshell_auto import bundle
from openshell_auto.errors import InputError
from openshell_auto.inventory import load_inventory

from helpers import ROLE_TEST_ENV

HEX64 = "0123456789abcdef" * 4
HEX128 = HEX64 * 2
# (value, a sha256 the roles can hash with, a get_url checksum)
VALUES = [
    ("", True, True),  # empty: no checksum
    (f"sha256:{HEX64}", True, True),
    (f"sha256:{HEX64.upper()}", True, True),
    (HEX64, True, False),  # the hex alone: a sha256sum line's sum, no algorithm for get_url
    (f"md5:{'a' * 32}", False, True),
    (f"sha512:{HEX128}", False, True),
    ("sha1:https://example.invalid/SHA1SUMS", False, True),
    (f"sha3_256:{HEX64}", False, True),  # an algorithm hashlib knows, whatever its length
    ("sha256:abcd", False, False),
    (f"sha256:{HEX64[:-1]}", False, False),
    (f"sha256:{HEX64}\n", False, False),
    (f"{HEX64}\n", False, False),
    (f"sha512:{HEX64}", False, False),
    ("sha256:" + "z" * 64, False, False),
    ("crc32:0123", False, False),
    ("-oProxyCommand=id", False, False),
]
SHA256_VARS = ("k3s_images_checksum", "nvidia_device_plugin_chart_checksum", "nvidia_device_plugin_image_checksum")


def role_filter(plugin: str, name: str) -> Any:
    module = importlib.import_module(f"ansible_collections.openshell_auto.cluster.plugins.filter.{plugin}")
    return module.FilterModule().filters()[name]


def cli_problems(write_inventory: Callable[..., Path], name: str, value: str) -> list[str]:
    path = write_inventory(f"""
        all:
          vars:
            {name}: {json.dumps(value)}
          children:
            openshell_servers:
              hosts:
                s1:
        """)
    try:
        load_inventory(path)
    except InputError as exc:
        return list(exc.messages)
    return []


@pytest.mark.parametrize(("value", "sha256", "get_url"), VALUES)
def test_the_rule(value: str, sha256: bool, get_url: bool) -> None:
    assert (checksum.checksum_problem(value, "sha256") is None) is sha256
    assert (checksum.checksum_problem(value, "get_url") is None) is get_url
    assert bool(checksum.sha256_hex(value)) is (sha256 and value != "")
    for kind in ("sha256", "get_url"):
        problem = checksum.checksum_problem(value, kind)  # type: ignore[arg-type]
        assert problem is None or ("\n" not in problem and "leave it empty" in problem), problem


@pytest.mark.parametrize(("value", "sha256", "get_url"), VALUES)
def test_every_caller_applies_the_rule(write_inventory: Callable[..., Path], value: str, sha256: bool,
                                       get_url: bool) -> None:
    sha_problem = checksum.checksum_problem(value, "sha256")
    url_problem = checksum.checksum_problem(value, "get_url")

    # The CLI's inventory checks: one line naming file, group, field, with the rule's text.
    for name in SHA256_VARS:
        messages = cli_problems(write_inventory, name, value)
        assert messages == ([] if sha256 else [messages[0]]), messages
        if not sha256:
            assert f"group all: field {name}: {sha_problem}" in messages[0]
    messages = cli_problems(write_inventory, "nvidia_container_toolkit_gpg_key_checksum", value)
    assert bool(messages) is not get_url, messages
    if not get_url:
        assert f"group all: field nvidia_container_toolkit_gpg_key_checksum: {url_problem}" in messages[0]

    # The roles' air-gap input check (filter openshell_airgap_verdict).
    entry = {"var": "k3s_images_src", "path": "/in/images.tar", "what": "the images archive", "unset": "",
             "redo": "download it again", "sum_var": "k3s_images_checksum", "sum": value, "host": "s1"}
    stat = {"item": {"path": "/in/images.tar"}, "stat": {"exists": True, "isreg": True,
                                                           "checksum": checksum.sha256_hex(value) or HEX64}}
    verdict = role_filter("openshell_airgap", "openshell_airgap_verdict")([entry], [], [stat], {})
    refusals = verdict["problems"].get("s1", [])
    assert bool(refusals) is not sha256, verdict
    if not sha256:
        assert refusals[0].startswith(f"k3s_images_checksum: {sha_problem} "), refusals

    # The filter the toolkit role checks its key's checksum with.
    assert role_filter("openshell_airgap", "openshell_checksum_problem")(value, "get_url") == (url_problem or "")
    assert role_filter("openshell_airgap", "openshell_checksum_problem")(value) == (sha_problem or "")

    # The bundle: the get_url rule for the key's checksum, and sha256 because it hashes with sha256.
    try:
        settings = bundle.settings({"nvidia_container_toolkit_gpg_key_checksum": value})
        bundle_problem = None
    except InputError as exc:
        settings, bundle_problem = {}, exc.messages[0]
    assert (bundle_problem is None) is (get_url and (value == "" or bool(checksum.sha256_hex(value)))), bundle_problem
    if not get_url:
        assert bundle_problem == f"-e nvidia_container_toolkit_gpg_key_checksum: {url_problem}"
    elif bundle_problem is None:
        assert settings["nvidia_container_toolkit_gpg_key_checksum"] == value


KEY_PLAY = """
- hosts: all
  gather_facts: false
  tasks:
    - name: The toolkit role's input checks
      ansible.builtin.include_role:
        name: nvidia_container_toolkit
        tasks_from: verify_inputs.yml
"""


@pytest.mark.parametrize("value", [f"sha512:{HEX128}", f"sha256:{HEX64[:-1]}", HEX64])
def test_the_toolkit_role_checks_its_key_checksum_before_any_change(run_play: Callable[..., Any],
                                                                   value: str) -> None:
    inventory = ("all:\n  children:\n    openshell_servers:\n      hosts:\n        gpu1:\n"
                 "          ansible_connection: ssh\n          ansible_host: 127.0.0.1\n          ansible_port: 9\n"
                 "          openshell_gpu: true\n")
    run = run_play(inventory, KEY_PLAY, extra_vars={"nvidia_container_toolkit_gpg_key_checksum": value},
                   env={**ROLE_TEST_ENV, "ANSIBLE_SSH_EXECUTABLE": "/bin/false"}, timeout=120)
    problem = checksum.checksum_problem(value, "get_url")
    if problem is None:
        assert run.returncode == 0, run.stdout + run.stderr
        return
    assert run.returncode == 2, run.stdout + run.stderr
    assert f"gpu1: field nvidia_container_toolkit_gpg_key_checksum: {json.dumps(problem)[1:-1]}" in run.stdout, run.stdout
