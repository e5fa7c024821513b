"""site.yml checks every air-gap archive on the controller before any host is changed: the play of
playbooks/preflight.yml (right after classify) includes each role's verify_inputs.yml, the k3s
binary and images archive on every host, the device-plugin chart on the first server and the
plugin image on GPU hosts. A wrong sum, or a set path that is not a file on the controller (sum
or not), stops the whole run there, before gpu_hosts.yml and cluster.yml. Runs the real playbooks with ansible-playbook on local-connection hosts.

Safety net (in case the preflight ever let a run through): every host is a GPU host whose
nvidia-smi and driver version file point to paths that do not exist, so gpu_hosts.yml's driver
preflight (read-only) fails every host and the run ends before cluster.yml; all install
directories point into tmp_path."""

from __future__ import annotations

import hashlib
import json
import platform
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers import ROLE_TEST_ENV, recap

Run = subprocess.CompletedProcess[str]


REPO = Path(__file__).resolve().parent.parent
SITE = REPO / "playbooks" / "site.yml"
PREFLIGHT = REPO / "playbooks" / "preflight.yml"
DOUBLE = REPO / "tests" / "doubles" / "k3s" / "k3s"
IMAGES = "k3s-airgap-images-amd64.tar"
CHART = "nvidia-device-plugin-0.19.1.tgz"
PLUGIN_IMAGE = "k8s-device-plugin-v0.19.1.tar"
# Release asset names of the binary for each architecture (the role picks one from the host's facts).
ASSETS = ("k3s", "k3s-arm64", "k3s-armhf")
HOSTS = ("server1", "gpu1", "gpu2")  # server1: the first server; gpu1, gpu2: agents; all GPU hosts

PREFLIGHT_PLAY = "PLAY [Check the air-gap inputs on the controller (before any host is changed)]"
CLASSIFY_PLAY = "PLAY [Classify hosts by cluster role]"
ARCH_PLAY = "PLAY [Read the hosts' CPU architecture (names the k3s binary's line in k3s_checksum_src)]"
JETSON_PLAY = "PLAY [Read which GPU hosts are Jetsons without NVML]"
TOOLKIT_PLAY = "PLAY [NVIDIA container toolkit and CDI specs on GPU hosts]"
TOOLKIT_PLAN_PLAY = "PLAY [Plan a toolkit change (which GPU agents change version)]"
VALIDATE_TASK = "TASK [Check the variables of each role that runs on this host (before any host is changed)]"
# The one task of the shared air-gap check (roles/openshell/tasks/verify_inputs.yml) that looks up and hashes.
LOOKUP_TASK = "TASK [openshell : Look up (and hash where a sum is given) each air-gap file once on the controller]"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Airgap:
    """Controller-side air-gap inputs and their right sums."""

    dir: Path
    binary_sum: str
    images_sum: str
    chart_sum: str
    image_sum: str

    def write_sums(self, binary_sum: str | None = None, images_sum: str | None = None) -> Path:
        """sha256sum-amd64.txt like the release's: the binary (under every asset name) and the images."""
        lines = [f"{binary_sum or self.binary_sum}  {asset}" for asset in ASSETS]
        lines.append(f"{images_sum or self.images_sum}  {IMAGES}")
        path = self.dir / "sha256sum-amd64.txt"
        path.write_text("\n".join(lines) + "\n")
        return path

    def extra_vars(self) -> dict[str, str]:
        return {"k3s_binary_src": str(self.dir / "k3s"), "k3s_checksum_src": str(self.dir / "sha256sum-amd64.txt"),
                "k3s_images_src": str(self.dir / IMAGES),
                "nvidia_device_plugin_chart_src": str(self.dir / CHART),
                "nvidia_device_plugin_chart_checksum": f"sha256:{self.chart_sum}",
                "nvidia_device_plugin_image_src": str(self.dir / PLUGIN_IMAGE),
                "nvidia_device_plugin_image_checksum": self.image_sum}


@pytest.fixture
def airgap(tmp_path: Path) -> Airgap:
    src = tmp_path / "airgap"
    src.mkdir()
    shutil.copy(DOUBLE, src / "k3s")
    (src / IMAGES).write_bytes(b"k3s airgap images test fixture\n" * 64)
    (src / CHART).write_bytes(b"\x1f\x8b chart archive test fixture\n" * 32)
    (src / PLUGIN_IMAGE).write_bytes(b"nvcr.io/nvidia/k8s-device-plugin:v0.19.1 test fixture\n" * 32)
    gap = Airgap(src, sha256(src / "k3s"), sha256(src / IMAGES), sha256(src / CHART), sha256(src / PLUGIN_IMAGE))
    gap.write_sums()
    return gap


