"""`reset --gpu-layer`: the GPU layer's paths are checked before anything is removed, and a host
reset with it keeps none of what provision's GPU roles wrote. Runs the same task files
playbooks/reset.yml runs (toolkit and CDI reset_paths.yml, the k3s role's path check, then the two
uninstall.yml) on localhost, with every path the roles remove pointed into tmp_path (the package
steps see no nvidia-container-toolkit-base on this machine and skip; the refresh units are not
installed here, which uninstall.yml tolerates as on a host that never had them)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from helpers import REPO, ROLE_TEST_ENV, recap
from openshell_auto.cli import main

# The GPU plays of playbooks/reset.yml, as one play (the real playbook runs k3s's uninstall between them).
PLAYBOOK = [{
    "hosts": "localhost", "gather_facts": True, "gather_subset": ["!all", "min"],
    "tasks": [{"name": t, "ansible.builtin.include_role": {"name": role, "tasks_from": tasks}, **extra}
              for t, role, tasks, extra in [
                  ("Note the toolkit paths", "nvidia_container_toolkit", "reset_paths.yml", {}),
                  ("Note the CDI paths", "nvidia_cdi", "reset_paths.yml", {}),
                  ("Check the paths", "k3s", "reset_paths.yml", {"vars": {"__k3s_removal_extra_paths":
                   "{{ __nvidia_container_toolkit_reset_paths | combine(__nvidia_cdi_reset_paths) }}"}}),
                  ("Remove the CDI layer", "nvidia_cdi", "uninstall.yml", {}),
                  ("Remove the toolkit layer", "nvidia_container_toolkit", "uninstall.yml", {})]],
}]


def _reset_playbook_gpu_tasks() -> list[tuple[str, str]]:
    plays = yaml.safe_load((REPO / "playbooks/reset.yml").read_text())
    return [(t["ansible.builtin.include_role"]["name"], t["ansible.builtin.include_role"]["tasks_from"])
            for play in plays if play.get("hosts") == "openshell_role_gpu" for t in play["tasks"]]


def test_this_test_runs_what_reset_runs() -> None:
    ours = [(t["ansible.builtin.include_role"]["name"], t["ansible.builtin.include_role"]["tasks_from"])
            for t in PLAYBOOK[0]["tasks"]]
    assert _reset_playbook_gpu_tasks() == ours


def provisioned(root: Path) -> dict[str, Any]:
    """What provision's GPU roles write, under root: the variables pointing there, and the files."""
    paths = {
        "nvidia_cdi_output": root / "var/run/cdi/nvidia.yaml",
        "nvidia_cdi_refresh_env_file": root / "etc/nvidia-container-toolkit/nvidia-cdi-refresh.env",
        "nvidia_cdi_state_file": root / "var/lib/openshell-auto/nvidia-cdi.state",
        "nvidia_container_toolkit_apt_source_file": root / "etc/apt/sources.list.d/nvidia-container-toolkit.list",
        "nvidia_container_toolkit_apt_keyring": root / "usr/share/keyrings/nvidia-container-toolkit-keyring.gpg",
    }
    files = [*paths.values(), root / "var/run/cdi/k8s.device-plugin.nvidia.com-gpu.json",
             root / "etc/systemd/system/nvidia-cdi-refresh.path", root / "etc/systemd/system/nvidia-cdi-refresh.service",
             root / "usr/share/keyrings/nvidia-container-toolkit-keyring-source.asc",
             root / "etc/nvidia-container-runtime/config.toml",
             root / "etc/yum.repos.d/nvidia-container-toolkit.repo", root / "etc/pki/rpm-gpg/nvidia-container-toolkit.asc"]
    for file in files:
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text("written by provision\n")
    variables = {k: str(v) for k, v in paths.items()}
    variables.update({"__nvidia_cdi_unit_dir": str(root / "etc/systemd/system"),
                      "__nvidia_cdi_plugin_spec": str(root / "var/run/cdi/k8s.device-plugin.nvidia.com-gpu.json"),
                      "__nvidia_container_toolkit_yum_repos_dir": str(root / "etc/yum.repos.d"),
                      "__nvidia_container_toolkit_runtime_config": str(root / "etc/nvidia-container-runtime/config.toml"),
                      "__nvidia_container_toolkit_rpm_gpg_dir": str(root / "etc/pki/rpm-gpg")})
    return {"variables": variables, "files": files}


