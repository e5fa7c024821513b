"""The nvidia_container_toolkit role's binary check (tasks_from binaries.yml) against the toolkit
test doubles on the local connection.

nvidia-container-runtime --version (NVIDIA/nvidia-container-toolkit v1.18.2,
internal/runtime/runtime.go) prints its version, then needs a low-level runtime (runc or crun,
internal/config/config.go; looked up by internal/oci/runtime_low_level.go) and exits 1 without one,
as on a fresh GPU host without Docker or containerd. The runtime reads its candidate list from the
file named by NVIDIA_CTK_CONFIG_FILE_PATH (internal/config/config.go), which is how these tests give
it a host "without runc" although this machine has one in /usr/bin.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from helpers import ROLE_TEST_ENV

REPO = Path(__file__).resolve().parent.parent
DOUBLES = REPO / "tests" / "doubles" / "nvidia-toolkit"
Run = subprocess.CompletedProcess[str]

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Check the binaries
      ansible.builtin.include_role:
        name: nvidia_container_toolkit
        tasks_from: binaries.yml
    - name: Show what ran
      ansible.builtin.debug:
        msg: "RAN {{ __nvidia_container_toolkit_binaries.stdout_lines | join(' // ') }}"
"""


def _bin_dir(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("nvidia-ctk", "nvidia-cdi-hook", "nvidia-container-runtime"):
        path = bin_dir / name
        path.write_text((DOUBLES / name).read_text().replace("@VERSION@", "1.18.2"))
        path.chmod(0o755)
    return bin_dir


def _config(tmp_path: Path, runtimes: list[str] | None, text: str | None = None) -> Path:
    path = tmp_path / "config.toml"
    if text is None:
        text = "[nvidia-container-runtime]\n" + (f"runtimes = {json.dumps(runtimes)}\n" if runtimes else "")
    path.write_text(text)
    return path


def _run(run_play: Callable[..., Run], bin_dir: Path, config: Path) -> Run:
    inventory = (
        "all:\n  children:\n    openshell_servers:\n      hosts:\n        localhost: {}\n"
        "  hosts:\n    localhost:\n      ansible_connection: local\n"
        f"      ansible_python_interpreter: {sys.executable}\n"
        f"      nvidia_container_toolkit_bin_dir: {bin_dir}\n"
        "      __nvidia_container_toolkit_installed: 1.18.2-1\n")
    return run_play(inventory, PLAYBOOK, timeout=180,
                    env={**ROLE_TEST_ENV, "NVIDIA_CTK_CONFIG_FILE_PATH": str(config)})


def test_double_fails_like_upstream_without_a_low_level_runtime(tmp_path: Path) -> None:
    bin_dir = _bin_dir(tmp_path)
    config = _config(tmp_path, ["openshell-test-absent-runc", "openshell-test-absent-crun"])
    run = subprocess.run([str(bin_dir / "nvidia-container-runtime"), "--version"], capture_output=True, text=True,
                         env={"PATH": "/nonexistent", "NVIDIA_CTK_CONFIG_FILE_PATH": str(config)}, timeout=30)
    assert run.returncode == 1
    assert run.stdout.splitlines()[0] == "NVIDIA Container Runtime version 1.18.2"
    assert run.stderr.rstrip().endswith(
        'level=error msg="failed to create NVIDIA Container Runtime: error constructing low-level runtime: '
        'error locating runtime: no runtime binary found from candidate list: '
        '[openshell-test-absent-runc openshell-test-absent-crun]"')


def test_role_accepts_the_runtime_on_a_host_without_runc_or_crun(run_play: Callable[..., Run], tmp_path: Path) -> None:
    run = _run(run_play, _bin_dir(tmp_path), _config(tmp_path, ["openshell-test-absent-runc"]))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "nvidia-container-runtime 1 NVIDIA Container Runtime version 1.18.2 ;; " in run.stdout


@pytest.mark.skipif(not Path("/usr/bin/runc").exists(), reason="needs /usr/bin/runc on this machine")
def test_role_accepts_the_runtime_with_runc(run_play: Callable[..., Run], tmp_path: Path) -> None:
    """With runc found the runtime execs `runc --version` after its own lines and exits 0."""
    run = _run(run_play, _bin_dir(tmp_path), _config(tmp_path, ["/usr/bin/runc"]))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "nvidia-container-runtime 0 NVIDIA Container Runtime version 1.18.2" in run.stdout


def test_role_still_refuses_a_runtime_whose_config_does_not_load(run_play: Callable[..., Run], tmp_path: Path) -> None:
    run = _run(run_play, _bin_dir(tmp_path), _config(tmp_path, None, text="[nvidia-container-runtime\nbroken"))
    assert run.returncode != 0
    assert "these do not run with --version" in run.stdout and "error loading config" in run.stdout


def test_role_still_refuses_a_runtime_binary_that_does_not_run(run_play: Callable[..., Run], tmp_path: Path) -> None:
    bin_dir = _bin_dir(tmp_path)
    (bin_dir / "nvidia-container-runtime").write_bytes(b"\x7fELF\x02\x01\x01truncated")
    run = _run(run_play, bin_dir, _config(tmp_path, ["openshell-test-absent-runc"]))
    assert run.returncode != 0
    assert "these do not run with --version" in run.stdout and "nvidia-container-runtime" in run.stdout