def host_dirs(tmp_path: Path, host: str) -> dict[str, str]:
    """Every directory a role could write to, inside tmp_path/hosts/<host>."""
    base = tmp_path / "hosts" / host
    return {"k3s_install_dir": str(base / "bin"), "k3s_config_dir": str(base / "etc-rancher-k3s"),
            "k3s_data_dir": str(base / "data"), "nvidia_device_plugin_static_dir": str(base / "static"),
            "nvidia_device_plugin_manifest_dir": str(base / "manifests"),
            "nvidia_device_plugin_images_dir": str(base / "images"),
            # The safety net: no driver here, so gpu_hosts.yml's read-only driver check fails.
            "nvidia_container_toolkit_nvidia_smi": str(base / "no-nvidia-smi"),
            "nvidia_container_toolkit_driver_version_file": str(base / "no-driver-version")}


def inventory_text(tmp_path: Path, host_vars: dict[str, dict[str, str]] | None = None) -> str:
    """server1 (first server) and agents gpu1, gpu2; all GPU hosts, local connection."""
    host_vars = host_vars or {}
    groups = {"openshell_servers": ["server1"], "openshell_agents": ["gpu1", "gpu2"]}
    inventory = {"all": {
        # The plays' become (sudo) turned off as an inventory may: the local user runs them here.
        "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable, "openshell_gpu": True,
                 "ansible_become": False},
        "children": {group: {"hosts": {host: {**host_dirs(tmp_path, host), **host_vars.get(host, {})}
                                       for host in hosts}}
                     for group, hosts in groups.items()}}}
    return json.dumps(inventory, indent=2)  # JSON is YAML


def run(run_play: Callable[..., Run], tmp_path: Path, playbook: Path, *args: str,
        host_vars: dict[str, dict[str, str]] | None = None, **extra: str) -> Run:
    """`playbook` over the three hosts, their directories under tmp_path; `extra` as extra vars."""
    return run_play(inventory_text(tmp_path, host_vars), playbook, *args, extra_vars=extra, env=ROLE_TEST_ENV,
                    timeout=240)


