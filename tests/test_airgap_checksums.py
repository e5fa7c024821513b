"""sha256 checks of the air-gap inputs copied from the controller: the k3s images archive
(k3s_images_checksum, else its line in the release's sha256sum-<arch>.txt = k3s_checksum_src), the
device-plugin chart archive (nvidia_device_plugin_chart_checksum) and image archive
(nvidia_device_plugin_image_checksum). Runs the real role task files with ansible-playbook on
local-connection hosts, writing into temp dirs (no service is touched: the k3s play ends before
handlers, the device-plugin play does not wait). A wrong sum fails naming the variable, the file and
both sums, and nothing is copied; check mode and a second run (changed=0) work."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from helpers import REPO, ROLE_TEST_ENV, recap

Run = subprocess.CompletedProcess[str]


REPO = Path(__file__).resolve().parent.parent
DOUBLE = REPO / "tests" / "doubles" / "k3s" / "k3s"
IMAGES = "k3s-airgap-images-amd64.tar"
# The one task of the shared check (roles/openshell/tasks/verify_inputs.yml) that looks up and hashes.
LOOKUP_TASK = "TASK [openshell : Look up (and hash where a sum is given) each air-gap file once on the controller]"

K3S_PLAYBOOK = """
- hosts: all
  gather_facts: false
  tasks:
    - name: Install k3s
      ansible.builtin.include_role:
        name: k3s
        tasks_from: install.yml
    - name: Stop before handlers (no service on the test machine)
      ansible.builtin.meta: end_play
"""

CHART_PLAYBOOK = """
- hosts: all
  gather_facts: false
  tasks:
    - name: Verify the chart archive (what steps.yml runs first on every server)
      ansible.builtin.include_role:
        name: nvidia_device_plugin
        tasks_from: verify_inputs.yml
      vars:
        __nvidia_device_plugin_verify: chart
    - name: Serve the chart archive from the static directory (what steps.yml runs on every server)
      ansible.builtin.include_role:
        name: nvidia_device_plugin
        tasks_from: static.yml
      when: nvidia_device_plugin_chart_delivery | default('static') == 'static'  # the role's default
    - name: Deploy the device plugin manifest
      ansible.builtin.include_role:
        name: nvidia_device_plugin
        tasks_from: deploy.yml
"""

IMAGE_PLAYBOOK = """
- hosts: all
  gather_facts: false
  tasks:
    - name: Stage the plugin image
      ansible.builtin.include_role:
        name: nvidia_device_plugin
        tasks_from: images.yml
