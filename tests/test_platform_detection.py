"""GPU host preflight of the nvidia_container_toolkit role (tasks_from preflight.yml) on WSL2 and
Jetson layouts: the role's marker paths (nvidia_container_toolkit_wsl_device, _wsl_nvidia_smi,
_tegra_release_file, _device_glob, _driver_version_file) point into a temp dir laid out like such a
host. Runs with ansible-playbook on localhost; nothing outside the temp dir is read or written.

WSL2: no /proc/driver/nvidia/version and no /dev/nvidiaN; /dev/dxg plus the Windows driver's
/usr/lib/wsl/lib/nvidia-smi, which reports the driver and the GPUs (here a stand-in script that
answers the role's query in nvidia-smi's documented csv,noheader format).
Jetson (L4T): no /proc/driver/nvidia/version and no nvidia-smi query; /etc/nv_tegra_release
("# R36 (release), REVISION: 4.3, ...") gives the L4T release, one integrated GPU."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from conftest import ANSIBLE_PLAYBOOK, ansible_env

REPO = Path(__file__).resolve().parent.parent

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Preflight
      ansible.builtin.include_role:
        name: nvidia_container_toolkit
        tasks_from: preflight.yml
    - name: Print the facts
      ansible.builtin.debug:
        msg: >-
          FACTS platform={{ nvidia_container_toolkit_platform }}
          driver={{ nvidia_container_toolkit_driver_version }} gpus={{ nvidia_container_toolkit_gpu_count }}
"""


def _run(tmp_path: Path, host: Path) -> subprocess.CompletedProcess[str]:
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        "all:\n  children:\n    openshell_servers:\n      hosts:\n        localhost: {}\n"
        "  hosts:\n    localhost:\n      ansible_connection: local\n"
        f"      ansible_python_interpreter: {sys.executable}\n      openshell_gpu: true\n"
        f"      nvidia_container_toolkit_driver_version_file: {host}/proc/driver/nvidia/version\n"
        f"      nvidia_container_toolkit_device_glob: {host}/dev/nvidia[0-9]*\n"
        f"      nvidia_container_toolkit_nvidia_smi: {host}/usr/bin/nvidia-smi\n"
        f"      nvidia_container_toolkit_wsl_device: {host}/dev/dxg\n"
        f"      nvidia_container_toolkit_wsl_nvidia_smi: {host}/usr/lib/wsl/lib/nvidia-smi\n"
        f"      nvidia_container_toolkit_tegra_release_file: {host}/etc/nv_tegra_release\n"
    )
    playbook = tmp_path / "preflight.yml"
    playbook.write_text(PLAYBOOK)
    env = ansible_env()
    return subprocess.run([ANSIBLE_PLAYBOOK, "-i", str(inventory), str(playbook)], capture_output=True, text=True,
                          env=env, timeout=180, check=False)


def _facts(run: subprocess.CompletedProcess[str]) -> dict[str, str]:
    assert run.returncode == 0, run.stdout + run.stderr
    found = re.search(r"FACTS platform=(\S+) driver=(\S*) gpus=(\d+)", run.stdout)
    assert found, run.stdout
    return {"platform": found[1], "driver": found[2], "gpus": found[3]}


def _layout(root: Path, *dirs: str) -> Path:
    for d in ("proc/driver/nvidia", "dev", "usr/bin", "usr/lib/wsl/lib", "etc", *dirs):
        (root / d).mkdir(parents=True, exist_ok=True)
    return root


def test_wsl2_is_detected_from_dxg_and_the_wsl_nvidia_smi(tmp_path: Path) -> None:
    host = _layout(tmp_path / "wsl")
    (host / "dev" / "dxg").write_text("")
    smi = host / "usr" / "lib" / "wsl" / "lib" / "nvidia-smi"
    smi.write_text('#!/bin/sh\n# stands in for the Windows driver\'s nvidia-smi under WSL2\n'
                   '[ "$1 $2" = "--query-gpu=driver_version,index --format=csv,noheader" ] || exit 2\n'
                   'printf "566.36, 0\\n566.36, 1\\n"\n')
    smi.chmod(0o755)
    assert _facts(_run(tmp_path, host)) == {"platform": "wsl", "driver": "566.36", "gpus": "2"}


def test_jetson_is_detected_from_the_tegra_release_file(tmp_path: Path) -> None:
    host = _layout(tmp_path / "jetson")
    (host / "etc" / "nv_tegra_release").write_text(
        "# R36 (release), REVISION: 4.3, GCID: 38968081, BOARD: generic, EABI: aarch64, DATE: Wed Jan  8 01:49:37 UTC 2025\n")
    assert _facts(_run(tmp_path, host)) == {"platform": "tegra-csv", "driver": "36.4.3", "gpus": "1"}


def test_dxg_without_the_wsl_nvidia_smi_is_not_wsl(tmp_path: Path) -> None:
    """/dev/dxg alone (a WSL2 VM without the NVIDIA driver): no driver found, the host fails with the fix."""
    host = _layout(tmp_path / "bare-wsl")
    (host / "dev" / "dxg").write_text("")
    run = _run(tmp_path, host)
    assert run.returncode != 0
    assert "NVIDIA driver not found" in run.stdout and "install the NVIDIA driver" in run.stdout


def test_plain_host_uses_the_proc_driver_version_and_device_nodes(tmp_path: Path) -> None:
    host = _layout(tmp_path / "plain")
    (host / "proc" / "driver" / "nvidia" / "version").write_text(
        "NVRM version: NVIDIA UNIX x86_64 Kernel Module  570.133.20  Fri Mar 14 20:15:18 UTC 2025\n"
        "GCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n")
    for i in range(3):
        (host / "dev" / f"nvidia{i}").write_text("")
    (host / "dev" / "nvidiactl").write_text("")
    assert _facts(_run(tmp_path, host)) == {"platform": "nvml", "driver": "570.133.20", "gpus": "3"}