def plays(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The PLAY headers in the order they ran; the sub-playbooks' own classify plays (no host
    matched: site.yml classifies once) dropped."""
    headers = re.findall(r"^PLAY \[.*\]", result.stdout, re.MULTILINE)
    return headers[:1] + [play for play in headers[1:] if play != CLASSIFY_PLAY]


def section(out: str, task: str) -> str:
    """Output of the first TASK header containing `task`, up to the next header."""
    parts = out.split(task, 1)
    assert len(parts) == 2, f"no task {task!r} in\n{out}"
    return re.split(r"^(?:TASK|PLAY|RUNNING HANDLER) \[", parts[1], maxsplit=1, flags=re.MULTILINE)[0]


def written(tmp_path: Path) -> list[Path]:
    return sorted(path for path in (tmp_path / "hosts").rglob("*")) if (tmp_path / "hosts").exists() else []


def assert_stopped_in_preflight(tmp_path: Path, result: subprocess.CompletedProcess[str], failing: set[str]) -> None:
    """The run failed in the preflight play: no later play started, no role changed anything."""
    out = result.stdout
    assert result.returncode != 0, out + result.stderr
    assert plays(result)[-1] == PREFLIGHT_PLAY, plays(result)
    assert TOOLKIT_PLAN_PLAY not in out and TOOLKIT_PLAY not in out and "PLAY [K3s first server" not in out, out
    # No task of another role than the checks' ran (toolkit, CDI, k3s install, chart or image copy).
    roles_seen = set(re.findall(r"^TASK \[(\w+) : ", out, re.MULTILINE))
    assert roles_seen <= {"openshell", "k3s", "nvidia_device_plugin", "nvidia_container_toolkit"}, roles_seen
    tasks = re.findall(r"^TASK \[(?:k3s|nvidia_device_plugin|nvidia_container_toolkit) : (.*?)\]", out,
                       re.MULTILINE)
    assert not [task for task in tasks if re.search(r"Install|Copy|Create|Write|Download|Serve", task)], tasks
    failed_at = re.findall(r"^fatal: \[(\S+)\]", out, re.MULTILINE)
    assert set(failed_at) == failing, out
    assert out.index(PREFLIGHT_PLAY) < out.index("fatal: ["), out
    for host in HOSTS:  # any_errors_fatal: no host went on (no later play, above)
        assert recap(result, host)["changed"] == 0
    assert recap(result, sorted(failing)[0])["failed"] == 1
    assert written(tmp_path) == [], written(tmp_path)


# --------------------------------------------------------------------------- site.yml
def test_site_runs_the_checks_after_classify_and_before_the_gpu_hosts(run_play: Callable[..., Run], tmp_path: Path, airgap: Airgap) -> None:
    """Right sums: the preflight play passes (each file hashed once for all hosts), and the run goes
    on to gpu_hosts.yml (which the safety net then stops at its driver check, before cluster.yml)."""
    result = run(run_play, tmp_path, SITE, **airgap.extra_vars())
    out = result.stdout
    assert plays(result)[:6] == [CLASSIFY_PLAY, ARCH_PLAY, JETSON_PLAY, PREFLIGHT_PLAY,
                                 TOOLKIT_PLAN_PLAY, TOOLKIT_PLAY], plays(result)
    assert out.split(ARCH_PLAY)[0].count(VALIDATE_TASK) == 1, out
    preflight = out.split(PREFLIGHT_PLAY)[1].split(TOOLKIT_PLAN_PLAY)[0]
    assert "fatal:" not in preflight and "WARNING:" not in preflight, preflight
    # One pass for every role and host: each distinct file looked up (and hashed) once.
    looked = section(preflight, LOOKUP_TASK)
    for name in (IMAGES, "k3s", "sha256sum-amd64.txt", CHART, PLUGIN_IMAGE):
        assert looked.count(f"(item={airgap.dir / name})") == 1, (name, looked)
    assert preflight.count(LOOKUP_TASK) == 1, preflight
    # The roles' own flows later in the run skip what was checked here.
    assert LOOKUP_TASK not in out.split(TOOLKIT_PLAY)[1], out
    # Then gpu_hosts.yml: the safety net's missing driver fails every host; k3s never starts.
    assert result.returncode != 0
    assert "TASK [nvidia_container_toolkit : " in out.split(TOOLKIT_PLAY)[1]
    assert "PLAY [K3s first server" not in out
    assert written(tmp_path) == [], written(tmp_path)


@pytest.mark.parametrize("case", ["chart", "k3s-binary", "k3s-images", "plugin-image"])
def test_wrong_sum_stops_site_before_any_host_is_changed(run_play: Callable[..., Run], tmp_path: Path, airgap: Airgap, case: str) -> None:
    wrong = "ef" * 32
    extra = airgap.extra_vars()
    sums = airgap.dir / "sha256sum-amd64.txt"
    if case == "chart":
        extra["nvidia_device_plugin_chart_checksum"] = wrong
        failing = {"server1"}
        message = (f"nvidia_device_plugin_chart_src {airgap.dir / CHART} has sha256 {airgap.chart_sum} but "
                   f"nvidia_device_plugin_chart_checksum expects {wrong}: fetch the chart archive")
    elif case == "k3s-binary":
        airgap.write_sums(binary_sum=wrong)
        failing = set(HOSTS)
        message = (f"k3s_binary_src {airgap.dir / 'k3s'} has sha256 {airgap.binary_sum} but k3s_checksum_src {sums} "
                   f"(line for k3s) expects {wrong}: download both files of release v1.35.2+k3s1 again")
    elif case == "k3s-images":
        airgap.write_sums(images_sum=wrong)
        failing = set(HOSTS)
        message = (f"k3s_images_src {airgap.dir / IMAGES} has sha256 {airgap.images_sum} but k3s_checksum_src "
                   f"{sums} (line for {IMAGES}) expects {wrong}: download the images archive")
    else:
        extra["nvidia_device_plugin_image_checksum"] = f"sha256:{wrong}"
        failing = set(HOSTS)
        message = (f"nvidia_device_plugin_image_src {airgap.dir / PLUGIN_IMAGE} has sha256 {airgap.image_sum} but "
                   f"nvidia_device_plugin_image_checksum expects {wrong}: save the plugin image archive again")
    result = run(run_play, tmp_path, SITE, **extra)
    assert message in result.stdout, result.stdout
    assert "Nothing was copied" in result.stdout or case == "k3s-binary"
    assert_stopped_in_preflight(tmp_path, result, failing)


def test_wrong_chart_sum_stops_site_in_check_mode_and_with_tags(run_play: Callable[..., Run], tmp_path: Path, airgap: Airgap) -> None:
    """--check and --tags (as `openshell-auto provision -t ... --check` passes them) still check."""
    extra = {**airgap.extra_vars(), "nvidia_device_plugin_chart_checksum": "0" * 64}
    result = run(run_play, tmp_path, SITE, "--check", "--tags", "nvidia_cdi", **extra)
    assert f"nvidia_device_plugin_chart_checksum expects {'0' * 64}" in result.stdout, result.stdout
    assert_stopped_in_preflight(tmp_path, result, {"server1"})


def test_a_missing_archive_stops_site(run_play: Callable[..., Run], tmp_path: Path, airgap: Airgap) -> None:
    extra = {**airgap.extra_vars(), "k3s_images_src": str(airgap.dir / "nope.tar"),
             "k3s_images_checksum": airgap.images_sum}
    result = run(run_play, tmp_path, SITE, **extra)
    assert f"k3s_images_src {airgap.dir / 'nope.tar'} does not exist on the controller" in result.stdout, result.stdout
    assert_stopped_in_preflight(tmp_path, result, set(HOSTS))


@pytest.mark.parametrize("case", ["k3s-images", "chart", "plugin-image", "k3s-binary", "images-is-a-directory"])
def test_a_missing_archive_without_a_sum_stops_site(run_play: Callable[..., Run], tmp_path: Path, airgap: Airgap, case: str) -> None:
    """No sum set (nothing to hash), but the path is wrong: still refused in the preflight, naming the
    variable, the path and the fix, not left to the copy after hosts were changed."""
    extra = {**airgap.extra_vars(), "nvidia_device_plugin_chart_checksum": "",
             "nvidia_device_plugin_image_checksum": ""}
    missing = airgap.dir / "typo"
    variable, failing, what = {
        "k3s-images": ("k3s_images_src", set(HOSTS), "does not exist"),
        "images-is-a-directory": ("k3s_images_src", set(HOSTS), "is not a regular file"),
        "k3s-binary": ("k3s_binary_src", set(HOSTS), "does not exist"),
        "chart": ("nvidia_device_plugin_chart_src", {"server1"}, "does not exist"),
        "plugin-image": ("nvidia_device_plugin_image_src", set(HOSTS), "does not exist"),
    }[case]
    if case == "images-is-a-directory":
        missing.mkdir()
    extra[variable] = str(missing)
    result = run(run_play, tmp_path, SITE, **extra)
    assert f"{variable} {missing} {what} on the controller: fix the path" in result.stdout, result.stdout
    assert f'or set {variable} to ""' in result.stdout and "Nothing was copied" in result.stdout
    assert_stopped_in_preflight(tmp_path, result, failing)


def test_a_missing_archive_without_a_sum_stops_site_in_check_mode(run_play: Callable[..., Run], tmp_path: Path, airgap: Airgap) -> None:
    extra = {**airgap.extra_vars(), "nvidia_device_plugin_chart_src": str(airgap.dir / "nope.tgz"),
             "nvidia_device_plugin_chart_checksum": ""}
    result = run(run_play, tmp_path, SITE, "--check", **extra)
    assert f"nvidia_device_plugin_chart_src {airgap.dir / 'nope.tgz'} does not exist" in result.stdout, result.stdout
    assert_stopped_in_preflight(tmp_path, result, {"server1"})


# --------------------------------------------------------------------------- preflight.yml alone
def test_preflight_with_nothing_set_skips_every_check(run_play: Callable[..., Run], tmp_path: Path) -> None:
    result = run(run_play, tmp_path, PREFLIGHT, "--check")
    assert result.returncode == 0, result.stdout + result.stderr
    arch = section(result.stdout, "TASK [Read each host's CPU architecture]")  # no connection to any host
    assert "ok:" not in arch and "fatal:" not in arch, arch
    out = result.stdout.split(PREFLIGHT_PLAY)[1]
    assert LOOKUP_TASK not in out, out  # nothing collected: the shared check is not even included
    body = section(out, "TASK [Check the air-gap files of every host on the controller]")
    assert "included:" not in body and "ok:" not in body, body
    assert "WARNING:" not in out
    assert all(recap(result, host)["changed"] == 0 for host in HOSTS)


def test_preflight_changes_nothing_and_warns_about_unverified_archives(run_play: Callable[..., Run], tmp_path: Path, airgap: Airgap) -> None:
    extra = {**airgap.extra_vars(), "nvidia_device_plugin_chart_checksum": "",
             "nvidia_device_plugin_image_checksum": ""}
    result = run(run_play, tmp_path, PREFLIGHT, **extra)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert f"WARNING: nvidia_device_plugin_chart_src {airgap.dir / CHART} is used without a checksum check" in out
    # once per run, not once per host that uses the archive
    assert out.count(f"WARNING: nvidia_device_plugin_image_src {airgap.dir / PLUGIN_IMAGE} is copied without") == 1
    assert all(recap(result, host)["changed"] == 0 and recap(result, host)["failed"] == 0 for host in HOSTS)
    assert written(tmp_path) == []


def test_device_plugin_disabled_skips_its_archives(run_play: Callable[..., Run], tmp_path: Path, airgap: Airgap) -> None:
    extra = {**airgap.extra_vars(), "nvidia_device_plugin_chart_checksum": "ab" * 32,
             "nvidia_device_plugin_image_checksum": "ab" * 32}
    result = run(run_play, tmp_path, PREFLIGHT, host_vars={host: {"nvidia_device_plugin_enabled": False} for host in HOSTS},
                 **extra)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "nvidia_device_plugin : " not in result.stdout


ROLE_AFTER_PREFLIGHT = """
- name: The preflight
  ansible.builtin.import_playbook: {preflight}

