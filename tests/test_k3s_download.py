"""The k3s role's install step against a release server on loopback: the online download path
verifies the binary against the release's sha256sum-<arch>.txt, and refuses a mismatch; the
air-gap path refuses a local binary whose checksum is wrong. The served "release" is the k3s test
double (tests/doubles/k3s/k3s). Runs the role's tasks_from install.yml with ansible-playbook on
localhost, installing into a temp dir (no service is touched: the play ends before handlers)."""

from __future__ import annotations

import functools
import hashlib
import http.server
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

Run = subprocess.CompletedProcess[str]

REPO = Path(__file__).resolve().parent.parent
DOUBLE = REPO / "tests" / "doubles" / "k3s" / "k3s"
VERSION = "v1.35.2+k3s1"

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Install k3s
      ansible.builtin.include_role:
        name: k3s
        tasks_from: install.yml
    - name: Stop before handlers (no service on the test machine)
      ansible.builtin.meta: end_play
"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def release(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A release tree <root>/<version>/{k3s,sha256sum-amd64.txt} served on 127.0.0.1."""
    root = tmp_path / "releases"
    rel = root / VERSION
    rel.mkdir(parents=True)
    shutil.copy(DOUBLE, rel / "k3s")
    digest = hashlib.sha256((rel / "k3s").read_bytes()).hexdigest()
    (rel / "sha256sum-amd64.txt").write_text(f"{digest}  k3s\n{'1' * 64}  k3s-airgap-images-amd64.tar.zst\n")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", rel
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def run_install(run_play: Callable[..., Run], tmp_path: Path) -> Callable[..., Run]:
    """The install play on localhost into tmp_path/bin; keyword arguments are extra vars."""

    def run(**extra: str) -> Run:
        (tmp_path / "bin").mkdir(exist_ok=True)
        inventory = ("all:\n  children:\n    openshell_servers:\n      hosts:\n        localhost:\n"
                     "          ansible_connection: local\n"
                     f"          ansible_python_interpreter: {sys.executable}\n")
        return run_play(inventory, PLAYBOOK, timeout=240,
                        extra_vars={"k3s_install_dir": str(tmp_path / "bin"), "k3s_arch": "amd64", **extra},
                        env={"ANSIBLE_ROLES_PATH": str(REPO / "roles"), "ANSIBLE_BECOME": "false"})

    return run


def test_download_verifies_checksum_and_is_idempotent(run_install: Callable[..., Run], tmp_path: Path, release: tuple[str, Path]) -> None:
    url, rel = release
    first = run_install(k3s_release_url=url)
    assert first.returncode == 0, first.stdout + first.stderr
    installed = tmp_path / "bin" / "k3s"
    assert installed.read_bytes() == (rel / "k3s").read_bytes()
    assert installed.stat().st_mode & 0o777 == 0o755
    assert "changed=1" in first.stdout
    version = subprocess.run([str(installed), "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith(f"k3s version {VERSION} (")
    second = run_install(k3s_release_url=url)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "changed=0" in second.stdout


def test_download_with_bad_checksum_is_refused(run_install: Callable[..., Run], tmp_path: Path, release: tuple[str, Path]) -> None:
    url, rel = release
    (rel / "k3s").write_bytes((rel / "k3s").read_bytes() + b"\n# tampered\n")
    result = run_install(k3s_release_url=url)
    assert result.returncode != 0
    assert "checksum" in result.stdout.lower() and "did not match" in result.stdout.lower(), result.stdout
    assert not (tmp_path / "bin" / "k3s").exists()


def test_local_binary_with_bad_checksum_is_refused(run_install: Callable[..., Run], tmp_path: Path, release: tuple[str, Path]) -> None:
    _, rel = release
    tampered = tmp_path / "k3s"
    tampered.write_bytes(DOUBLE.read_bytes() + b"\n# tampered\n")
    result = run_install(k3s_binary_src=str(tampered), k3s_checksum_src=str(rel / "sha256sum-amd64.txt"))
    assert result.returncode != 0
    assert "has sha256" in result.stdout and "download both files" in result.stdout, result.stdout
    assert not (tmp_path / "bin" / "k3s").exists()


def test_local_binary_with_matching_checksum_installs(run_install: Callable[..., Run], tmp_path: Path, release: tuple[str, Path]) -> None:
    _, rel = release
    result = run_install(k3s_binary_src=str(rel / "k3s"), k3s_checksum_src=str(rel / "sha256sum-amd64.txt"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "bin" / "k3s").read_bytes() == DOUBLE.read_bytes()


def test_a_binary_of_another_release_is_refused_before_any_restart(run_install: Callable[..., Run], tmp_path: Path,
                                                                    release: tuple[str, Path]) -> None:
    """Binary and sums file of another release agree with each other: the checksum passes, the
    release check after the copy refuses it, naming both variables (handlers never run)."""
    _, rel = release
    other = tmp_path / "other"
    other.mkdir()
    (other / "k3s").write_text(DOUBLE.read_text().replace(f'VERSION = "{VERSION}"', 'VERSION = "v1.34.1+k3s1"'))
    (other / "k3s").chmod(0o755)
    digest = hashlib.sha256((other / "k3s").read_bytes()).hexdigest()
    (other / "sha256sum-amd64.txt").write_text(f"{digest}  k3s\n")
    result = run_install(k3s_binary_src=str(other / "k3s"), k3s_checksum_src=str(other / "sha256sum-amd64.txt"))
    assert result.returncode != 0
    out = result.stdout
    assert f"is not k3s {VERSION}: `k3s --version` said 'k3s version v1.34.1+k3s1" in out, out
    assert f"k3s_binary_src {other / 'k3s'} and k3s_checksum_src {other / 'sha256sum-amd64.txt'} belong to" in out
    assert "k3s was not restarted with it" in out


def test_armv7_downloads_k3s_armhf_checked_against_sha256sum_arm(run_install: Callable[..., Run], tmp_path: Path, release: tuple[str, Path]) -> None:
    """armv7 (k3s_arch arm): the release asset is k3s-armhf and its sum is in sha256sum-arm.txt, as
    k3s-io/k3s install.sh (setup_verify_arch: arm* -> ARCH=arm, SUFFIX=-armhf; download_hash:
    sha256sum-${ARCH}.txt, line ` k3s${SUFFIX}`) fetches them. The tree has no `k3s-arm`."""
    url, rel = release
    (rel / "k3s-armhf").write_bytes((rel / "k3s").read_bytes())
    digest = hashlib.sha256((rel / "k3s-armhf").read_bytes()).hexdigest()
    (rel / "sha256sum-arm.txt").write_text(f"{digest}  k3s-armhf\n")
    result = run_install(k3s_release_url=url, k3s_arch="arm")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "bin" / "k3s").read_bytes() == (rel / "k3s-armhf").read_bytes()


def test_armv7_air_gap_binary_is_found_on_its_k3s_armhf_line(run_install: Callable[..., Run], tmp_path: Path, release: tuple[str, Path]) -> None:
    _, rel = release
    digest = hashlib.sha256(DOUBLE.read_bytes()).hexdigest()
    sums = tmp_path / "sha256sum-arm.txt"
    sums.write_text(f"{'0' * 64}  k3s-arm\n{digest}  k3s-armhf\n")
    result = run_install(k3s_binary_src=str(rel / "k3s"), k3s_checksum_src=str(sums), k3s_arch="arm")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "bin" / "k3s").read_bytes() == DOUBLE.read_bytes()
