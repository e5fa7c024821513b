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
from collections.abc import Callable
from pathlib import Path

import yaml

from helpers import ROLE_TEST_ENV, recap

Run = subprocess.CompletedProcess[str]

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


def _run(run_play: Callable[..., Run], host: Path) -> Run:
    inventory = (
        "all:\n  children:\n    openshell_servers:\n      hosts:\n        localhost: {}\n"
        "  hosts:\n    localhost:\n      ansible_connection: local\n"
        f"      ansible_python_interpreter: {sys.executable}\n      openshell_gpu: true\n"
        f"      nvidia_container_toolkit_driver_version_file: {host}/proc/driver/nvidia/version\n"
        f"      nvidia_container_toolkit_device_glob: {host}/dev/nvidia[0-9]*\n"
        f"      nvidia_container_toolkit_nvidia_smi: {host}/usr/bin/nvidia-smi\n"
        f"      nvidia_container_toolkit_wsl_device: {host}/dev/dxg\n"
        f"      nvidia_container_toolkit_wsl_nvidia_smi: {host}/usr/lib/wsl/lib/nvidia-smi\n"
        f"      nvidia_container_toolkit_tegra_release_file: {host}/etc/nv_tegra_release\n"
        f"      openshell_driver_root: {host}\n"
    )
    return run_play(inventory, PLAYBOOK, timeout=180)


def _facts(run: subprocess.CompletedProcess[str]) -> dict[str, str]:
    assert run.returncode == 0, run.stdout + run.stderr
    found = re.search(r"FACTS platform=(\S+) driver=(\S*) gpus=(\d+)", run.stdout)
    assert found, run.stdout
    return {"platform": found[1], "driver": found[2], "gpus": found[3]}


def _layout(root: Path, *dirs: str) -> Path:
    for d in ("proc/driver/nvidia", "dev", "usr/bin", "usr/lib/wsl/lib", "etc", *dirs):
        (root / d).mkdir(parents=True, exist_ok=True)
    return root


def test_wsl2_is_detected_from_dxg_and_the_wsl_nvidia_smi(run_play: Callable[..., Run], tmp_path: Path) -> None:
    host = _layout(tmp_path / "wsl")
    (host / "dev" / "dxg").write_text("")
    smi = host / "usr" / "lib" / "wsl" / "lib" / "nvidia-smi"
    smi.write_text('#!/bin/sh\n# stands in for the Windows driver\'s nvidia-smi under WSL2\n'
                   '[ "$1 $2" = "--query-gpu=driver_version,index --format=csv,noheader" ] || exit 2\n'
                   'printf "566.36, 0\\n566.36, 1\\n"\n')
    smi.chmod(0o755)
    assert _facts(_run(run_play, host)) == {"platform": "wsl", "driver": "566.36", "gpus": "2"}


def test_jetson_is_detected_from_the_tegra_release_file(run_play: Callable[..., Run], tmp_path: Path) -> None:
    """A Jetson whose driver ships NVML (without it the host is refused, see below)."""
    host = _layout(tmp_path / "jetson", "usr/lib/aarch64-linux-gnu")
    (host / "usr" / "lib" / "aarch64-linux-gnu" / "libnvidia-ml.so.1").write_text("")
    (host / "etc" / "nv_tegra_release").write_text(
        "# R36 (release), REVISION: 4.3, GCID: 38968081, BOARD: generic, EABI: aarch64, DATE: Wed Jan  8 01:49:37 UTC 2025\n")
    assert _facts(_run(run_play, host)) == {"platform": "tegra-csv", "driver": "36.4.3", "gpus": "1"}


def test_dxg_without_the_wsl_nvidia_smi_is_not_wsl(run_play: Callable[..., Run], tmp_path: Path) -> None:
    """/dev/dxg alone (a WSL2 VM without the NVIDIA driver): no driver found, the host fails with the fix."""
    host = _layout(tmp_path / "bare-wsl")
    (host / "dev" / "dxg").write_text("")
    run = _run(run_play, host)
    assert run.returncode != 0
    assert "NVIDIA driver not found" in run.stdout and "install the NVIDIA driver" in run.stdout


def test_plain_host_uses_the_proc_driver_version_and_device_nodes(run_play: Callable[..., Run], tmp_path: Path) -> None:
    host = _layout(tmp_path / "plain")
    (host / "proc" / "driver" / "nvidia" / "version").write_text(
        "NVRM version: NVIDIA UNIX x86_64 Kernel Module  570.133.20  Fri Mar 14 20:15:18 UTC 2025\n"
        "GCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n")
    for i in range(3):
        (host / "dev" / f"nvidia{i}").write_text("")
    (host / "dev" / "nvidiactl").write_text("")
    run = _run(run_play, host)
    assert _facts(run) == {"platform": "nvml", "driver": "570.133.20", "gpus": "3"}
    # The WSL2, Jetson and nvidia-smi reads are not for such a host: one skipped step, not four.
    steps = [line for line in run.stdout.splitlines() if line.startswith("TASK [nvidia_container_toolkit : ")]
    further = ("Ask nvidia-smi", "Read the Jetson release file", "Jetson without NVML")
    assert not [s for s in steps if any(name in s for name in further)], steps