- name: The roles' own checks later in the same run
  hosts: openshell_role_server:openshell_role_agent
  gather_facts: false
  tasks:
    - name: K3s
      ansible.builtin.include_role:
        name: k3s
        tasks_from: verify_inputs.yml
    - name: Chart
      ansible.builtin.include_role:
        name: nvidia_device_plugin
        tasks_from: verify_inputs.yml
      vars:
        __nvidia_device_plugin_verify: chart
      when: inventory_hostname == 'server1'
    - name: Image
      ansible.builtin.include_role:
        name: nvidia_device_plugin
        tasks_from: verify_inputs.yml
      vars:
        __nvidia_device_plugin_verify: image
{image_vars}"""
# gpu2 now expects another sum than the preflight checked
GPU2_NEW_IMAGE_SUM = """\
        nvidia_device_plugin_image_checksum: "{{ '12' * 32 if inventory_hostname == 'gpu2' else test_image_sum }}"
"""


def test_the_roles_do_not_hash_again_what_the_preflight_verified(run_play: Callable[..., Run], tmp_path: Path, airgap: Airgap) -> None:
    """Later in the same run the roles' own includes skip the files + sums the preflight verified,
    but a file whose expected sum differs (gpu2 here) is hashed and refused all the same."""
    playbook = tmp_path / "play.yml"
    playbook.write_text(ROLE_AFTER_PREFLIGHT.format(preflight=PREFLIGHT, image_vars=GPU2_NEW_IMAGE_SUM))
    extra = airgap.extra_vars()
    image_sum = extra.pop("nvidia_device_plugin_image_checksum")  # host vars: the include overrides it
    result = run(run_play, tmp_path, playbook, host_vars={host: {"nvidia_device_plugin_image_checksum": image_sum,
                                                       "test_image_sum": image_sum} for host in HOSTS}, **extra)
    out = result.stdout
    first, later = out.split("PLAY [The roles' own checks later in the same run]")
    assert "fatal:" not in first, first
    looked = section(first, LOOKUP_TASK)
    for name in (IMAGES, "k3s", CHART, PLUGIN_IMAGE):
        assert looked.count(f"(item={airgap.dir / name})") == 1, (name, looked)
    # Later: k3s and the chart were checked already (their includes are skipped); only gpu2's image,
    # with its new sum, is checked again: looked up and hashed once, and refused.
    k3s_part = later.split("TASK [Chart]")[0]
    chart_part = later.split("TASK [Chart]")[1].split("TASK [Image]")[0]
    # (a skipped include_role prints its task name without the role's)
    for part, task in ((k3s_part, "Check the air-gap inputs on the controller (once per run)]"),
                       (chart_part, "Check the air-gap archive on the controller (once per run)]")):
        assert LOOKUP_TASK not in part, part
        assert "included:" not in section(part, task), part
    rehashed = section(later.split("TASK [Image]")[1], LOOKUP_TASK)
    assert rehashed.count("(item=") == 1 and f"(item={airgap.dir / PLUGIN_IMAGE})" in rehashed, rehashed
    assert re.findall(r"^fatal: \[(\S+)\]", later, re.MULTILINE) == ["gpu2"], later
    assert (f"nvidia_device_plugin_image_src {airgap.dir / PLUGIN_IMAGE} has sha256 {airgap.image_sum} but "
            f"nvidia_device_plugin_image_checksum expects {'12' * 32}") in later, later
    assert recap(result, "gpu2")["failed"] == 1
    assert all(recap(result, host)["changed"] == 0 for host in HOSTS)


def closed_port() -> int:
    """A loopback TCP port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.skipif(shutil.which("ssh") is None, reason="needs the ssh client (an unreachable host)")