"""


def test_the_role_verifies_the_chart_before_it_serves_or_embeds_it() -> None:
    """CHART_PLAYBOOK above follows roles/nvidia_device_plugin/tasks/steps.yml: the chart check
    comes before the static and deploy steps, which no longer check it themselves."""
    tasks = yaml.safe_load((REPO / "roles" / "nvidia_device_plugin" / "tasks" / "steps.yml").read_text())
    names = [task["name"] for task in tasks]
    verify = next(i for i, task in enumerate(tasks) if task.get("ansible.builtin.import_tasks") == "verify_inputs.yml"
                  and task.get("vars", {}).get("__nvidia_device_plugin_verify") == "chart")
    assert verify < names.index("Serve the chart archive from every server's static directory (air gap)")
    assert verify < names.index("Deploy the device plugin")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_playbook(run_play: Callable[..., Run], playbook: str, hosts: dict[str, dict[str, str]], *args: str,
                 **extra: str) -> Run:
    """ansible-playbook over local-connection hosts (host -> host vars), extra vars as -e."""
    lines = ["all:", "  vars:", "    ansible_connection: local", f"    ansible_python_interpreter: {sys.executable}",
             "  children:", "    openshell_servers:", "      hosts:"]
    for host, host_vars in hosts.items():
        lines.append(f"        {host}:" + ("" if host_vars else " {}"))
        lines += [f"          {key}: {json.dumps(value)}" for key, value in host_vars.items()]
    return run_play("\n".join(lines) + "\n", playbook, *args, extra_vars=extra, env=ROLE_TEST_ENV, timeout=240)


# --------------------------------------------------------------------------- k3s images archive
@pytest.fixture
def airgap(tmp_path: Path) -> Path:
    """Controller-side inputs: the k3s double as binary, an images archive, sha256sum-amd64.txt
    listing the binary and (like the release's) the images archive."""
    src = tmp_path / "airgap"
    src.mkdir()
    shutil.copy(DOUBLE, src / "k3s")
    (src / IMAGES).write_bytes(b"k3s airgap images test fixture\n" * 64)
    write_sums(src, sha256(src / IMAGES))
    return src


def write_sums(src: Path, images_sum: str | None) -> Path:
    lines = [f"{sha256(src / 'k3s')}  k3s", f"{'1' * 64}  k3s-airgap-images-amd64.tar.zst"]
    if images_sum is not None:
        lines.append(f"{images_sum}  {IMAGES}")
    path = src / "sha256sum-amd64.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def k3s_host(tmp_path: Path, name: str = "node") -> dict[str, str]:
    return {"k3s_install_dir": str(tmp_path / name / "bin"), "k3s_data_dir": str(tmp_path / name / "data")}


def run_k3s(run_play: Callable[..., Run], tmp_path: Path, airgap: Path, *args: str,
            hosts: dict[str, dict[str, str]] | None = None,
            **extra: str) -> subprocess.CompletedProcess[str]:
    hosts = hosts or {"node": k3s_host(tmp_path)}
    for host_vars in hosts.values():
        Path(host_vars["k3s_install_dir"]).mkdir(parents=True, exist_ok=True)
    extra = {"k3s_arch": "amd64", "k3s_binary_src": str(airgap / "k3s"),
             "k3s_checksum_src": str(airgap / "sha256sum-amd64.txt"), "k3s_images_src": str(airgap / IMAGES), **extra}
    return run_playbook(run_play, K3S_PLAYBOOK, hosts, *args, **extra)


def installed_images(tmp_path: Path, name: str = "node") -> Path:
    return tmp_path / name / "data" / "agent" / "images" / IMAGES


def assert_nothing_copied(tmp_path: Path, name: str = "node") -> None:
    assert not (tmp_path / name / "bin" / "k3s").exists(), "binary copied although the images sum is wrong"
    assert not (tmp_path / name / "data").exists(), "images directory created although the sum is wrong"


def test_images_sum_from_the_release_checksum_file(run_play: Callable[..., Run], tmp_path: Path, airgap: Path) -> None:
    check = run_k3s(run_play, tmp_path, airgap, "--check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert_nothing_copied(tmp_path)
    first = run_k3s(run_play, tmp_path, airgap)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "WARNING:" not in first.stdout
    assert installed_images(tmp_path).read_bytes() == (airgap / IMAGES).read_bytes()
    assert recap(first, "node")["changed"] >= 2
    second = run_k3s(run_play, tmp_path, airgap)
    assert second.returncode == 0, second.stdout + second.stderr
    assert recap(second, "node")["changed"] == 0


def test_images_archive_not_matching_the_checksum_file_is_refused(run_play: Callable[..., Run], tmp_path: Path, airgap: Path) -> None:
    good = sha256(airgap / IMAGES)
    sums = write_sums(airgap, "ab" * 32)
    result = run_k3s(run_play, tmp_path, airgap)
    assert result.returncode != 0
    out = result.stdout
    assert f"k3s_images_src {airgap / IMAGES} has sha256 {good}" in out, out
    assert f"k3s_checksum_src {sums} (line for {IMAGES}) expects {'ab' * 32}" in out, out
    assert "download the images archive of release v1.35.2+k3s1 again" in out, out
    assert_nothing_copied(tmp_path)


def test_images_checksum_variable_wins_over_the_checksum_file(run_play: Callable[..., Run], tmp_path: Path, airgap: Path) -> None:
    good = sha256(airgap / IMAGES)
    # The file lists the right sum, the variable a wrong one: the variable is what counts.
    result = run_k3s(run_play, tmp_path, airgap, k3s_images_checksum=f"sha256:{'cd' * 32}")
    assert result.returncode != 0
    assert f"has sha256 {good} but k3s_images_checksum expects {'cd' * 32}" in result.stdout, result.stdout
    assert "or correct k3s_images_checksum" in result.stdout
    assert_nothing_copied(tmp_path)
    # The file lists a wrong sum, the variable the right one (bare hex, upper case): accepted.
    write_sums(airgap, "ab" * 32)
    ok = run_k3s(run_play, tmp_path, airgap, k3s_images_checksum=good.upper())
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert installed_images(tmp_path).read_bytes() == (airgap / IMAGES).read_bytes()


def test_images_without_any_sum_are_copied_with_a_warning(run_play: Callable[..., Run], tmp_path: Path, airgap: Path) -> None:
    write_sums(airgap, None)
    result = run_k3s(run_play, tmp_path, airgap)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"WARNING: k3s_images_src {airgap / IMAGES} is copied without a checksum check" in result.stdout
    assert f"has no line for {IMAGES}" in result.stdout
    assert installed_images(tmp_path).exists()


def test_malformed_images_checksum_is_refused(run_play: Callable[..., Run], tmp_path: Path, airgap: Path) -> None:
    result = run_k3s(run_play, tmp_path, airgap, k3s_images_checksum="md5:1234")
    assert result.returncode != 0
    assert "k3s_images_checksum: 'md5:1234' is not a sha256; set it to" in result.stdout, result.stdout
    assert_nothing_copied(tmp_path)


def test_missing_images_archive_is_refused_before_any_copy(run_play: Callable[..., Run], tmp_path: Path, airgap: Path) -> None:
    result = run_k3s(run_play, tmp_path, airgap, k3s_images_checksum=sha256(airgap / IMAGES),
                     k3s_images_src=str(airgap / "nope.tar"))
    assert result.returncode != 0
    assert f"k3s_images_src {airgap / 'nope.tar'} does not exist on the controller" in result.stdout, result.stdout
    assert_nothing_copied(tmp_path)


def test_each_host_is_checked_against_its_own_sum(run_play: Callable[..., Run], tmp_path: Path, airgap: Path) -> None:
    """Hosts sharing one archive: it is hashed once on the controller, and a host whose own
    k3s_images_checksum is wrong fails alone, with nothing copied to it."""
    good = sha256(airgap / IMAGES)
    hosts = {"good": k3s_host(tmp_path, "good"), "bad": {**k3s_host(tmp_path, "bad"),
                                                          "k3s_images_checksum": "0" * 64},
             "plain": k3s_host(tmp_path, "plain")}
    result = run_k3s(run_play, tmp_path, airgap, hosts=hosts)
    # (the play's final meta end_play makes ansible-playbook exit 0 here: the recap tells the hosts apart)
    assert f"has sha256 {good} but k3s_images_checksum expects {'0' * 64}" in result.stdout, result.stdout
    assert recap(result, "bad")["failed"] == 1
    assert recap(result, "good")["failed"] == 0 and recap(result, "plain")["failed"] == 0
    assert installed_images(tmp_path, "good").exists() and installed_images(tmp_path, "plain").exists()
    assert_nothing_copied(tmp_path, "bad")
    hashed = result.stdout.split(LOOKUP_TASK)[1].split("TASK [")[0]
    assert hashed.count(f"(item={airgap / IMAGES})") == 1, hashed


# --------------------------------------------------------------------------- device-plugin chart
@pytest.fixture
def chart(tmp_path: Path) -> Path:
    path = tmp_path / "airgap-chart" / "nvidia-device-plugin-0.19.1.tgz"
    path.parent.mkdir()
    path.write_bytes(b"\x1f\x8b chart archive test fixture\n" * 32)
    return path


def run_chart(run_play: Callable[..., Run], tmp_path: Path, chart: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return run_playbook(run_play, CHART_PLAYBOOK, {"server": {}}, *args,
                        nvidia_device_plugin_chart_src=str(chart),
                        nvidia_device_plugin_static_dir=str(tmp_path / "static"),
                        nvidia_device_plugin_manifest_dir=str(tmp_path / "manifests"),
                        nvidia_device_plugin_wait="false", **extra)


@pytest.mark.parametrize("delivery", ["static", "content"])
def test_chart_with_good_sum_is_delivered_idempotently(run_play: Callable[..., Run], tmp_path: Path, chart: Path, delivery: str) -> None:
    sum_ = f"sha256:{sha256(chart)}"
    check = run_chart(run_play, tmp_path, chart, "--check", nvidia_device_plugin_chart_checksum=sum_,
                      nvidia_device_plugin_chart_delivery=delivery)
    assert check.returncode == 0, check.stdout + check.stderr
    assert not (tmp_path / "static").exists() and not (tmp_path / "manifests").exists()
    first = run_chart(run_play, tmp_path, chart, nvidia_device_plugin_chart_checksum=sum_,
                      nvidia_device_plugin_chart_delivery=delivery)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "WARNING:" not in first.stdout
    assert (tmp_path / "manifests" / "nvidia-device-plugin.yaml").exists()
    assert (tmp_path / "static" / chart.name).exists() == (delivery == "static")
    second = run_chart(run_play, tmp_path, chart, nvidia_device_plugin_chart_checksum=sum_,
                       nvidia_device_plugin_chart_delivery=delivery)
    assert second.returncode == 0, second.stdout + second.stderr
    assert recap(second, "server")["changed"] == 0


@pytest.mark.parametrize("delivery", ["static", "content"])
def test_chart_with_wrong_sum_is_refused(run_play: Callable[..., Run], tmp_path: Path, chart: Path, delivery: str) -> None:
    result = run_chart(run_play, tmp_path, chart, nvidia_device_plugin_chart_checksum="ef" * 32,
                       nvidia_device_plugin_chart_delivery=delivery)
    assert result.returncode != 0
    assert (f"nvidia_device_plugin_chart_src {chart} has sha256 {sha256(chart)} but "
            f"nvidia_device_plugin_chart_checksum expects {'ef' * 32}") in result.stdout, result.stdout
    assert "or correct nvidia_device_plugin_chart_checksum" in result.stdout
    assert not (tmp_path / "static").exists() and not (tmp_path / "manifests").exists()


def test_chart_without_sum_warns_and_bad_format_fails(run_play: Callable[..., Run], tmp_path: Path, chart: Path) -> None:
    plain = run_chart(run_play, tmp_path, chart)
    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert f"WARNING: nvidia_device_plugin_chart_src {chart} is used without a checksum check" in plain.stdout
    bad = run_chart(run_play, tmp_path / "bad", chart, nvidia_device_plugin_chart_checksum="sha256:xyz")
    assert bad.returncode != 0
    assert "nvidia_device_plugin_chart_checksum: 'sha256:xyz' is not a sha256" in bad.stdout, bad.stdout


# --------------------------------------------------------------------------- device-plugin image
@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "airgap-image" / "k8s-device-plugin-v0.19.1.tar"
    path.parent.mkdir()
    path.write_bytes(b"nvcr.io/nvidia/k8s-device-plugin:v0.19.1 test fixture\n" * 32)
    return path


def run_image(run_play: Callable[..., Run], image: Path, hosts: dict[str, dict[str, str]], *args: str,
              **extra: str) -> subprocess.CompletedProcess[str]:
    return run_playbook(run_play, IMAGE_PLAYBOOK, hosts, *args, nvidia_device_plugin_image_src=str(image), **extra)


def test_image_with_good_sum_is_copied_idempotently(run_play: Callable[..., Run], tmp_path: Path, image: Path) -> None:
    hosts = {f"gpu{i}": {"nvidia_device_plugin_images_dir": str(tmp_path / f"gpu{i}")} for i in (1, 2)}
    sum_ = sha256(image)
    check = run_image(run_play, image, hosts, "--check", nvidia_device_plugin_image_checksum=sum_)
    assert check.returncode == 0, check.stdout + check.stderr
    assert not (tmp_path / "gpu1").exists()
    first = run_image(run_play, image, hosts, nvidia_device_plugin_image_checksum=sum_)
    assert first.returncode == 0, first.stdout + first.stderr
    for host in hosts:
        assert (tmp_path / host / image.name).read_bytes() == image.read_bytes()
    second = run_image(run_play, image, hosts, nvidia_device_plugin_image_checksum=sum_)
    assert second.returncode == 0, second.stdout + second.stderr
    assert all(recap(second, host)["changed"] == 0 for host in hosts)


def test_image_with_wrong_sum_is_refused_on_every_host(run_play: Callable[..., Run], tmp_path: Path, image: Path) -> None:
    hosts = {f"gpu{i}": {"nvidia_device_plugin_images_dir": str(tmp_path / f"gpu{i}")} for i in (1, 2)}
    result = run_image(run_play, image, hosts, nvidia_device_plugin_image_checksum=f"sha256:{'12' * 32}")
    assert result.returncode != 0
    assert (f"nvidia_device_plugin_image_src {image} has sha256 {sha256(image)} but "
            f"nvidia_device_plugin_image_checksum expects {'12' * 32}") in result.stdout, result.stdout
    assert "or correct nvidia_device_plugin_image_checksum" in result.stdout
    assert all(recap(result, host)["failed"] == 1 for host in hosts)
    assert not (tmp_path / "gpu1").exists() and not (tmp_path / "gpu2").exists()


def test_image_without_sum_warns(run_play: Callable[..., Run], tmp_path: Path, image: Path) -> None:
    result = run_image(run_play, image, {"gpu1": {"nvidia_device_plugin_images_dir": str(tmp_path / "gpu1")}})
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"WARNING: nvidia_device_plugin_image_src {image} is copied without a checksum check" in result.stdout
    assert (tmp_path / "gpu1" / image.name).exists()