# --- the toolkit and CDI roles end to end on these layouts -----------------------------------------
# The binary check (nvidia_container_toolkit, tasks_from binaries.yml), then role nvidia_cdi (which
# runs the preflight above first) with the nvidia-ctk test double (tests/doubles/nvidia-toolkit) as
# nvidia_cdi_ctk: it generates the spec with --driver-root/--dev-root at the fake host, lists it
# (nvidia-ctk cdi list --spec-dir) and checks the names against what each mode really writes
# (NVIDIA/nvidia-container-toolkit v1.18.2 pkg/nvcdi/lib-wsl.go: one device `all`; lib-csv.go:
# device 0 and `all`). The package install itself (apt/dnf) runs only in the Molecule scenario.

DOUBLES = REPO / "tests" / "doubles" / "nvidia-toolkit"
ROLES_PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Toolkit binaries
      ansible.builtin.include_role:
        name: nvidia_container_toolkit
        tasks_from: binaries.yml
      vars:
        __nvidia_container_toolkit_installed: 1.18.2-1
    - name: CDI
      ansible.builtin.include_role:
        name: nvidia_cdi
"""


def _run_roles(run_play: Callable[..., Run], tmp_path: Path, host: Path, *extra_vars: str,
               env: dict[str, str] | None = None) -> Run:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name in ("nvidia-ctk", "nvidia-cdi-hook", "nvidia-container-runtime"):
        path = bin_dir / name
        path.write_text((DOUBLES / name).read_text().replace("@VERSION@", "1.18.2"))
        path.chmod(0o755)
    inventory = (
        "all:\n  children:\n    openshell_servers:\n      hosts:\n        localhost: {}\n"
        "  hosts:\n    localhost:\n      ansible_connection: local\n"
        f"      ansible_python_interpreter: {sys.executable}\n      openshell_gpu: true\n"
        f"      nvidia_container_toolkit_driver_version_file: {host}/proc/driver/nvidia/version\n"
        f"      nvidia_container_toolkit_device_glob: {host}/dev/nvidia[0-9]*\n"
        f"      nvidia_container_toolkit_nvidia_smi: {host}/usr/bin/nvidia-smi\n"
        f"      nvidia_container_toolkit_wsl_device: {host}/dev/dxg\n"
        f"      nvidia_container_toolkit_wsl_nvidia_smi: {host}/usr/lib/wsl/lib/nvidia-smi\n"
        f"      nvidia_container_toolkit_tegra_release_file: {host}/etc/nv_tegra_release\n"
        f"      nvidia_container_toolkit_bin_dir: {bin_dir}\n"
        f"      openshell_driver_root: {host}\n"
        f"      nvidia_cdi_ctk: {bin_dir}/nvidia-ctk\n"
        f"      nvidia_cdi_output: {host}/var/run/cdi/nvidia.yaml\n"
        f"      nvidia_cdi_state_file: {host}/var/lib/openshell-auto/nvidia-cdi.state\n"
        f"      nvidia_cdi_refresh_env_file: {host}/etc/nvidia-container-toolkit/nvidia-cdi-refresh.env\n"
        f"      openshell_cdi_spec_dirs: [{host}/etc/cdi, {host}/var/run/cdi]\n"
        + "".join(f"      {line}\n" for line in extra_vars)
    )
    # No runc/crun for the runtime double (its config's candidate list names none that exist).
    config = tmp_path / "runtime-config.toml"
    config.write_text('[nvidia-container-runtime]\nruntimes = ["openshell-test-absent-runc"]\n')
    # The double reads the host's driver (not a knob of the test's environment): an empty
    # NVIDIA_CTK_FAKE_DRIVER_VERSION_FILE is no override (tests/doubles/nvidia-toolkit/nvidia-ctk).
    return run_play(inventory, ROLES_PLAYBOOK, timeout=300,
                    env={**ROLE_TEST_ENV, "NVIDIA_CTK_CONFIG_FILE_PATH": str(config), **(env or {}),
                         "NVIDIA_CTK_FAKE_DRIVER_VERSION_FILE": ""})


def _wsl_host(root: Path, gpus: int = 2) -> Path:
    host = _layout(root)
    (host / "dev" / "dxg").write_text("")
    lib = host / "usr" / "lib" / "wsl" / "lib"
    for name in ("libdxcore.so", "libcuda.so.1.1", "libnvidia-ml.so.1"):
        (lib / name).write_text("")
    smi = lib / "nvidia-smi"
    rows = "".join(f"566.36, {i}\\n" for i in range(gpus))
    smi.write_text(f'#!/bin/sh\n[ "$1 $2" = "--query-gpu=driver_version,index --format=csv,noheader" ] || exit 2\n'
                   f'printf "{rows}"\n')
    smi.chmod(0o755)
    return host


def test_wsl2_host_gets_the_single_all_device_and_passes_the_cdi_check(run_play: Callable[..., Run], tmp_path: Path) -> None:
    host = _wsl_host(tmp_path / "wsl")
    run = _run_roles(run_play, tmp_path, host)
    assert run.returncode == 0, run.stdout + run.stderr
    spec = yaml.safe_load((host / "var" / "run" / "cdi" / "nvidia.yaml").read_text())
    assert [d["name"] for d in spec["devices"]] == ["all"]
    assert spec["devices"][0]["containerEdits"]["deviceNodes"] == [{"path": "/dev/dxg"}]
    assert "on platform wsl" in run.stdout
    env = (host / "etc" / "nvidia-container-toolkit" / "nvidia-cdi-refresh.env").read_text()
    assert "NVIDIA_CTK_CDI_GENERATE_MODE=auto" in env


def test_jetson_with_csv_mode_gets_device_0_and_all(run_play: Callable[..., Run], tmp_path: Path) -> None:
    """A Jetson whose driver has NVML (so the device plugin accepts CDI mode) and CSV mount specs."""
    host = _layout(tmp_path / "jetson", "usr/lib/aarch64-linux-gnu/tegra", "etc/nvidia-container-runtime/csv")
    (host / "etc" / "nv_tegra_release").write_text(
        "# R36 (release), REVISION: 4.3, GCID: 38968081, BOARD: generic, EABI: aarch64, DATE: Wed Jan  8 01:49:37 UTC 2025\n")
    (host / "usr" / "lib" / "aarch64-linux-gnu" / "libnvidia-ml.so.1").write_text("")
    (host / "usr" / "lib" / "aarch64-linux-gnu" / "tegra" / "libcuda.so.1.1").write_text("")
    for node in ("nvhost-ctrl", "nvmap"):
        (host / "dev" / node).write_text("")
    csv = host / "etc" / "nvidia-container-runtime" / "csv" / "l4t.csv"
    csv.write_text("dev, /dev/nvhost-ctrl\ndev, /dev/nvmap\nlib, /usr/lib/aarch64-linux-gnu/tegra/libcuda.so.1.1\n")
    run = _run_roles(run_play, tmp_path, host, "nvidia_cdi_mode: csv", env={"NVIDIA_CTK_CDI_GENERATE_CSV_FILES": str(csv)})
    assert run.returncode == 0, run.stdout + run.stderr
    spec = yaml.safe_load((host / "var" / "run" / "cdi" / "nvidia.yaml").read_text())
    assert [d["name"] for d in spec["devices"]] == ["0", "all"]
    assert {n["path"] for n in spec["devices"][0]["containerEdits"]["deviceNodes"]} == {"/dev/nvhost-ctrl", "/dev/nvmap"}
    assert "on platform tegra-csv" in run.stdout


def test_jetson_without_nvml_is_refused_before_anything_is_written(run_play: Callable[..., Run], tmp_path: Path) -> None:
    host = _layout(tmp_path / "jetson")
    (host / "etc" / "nv_tegra_release").write_text("# R36 (release), REVISION: 4.3, GCID: 38968081\n")
    run = _run_roles(run_play, tmp_path, host)
    assert run.returncode != 0
    assert "this GPU host is a Jetson" in run.stdout
    assert "only supported on NVML-based systems" in run.stdout
    assert not (host / "var").exists() and not (host / "etc" / "nvidia-container-toolkit").exists()


def test_cdi_second_run_changes_nothing_and_a_new_gpu_regenerates(run_play: Callable[..., Run],
                                                                   tmp_path: Path) -> None:
    """The role's one probe (nvidia-ctk's version, the spec, the last fingerprint, the refresh units)
    decides: a host as it was left is not regenerated; another GPU count is."""
    host = _wsl_host(tmp_path / "wsl")
    assert _run_roles(run_play, tmp_path, host).returncode == 0
    again = _run_roles(run_play, tmp_path, host)
    assert again.returncode == 0, again.stdout + again.stderr
    assert recap(again, "localhost")["changed"] == 0, again.stdout
    steps = [line for line in again.stdout.splitlines() if line.startswith("TASK [nvidia_cdi : ")]
    # nvidia-ctk's version, the spec, its fingerprint and the refresh units come from one probe (four
    # reads before), `nvidia-ctk cdi list` and the spec files from another (three before): 12 steps of
    # the role announced, the argument check included.
    assert len(steps) <= 12, steps
    _wsl_host(tmp_path / "wsl", gpus=3)
    more = _run_roles(run_play, tmp_path, host)
    assert more.returncode == 0, more.stdout + more.stderr
    assert recap(more, "localhost")["changed"] > 0
    assert '"gpu_count": 3' in (host / "var" / "lib" / "openshell-auto" / "nvidia-cdi.state").read_text()


def test_cdi_without_a_runnable_nvidia_ctk_fails_naming_it(run_play: Callable[..., Run], tmp_path: Path) -> None:
    host = _wsl_host(tmp_path / "wsl")
    run = _run_roles(run_play, tmp_path, host, f"nvidia_cdi_ctk: {tmp_path}/nowhere/nvidia-ctk")
    assert run.returncode != 0
    assert f"{tmp_path}/nowhere/nvidia-ctk --version failed" in run.stdout, run.stdout
    assert "Install nvidia-container-toolkit-base first" in run.stdout