def test_an_unreachable_host_does_not_stop_the_others_checks(run_play: Callable[..., Run], tmp_path: Path, airgap: Airgap) -> None:
    """Reading the architecture (k3s_arch empty) is the one step that connects: an unreachable host
    is left out of the k3s checks and not failed (later plays fail it alone, as before the
    preflight); the other hosts are checked and the play passes."""
    unreachable = {"ansible_connection": "ssh", "ansible_host": "127.0.0.1", "ansible_port": closed_port(),
                   "ansible_ssh_common_args": "-o ConnectTimeout=5 -o StrictHostKeyChecking=no"}
    result = run(run_play, tmp_path, PREFLIGHT, host_vars={"gpu2": unreachable}, **airgap.extra_vars())
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    arch = section(out, "TASK [Read each host's CPU architecture]")
    assert re.search(r"^fatal: \[gpu2\]: UNREACHABLE!.*\.\.\.ignoring", arch, re.MULTILINE | re.DOTALL), arch
    assert sorted(re.findall(r"^ok: \[(\S+)\]", arch, re.MULTILINE)) == ["gpu1", "server1"], arch
    k3s = section(out, "TASK [k3s : Add the k3s air-gap files to the controller check]")
    assert "skipping: [gpu2]" in k3s, k3s
    assert sorted(re.findall(r"^ok: \[(\S+)\]", k3s, re.MULTILINE)) == ["gpu1", "server1"], k3s
    checked = section(out, "TASK [openshell : Refuse air-gap files that are missing or do not match their sums")
    assert sorted(re.findall(r"^ok: \[(\S+)\]", checked, re.MULTILINE)) == ["gpu1", "gpu2", "server1"], checked
    assert f"(item={airgap.dir / 'k3s'})" in section(out, LOOKUP_TASK)
    assert recap(result, "gpu2")["failed"] == 0