@pytest.fixture
def run(run_play: Callable[..., subprocess.CompletedProcess[str]]) -> Callable[..., subprocess.CompletedProcess[str]]:
    inventory = yaml.safe_dump({"all": {"children": {"openshell_servers": {"hosts": {
        "localhost": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                      "openshell_gpu": True}}}}}})
    return lambda variables: run_play(inventory, yaml.safe_dump(PLAYBOOK, sort_keys=False), extra_vars=variables,
                                      env=ROLE_TEST_ENV, timeout=300)


def test_gpu_layer_reset_leaves_nothing_and_is_idempotent(run: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path) -> None:
    root = tmp_path / "root"
    setup = provisioned(root)
    result = run({**setup["variables"], "openshell_reset_gpu_layer": True})
    assert result.returncode == 0, result.stdout + result.stderr
    left = [str(f) for f in setup["files"] if f.exists()]
    assert left == [], left
    assert not (root / "var/lib/openshell-auto").exists()  # the state directory as a whole
    again = run({**setup["variables"], "openshell_reset_gpu_layer": True})
    assert again.returncode == 0 and recap(again, "localhost")["changed"] == 0, again.stdout


def test_without_the_flag_the_gpu_layer_stays(run: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path) -> None:
    setup = provisioned(tmp_path / "root")
    result = run(setup["variables"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert all(f.exists() for f in setup["files"])


@pytest.mark.parametrize("name,value,problem", [
    ("nvidia_cdi_state_file", "/var/lib/nvidia-cdi.state", "nvidia_cdi_state_file (its directory): `/var/lib` is a system"),
    ("nvidia_cdi_output", "/etc", "nvidia_cdi_output: `/etc` is a system directory"),
    ("nvidia_container_toolkit_apt_keyring", "/usr/share/keyrings/../../..", "not normalised"),
    ("nvidia_cdi_refresh_env_file", "/etc/x.env; rm -rf x", "cannot take"),
])
def test_a_bad_path_stops_reset_before_anything_is_removed(run: Callable[..., subprocess.CompletedProcess[str]],
                                                            tmp_path: Path, name: str, value: str,
                                                            problem: str) -> None:
    setup = provisioned(tmp_path / "root")
    result = run({**setup["variables"], name: value, "openshell_reset_gpu_layer": True})
    assert result.returncode == 2, result.stdout
    assert "reset refuses" in result.stdout and problem in result.stdout
    assert all(f.exists() for f in setup["files"] if str(f) != value)


def test_cli_gpu_layer_sets_the_variable_and_still_needs_yes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    example = REPO / "inventories/example/hosts.yml"
    refused = CliRunner().invoke(main, ["reset", "--gpu-layer", "-i", str(example), "--artifacts-dir", str(tmp_path)])
    assert refused.exit_code == 2 and "--yes" in refused.output
    seen: dict[str, Any] = {}

    def fake_execute(playbook: str, **options: Any) -> int:
        seen.update(options, playbook=playbook)
        return 0

    monkeypatch.setattr("openshell_auto.commands.reset.execute_playbook", fake_execute)
    result = CliRunner().invoke(main, ["reset", "--yes", "--gpu-layer", "-i", str(example), "-e",
                                       "openshell_reset_gpu_layer=false"])
    assert result.exit_code == 0, result.output
    assert seen["playbook"] == "reset.yml"
    assert json.loads(seen["extra_vars"][-1]) == {"openshell_reset_gpu_layer": True}
