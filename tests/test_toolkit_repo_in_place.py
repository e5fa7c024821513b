"""When the toolkit role skips its repository steps (tasks/apt.yml) in one step: the decision
`__nvidia_container_toolkit_apt_in_place` (vars/main.yml) from what installed.yml's probe read.

Each case is one inventory host (a local connection: nothing is contacted) with the probe's lines
and the installed state as host vars; one ansible-playbook run prints every host's decision. The
expected apt source is written out here from the role's defaults, independently of the role."""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from helpers import REPO

ROLE = REPO / "roles" / "nvidia_container_toolkit"
DEFAULTS = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
KEYRING = DEFAULTS["nvidia_container_toolkit_apt_keyring"]
KEY = re.sub(r"\.(gpg|asc)$", "", KEYRING) + "-source.asc"
SOURCE = DEFAULTS["nvidia_container_toolkit_apt_source_file"]
SOURCE_TEXT = ("# Managed by openshell-auto (role nvidia_container_toolkit).\n"
               f"deb [signed-by={KEYRING}] {DEFAULTS['nvidia_container_toolkit_repo_base_url']}/deb/$(ARCH) /\n")
KEY_TEXT = b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBF\n-----END PGP PUBLIC KEY BLOCK-----\n"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def probe(key: str = sha(KEY_TEXT), keyring: str = "ab" * 32, source: str = sha(SOURCE_TEXT.encode()),
          mode: str = "755") -> list[str]:
    """installed.yml's lines on Debian: the package query, then the files and the keyring directory."""
    return [f"nvidia-container-toolkit-base installed {DEFAULTS['nvidia_container_toolkit_version']} hold",
            f"file {key} {KEY}", f"file {keyring} {KEYRING}", f"file {source} {SOURCE}",
            f"dir {mode} {Path(KEYRING).parent}"]


PLAY = """
- name: Decide, for each case, whether apt.yml has anything to do
  hosts: all
  gather_facts: true
  gather_subset: ['!all']
  vars_files: [{role_vars}]
  tasks:
    - name: Say the decision
      ansible.builtin.debug:
        msg: "DECISION {{{{ inventory_hostname }}}} {{{{ __nvidia_container_toolkit_apt_in_place | bool }}}} {{{{
          ansible_facts.os_family }}}}"
"""


def test_the_repository_steps_are_skipped_only_where_all_is_as_apt_yml_leaves_it(
        run_play: Callable[..., Any], tmp_path: Path) -> None:
    key_file = tmp_path / "gpgkey"
    key_file.write_bytes(KEY_TEXT)
    other_key = tmp_path / "other-gpgkey"
    other_key.write_bytes(KEY_TEXT + b"\n")
    installed = {"__nvidia_container_toolkit_installed": DEFAULTS["nvidia_container_toolkit_version"],
                 "__nvidia_container_toolkit_held": True, "__nvidia_container_toolkit_legacy_present": []}
    cases: dict[str, tuple[bool, dict[str, Any]]] = {
        "in_place": (True, {}),
        "source_edited": (False, {"lines": probe(source=sha(b"deb http://elsewhere /\n"))}),
        "no_source": (False, {"lines": probe(source="-")}),
        "no_keyring": (False, {"lines": probe(keyring="-")}),
        "no_key": (False, {"lines": probe(key="-")}),
        "keyring_dir_0700": (False, {"lines": probe(mode="700")}),
        "no_probe": (False, {"lines": []}),
        "checksum_matches": (True, {"nvidia_container_toolkit_gpg_key_checksum": f"sha256:{sha(KEY_TEXT).upper()}"}),
        "checksum_differs": (False, {"nvidia_container_toolkit_gpg_key_checksum": f"sha256:{'0' * 64}"}),
        "checksum_sha512": (False, {"nvidia_container_toolkit_gpg_key_checksum": f"sha512:{'0' * 128}"}),
        "key_file_same": (True, {"nvidia_container_toolkit_gpg_key_src": str(key_file)}),
        "key_file_changed": (False, {"nvidia_container_toolkit_gpg_key_src": str(other_key)}),
        "key_file_missing": (False, {"nvidia_container_toolkit_gpg_key_src": str(tmp_path / "missing")}),
        "other_version": (False, {"__nvidia_container_toolkit_installed": "1.18.1-1"}),
        "not_held": (False, {"__nvidia_container_toolkit_held": False}),
        "hold_off_and_not_held": (True, {"__nvidia_container_toolkit_held": False,
                                         "nvidia_container_toolkit_hold": False}),
        "legacy_present": (False, {"__nvidia_container_toolkit_legacy_present": ["nvidia-container-toolkit"]}),
    }
    hosts = {}
    for name, (_, settings) in cases.items():
        host = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable, **installed,
                "__nvidia_container_toolkit_query_result": {"stdout_lines": settings.pop("lines", probe())}}
        hosts[name] = {**host, **settings}
    playbook = PLAY.format(role_vars=ROLE / "vars" / "main.yml")
    # the role's defaults as group vars: below each case's host vars, as role defaults are
    result = run_play(json.dumps({"all": {"vars": DEFAULTS, "hosts": hosts}}), playbook, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    said = {m.group(1): (m.group(2) == "True", m.group(3))
            for m in re.finditer(r"DECISION (\S+) (True|False) (\S+)", result.stdout)}
    assert set(said) == set(cases), result.stdout
    for name, (expected, _) in cases.items():
        decision, os_family = said[name]
        # apt.yml is for Debian/Ubuntu only: elsewhere dnf.yml always runs
        assert decision == (expected and os_family == "Debian"), (name, result.stdout)