ROLE_ONLY = """
- name: The role's checks without gathered facts
  hosts: all
  gather_facts: false
  tasks:
    - name: K3s
      ansible.builtin.include_role:
        name: k3s
        tasks_from: verify_inputs.yml
"""


@pytest.mark.skipif(platform.machine() not in ("x86_64", "aarch64"), reason="asset name known for x86_64/aarch64")
def test_the_k3s_check_reads_the_architecture_when_no_play_did(run_play: Callable[..., Run], tmp_path: Path, airgap: Airgap) -> None:
    """k3s_arch empty and no facts: verify_inputs.yml reads the platform facts itself and looks for
    this machine's asset (k3s / k3s-arm64), not a fixed one; here the sums file lists only k3s-arm."""
    asset = {"x86_64": "k3s", "aarch64": "k3s-arm64"}[platform.machine()]
    (airgap.dir / "sha256sum-amd64.txt").write_text(f"{airgap.binary_sum}  k3s-arm\n")
    playbook = tmp_path / "play.yml"
    playbook.write_text(ROLE_ONLY)
    extra = {key: value for key, value in airgap.extra_vars().items() if key.startswith("k3s_binary_src")}
    result = run(run_play, tmp_path, playbook, k3s_checksum_src=str(airgap.dir / "sha256sum-amd64.txt"), **extra)
    out = result.stdout
    assert re.findall(r"^ok: \[(\S+)\]", section(out, "TASK [k3s : Read the host's CPU architecture"),
                      re.MULTILINE) != [], out
    assert f"k3s_checksum_src {airgap.dir / 'sha256sum-amd64.txt'} has no line '<sha256>  {asset}'" in out, out
    assert all(recap(result, host)["failed"] == 1 for host in HOSTS)


def test_an_unverified_archive_is_warned_about_once_per_host_and_run(run_play: Callable[..., Run], tmp_path: Path, airgap: Airgap) -> None:
    """No sums: the preflight warns (once per archive and run); the roles' own checks later in the
    same run do not say it again."""
    playbook = tmp_path / "play.yml"
    playbook.write_text(ROLE_AFTER_PREFLIGHT.format(preflight=PREFLIGHT, image_vars=""))
    airgap.write_sums()
    sums = airgap.dir / "sha256sum-amd64.txt"
    sums.write_text("".join(line + "\n" for line in sums.read_text().splitlines() if IMAGES not in line))
    extra = {**airgap.extra_vars(), "nvidia_device_plugin_chart_checksum": "",
             "nvidia_device_plugin_image_checksum": ""}
    result = run(run_play, tmp_path, playbook, **extra)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert out.count(f"WARNING: k3s_images_src {airgap.dir / IMAGES} is copied without") == 1, out
    assert out.count(f"WARNING: nvidia_device_plugin_chart_src {airgap.dir / CHART} is used without") == 1, out
    assert out.count(f"WARNING: nvidia_device_plugin_image_src {airgap.dir / PLUGIN_IMAGE} is copied without") \
        == 1, out
    later = out.split("PLAY [The roles' own checks later in the same run")[1]
    assert "WARNING:" not in later, later


def test_a_missing_checksum_file_stops_the_run_naming_it(run_play: Callable[..., Run], tmp_path: Path, airgap: Airgap) -> None:
    """k3s_checksum_src is looked for with the archives: a wrong path is named, not Ansible's
    generic 'could not locate file' from the lookup."""
    missing = airgap.dir / "sha256sum-amd64.txt.missing"
    result = run(run_play, tmp_path, SITE, **{**airgap.extra_vars(), "k3s_checksum_src": str(missing)})
    assert_stopped_in_preflight(tmp_path, result, set(HOSTS))
    assert f"k3s_checksum_src {missing} does not exist on the controller" in result.stdout, result.stdout
    assert "could not locate file" not in result.stdout.lower()


def test_a_missing_signing_key_file_stops_the_run_naming_it(run_play: Callable[..., Run], tmp_path: Path, airgap: Airgap) -> None:
    """nvidia_container_toolkit_gpg_key_src is looked for on the controller before any host is
    changed (GPU hosts), not found missing at its copy on each GPU host."""
    missing = airgap.dir / "nvidia-container-toolkit.gpg"
    result = run(run_play, tmp_path, SITE, **{**airgap.extra_vars(), "nvidia_container_toolkit_gpg_key_src": str(missing)})
    assert_stopped_in_preflight(tmp_path, result, set(HOSTS))
    assert (f"nvidia_container_toolkit_gpg_key_src {missing} does not exist on the controller: fix the path"
            in result.stdout), result.stdout
    looked = section(result.stdout, LOOKUP_TASK)
    assert looked.count(f"(item={missing})") == 1, looked  # once for all GPU hosts


def test_the_toolkit_role_alone_checks_its_key_file_first(run_play: Callable[..., Run], tmp_path: Path) -> None:
    """gpu_hosts.yml run alone: the role's own flow looks for the key before its driver preflight,
    and a directory is refused as 'not a regular file'."""
    result = run(run_play, tmp_path, REPO / "playbooks" / "gpu_hosts.yml", nvidia_container_toolkit_gpg_key_src=str(tmp_path))
    assert result.returncode != 0
    out = result.stdout
    assert f"nvidia_container_toolkit_gpg_key_src {tmp_path} is not a regular file on the controller" in out, out
    assert "TASK [nvidia_container_toolkit : Read the driver version file" not in out, out
    assert all(recap(result, host)["changed"] == 0 for host in HOSTS)


def test_a_checksum_file_nothing_reads_is_not_required(run_play: Callable[..., Run], tmp_path: Path, airgap: Airgap) -> None:
    """Images archive with its own k3s_images_checksum and no local binary: k3s_checksum_src is
    never read, so a stale path left in it (shared group_vars) does not stop the run."""
    extra = {**airgap.extra_vars(), "k3s_binary_src": "", "k3s_images_checksum": airgap.images_sum,
             "k3s_checksum_src": str(airgap.dir / "gone.txt")}
    result = run(run_play, tmp_path, PREFLIGHT, **extra)
    assert result.returncode == 0, result.stdout + result.stderr
    looked = section(result.stdout, LOOKUP_TASK)
    assert "gone.txt" not in looked and f"(item={airgap.dir / IMAGES})" in looked, looked


# --------------------------------------------------------------------------- Jetson without NVML
def jetson_vars(tmp_path: Path, nvml: bool) -> dict[str, str]:
    """gpu2 laid out as a Jetson (L4T release file) under its own driver root, with or without
    NVML where the device plugin looks for it (k8s-device-plugin v0.19.1, cmd/nvidia-device-plugin/root.go)."""
    root = tmp_path / "jetson-root"
    (root / "etc").mkdir(parents=True)
    release = root / "etc" / "nv_tegra_release"
    release.write_text("# R36 (release), REVISION: 4.3, GCID: 38968081, BOARD: generic, EABI: aarch64\n")
    if nvml:
        (root / "usr" / "lib" / "aarch64-linux-gnu").mkdir(parents=True)
        (root / "usr" / "lib" / "aarch64-linux-gnu" / "libnvidia-ml.so.1").write_text("")
    return {"nvidia_container_toolkit_tegra_release_file": str(release), "openshell_driver_root": str(root)}


def test_a_jetson_without_nvml_stops_site_before_any_host_is_changed(run_play: Callable[..., Run], tmp_path: Path) -> None:
    result = run(run_play, tmp_path, SITE, host_vars={"gpu2": jetson_vars(tmp_path, nvml=False)})
    assert_stopped_in_preflight(tmp_path, result, {"gpu2"})
    out = result.stdout
    assert "gpu2: this GPU host is a Jetson" in out
    assert "CDI --device-list-strategy options are only supported on NVML-based systems" in out
    assert "NVIDIA/k8s-device-plugin v0.19.1, cmd/nvidia-device-plugin/main.go" in out
    assert "Nothing was changed. Fix: take the host out of the GPU hosts" in out


def test_a_jetson_with_nvml_or_without_the_plugin_is_not_refused(run_play: Callable[..., Run], tmp_path: Path) -> None:
    with_nvml = run(run_play, tmp_path / "a", PREFLIGHT, host_vars={"gpu2": jetson_vars(tmp_path / "a", nvml=True)})
    assert with_nvml.returncode == 0, with_nvml.stdout + with_nvml.stderr
    no_plugin = run(run_play, tmp_path / "b", PREFLIGHT, host_vars={"gpu2": jetson_vars(tmp_path / "b", nvml=False)},
                    nvidia_device_plugin_enabled=False)  # type: ignore[arg-type]
    assert no_plugin.returncode == 0, no_plugin.stdout + no_plugin.stderr
    assert "this GPU host is a Jetson" not in with_nvml.stdout + no_plugin.stdout


@pytest.mark.parametrize("args", [(), ("--check", "--tags", "nvidia_cdi")])
def test_a_k3s_release_too_old_for_cdi_stops_site_before_any_host_is_changed(run_play: Callable[..., Run], tmp_path: Path,
                                                                              args: tuple[str, ...]) -> None:
    """k3s before v1.29.0+k3s1 (Kubernetes 1.28: DevicePluginCDIDevices off) is refused by name for
    plain ansible-playbook users too, before gpu_hosts.yml touches any host (check mode, --tags)."""
    result = run(run_play, tmp_path, SITE, *args, k3s_version="v1.28.15+k3s1")
    for host in HOSTS:
        assert (f"{host}: field k3s_version: 'v1.28.15+k3s1' is older than v1.29.0+k3s1, the first k3s whose "
                "kubelet passes CDI device names") in result.stdout, result.stdout
    assert "set k3s_version to v1.29.0+k3s1 or later" in result.stdout
    assert_stopped_in_preflight(tmp_path, result, set(HOSTS))
