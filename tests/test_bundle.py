"""`openshell-auto bundle` against loopback servers that imitate the upstream URL layouts:

- k3s releases: <k3s_release_url>/<version, URL-encoded>/{k3s, k3s-arm64, sha256sum-<arch>.txt,
  k3s-airgap-images-<arch>.tar.zst} (k3s-io/k3s install.sh: download_hash / download_binary use
  ${GITHUB_URL}/download/${VERSION_K3S}/sha256sum-${ARCH}.txt and k3s${SUFFIX}; the release assets
  list carries k3s-airgap-images-<arch>.tar.zst);
- a Helm repository: <repo>/index.yaml, entries.<name>[].{version, urls, digest} with urls relative
  to the index and digest the archive's sha256 (helm/helm pkg/repo/index.go, ChartVersion.Digest,
  filled by provenance.DigestFile);
- NVIDIA's flat apt repository: <base>/deb/<arch>/{InRelease, Packages, ./<pkg>.deb} (the
  `Filename: ./...` form NVIDIA/libnvidia-container gh-pages stable/deb/amd64 lists), signed here
  with a throwaway key made by gpg in a temporary GNUPGHOME.
"""

from __future__ import annotations

import hashlib
import http.server
import lzma
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import jinja2
import pytest
import yaml
from click.testing import CliRunner

from openshell_auto import paths
from openshell_auto.airgap_sources import path_problem, source_problems
from openshell_auto.bundle import K3S_ASSETS, VARS_FILE
from openshell_auto.cli import main
from openshell_auto.extra_vars import parse_extra_vars
from openshell_auto.inventory import parse_inventory
from openshell_auto.specs import load_specs

DEFAULTS = load_specs().defaults
K3S_DOUBLE = Path(__file__).parent / "doubles" / "k3s" / "k3s"
K3S_VERSION = DEFAULTS["k3s_version"]
CHART = DEFAULTS["nvidia_device_plugin_chart_name"]
CHART_VERSION = str(DEFAULTS["nvidia_device_plugin_chart_version"])
TOOLKIT_VERSION = DEFAULTS["nvidia_container_toolkit_version"]

needs_gpg = pytest.mark.skipif(shutil.which("gpg") is None or shutil.which("gpgv") is None,
                               reason="gpg and gpgv are needed to sign and check the fake apt repository")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    requests: list[str]

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return

    def do_GET(self) -> None:
        self.server.requested.append(self.path)  # type: ignore[attr-defined]
        super().do_GET()


@dataclass
class Upstream:
    root: Path
    url: str
    requested: list[str] = field(default_factory=list)
    gnupghome: Path | None = None

    def k3s_dir(self) -> Path:
        return self.root / "k3s" / K3S_VERSION  # the server unquotes %2B back to +

    def extra_vars(self) -> list[str]:
        return ["-e", f"k3s_release_url={self.url}/k3s", "-e", f"nvidia_device_plugin_chart_repo={self.url}/charts",
                "-e", f"nvidia_container_toolkit_repo_base_url={self.url}/toolkit",
                "-e", f"nvidia_container_toolkit_gpg_key_url={self.url}/toolkit/gpgkey"]


def gpg(home: Path, *args: str, data: bytes | None = None) -> bytes:
    done = subprocess.run(["gpg", "--batch", "--yes", "--homedir", str(home), *args], input=data,
                          capture_output=True, check=True, timeout=120)
    return done.stdout


def make_key(home: Path, uid: str) -> None:
    home.mkdir(mode=0o700)
    gpg(home, "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never")


def sign_release(upstream: Upstream, arch: str) -> None:
    """Release over the Packages index, clearsigned as InRelease. Like NVIDIA's (NVIDIA/libnvidia-container
    gh-pages stable/deb/amd64/InRelease) it lists SHA512 only, for Packages and Packages.xz."""
    folder = upstream.root / "toolkit" / "deb" / arch
    packages = (folder / "Packages").read_bytes()
    (folder / "Packages.xz").write_bytes(lzma.compress(packages))
    lines = [f" {hashlib.sha512(d).hexdigest()} {len(d):>16} {n}" for n, d in
             (("Packages", packages), ("Packages.xz", (folder / "Packages.xz").read_bytes()))]
    release = "Architectures: " + arch + "\nCodename: stable\nLabel: fake\nSHA512:\n" + "\n".join(lines) + "\n"
    assert upstream.gnupghome is not None
    (folder / "InRelease").write_bytes(gpg(upstream.gnupghome, "--clearsign", "--output", "-", data=release.encode()))


def build_upstream(root: Path, gnupghome: Path | None) -> None:
    for arch, asset in K3S_ASSETS.items():
        folder = root / "k3s" / K3S_VERSION
        folder.mkdir(parents=True, exist_ok=True)
        # amd64 "releases" the project's k3s double, so the k3s role can install what the bundle fetched.
        binary = K3S_DOUBLE.read_bytes() if arch == "amd64" else f"k3s binary {arch}".encode()
        files = {asset: binary,
                 f"k3s-airgap-images-{arch}.tar.zst": f"images {arch}".encode() * 1000}
        for name, data in files.items():
            (folder / name).write_bytes(data)
        # sha256sum-<arch>.txt lists more assets than the bundle takes, as upstream's does.
        lines = [f"{sha(d)}  {n}" for n, d in files.items()] + [f"{'0' * 64}  k3s-airgap-images-{arch}.tar"]
        (folder / f"sha256sum-{arch}.txt").write_text("\n".join(lines) + "\n")
    charts = root / "charts"
    charts.mkdir()
    chart = b"fake chart archive"
    (charts / f"{CHART}-{CHART_VERSION}.tgz").write_bytes(chart)
    index = {"apiVersion": "v1", "entries": {CHART: [
        {"name": CHART, "version": "0.0.1", "urls": ["old.tgz"], "digest": "0" * 64},
        {"name": CHART, "version": CHART_VERSION, "appVersion": f"{CHART_VERSION}-fake",
         "urls": [f"{CHART}-{CHART_VERSION}.tgz"], "digest": sha(chart)}]}}
    (charts / "index.yaml").write_text(yaml.safe_dump(index))
    if gnupghome is None:
        return
    toolkit = root / "toolkit"
    toolkit.mkdir()
    (toolkit / "gpgkey").write_bytes(gpg(gnupghome, "--armor", "--export"))
    for arch in K3S_ASSETS:
        folder = toolkit / "deb" / arch
        folder.mkdir(parents=True)
        stanzas = []
        debs = {("nvidia-container-toolkit-base", TOOLKIT_VERSION, ""),
                ("nvidia-container-toolkit-base", "1.0.0-1", ""),
                ("nvidia-container-toolkit", TOOLKIT_VERSION, "nvidia-container-toolkit-base (= 1.18.2-1)")}
        for name, version, depends in sorted(debs):
            deb = f"{name}_{version}_{arch}.deb"
            data = f"{name} {version} {arch}".encode()
            (folder / deb).write_bytes(data)
            stanza = f"Package: {name}\nVersion: {version}\nArchitecture: {arch}\nFilename: ./{deb}\nSHA256: {sha(data)}\n"
            stanzas.append(stanza + (f"Depends: {depends}, libc6 (>= 2.34)\n" if depends else "Depends: libc6\n"))
        (folder / "Packages").write_text("\n".join(stanzas))


@pytest.fixture(scope="module")
def gnupghome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path | None]:
    if shutil.which("gpg") is None:
        yield None
        return
    home = tmp_path_factory.mktemp("gpg") / "home"
    make_key(home, "Fake Toolkit Signer <signer@example.invalid>")
    yield home
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], capture_output=True, check=False)


@pytest.fixture()
def upstream(tmp_path: Path, gnupghome: Path | None) -> Iterator[Upstream]:
    root = tmp_path / "upstream"
    root.mkdir()
    build_upstream(root, gnupghome)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(root)))
    server.requested = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state = Upstream(root=root, url=f"http://127.0.0.1:{server.server_address[1]}", gnupghome=gnupghome)
    state.requested = server.requested  # type: ignore[attr-defined]
    if gnupghome is not None:
        for arch in K3S_ASSETS:
            sign_release(state, arch)
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["bundle", *args])
    return result.exit_code, result.output


def leftovers(outdir: Path) -> list[Path]:
    return [p for p in outdir.rglob("*") if p.name.endswith(".part")]


def test_asset_names_match_the_k3s_role() -> None:
    """The Python table and the role's __k3s_asset expression name the same release assets."""
    role_vars = yaml.safe_load((paths.content().roles / "k3s" / "vars" / "main.yml").read_text())
    expression = role_vars["__k3s_asset"]
    for arch, asset in K3S_ASSETS.items():
        assert jinja2.Environment().from_string(expression).render(__k3s_arch=arch) == asset


@needs_gpg
def test_bundle_fetches_checks_and_writes_vars_usable_by_provision(upstream: Upstream, tmp_path: Path) -> None:
    outdir = tmp_path / "bundle"
    args = ["-o", str(outdir), "--skip", "image", "--toolkit-mirror-url", "http://mirror.internal/toolkit/",
            *upstream.extra_vars()]
    code, output = run(args)
    assert code == 0, output
    version_path = f"/k3s/{K3S_VERSION.replace('+', '%2B')}/k3s"
    assert version_path in upstream.requested  # the version is URL-encoded as the role does it
    data = yaml.safe_load((outdir / VARS_FILE).read_text())
    k3s_dir = outdir.resolve() / "k3s" / "amd64"
    assert data["k3s_binary_src"] == str(k3s_dir / "k3s")
    assert data["k3s_checksum_src"] == str(k3s_dir / "sha256sum-amd64.txt")
    assert data["k3s_images_src"] == str(k3s_dir / "k3s-airgap-images-amd64.tar.zst")
    assert (k3s_dir / "k3s").read_bytes() == K3S_DOUBLE.read_bytes()
    chart = (upstream.root / "charts" / f"{CHART}-{CHART_VERSION}.tgz").read_bytes()
    assert Path(data["nvidia_device_plugin_chart_src"]).read_bytes() == chart
    assert data["nvidia_device_plugin_chart_checksum"] == f"sha256:{sha(chart)}"
    assert data["nvidia_container_toolkit_repo_base_url"] == "http://mirror.internal/toolkit"
    assert Path(data["nvidia_container_toolkit_gpg_key_src"]).read_bytes() == \
        (upstream.root / "toolkit" / "gpgkey").read_bytes()
    # The signed index is copied unchanged; the pinned package is there, the older one is not.
    repo = outdir / "toolkit" / "deb" / "amd64"
    for name in ("InRelease", "Packages", "Packages.xz"):
        assert (repo / name).read_bytes() == (upstream.root / "toolkit" / "deb" / "amd64" / name).read_bytes()
    assert (repo / f"nvidia-container-toolkit-base_{TOOLKIT_VERSION}_amd64.deb").is_file()
    assert not (repo / "nvidia-container-toolkit-base_1.0.0-1_amd64.deb").exists()
    assert not (repo / f"nvidia-container-toolkit_{TOOLKIT_VERSION}_amd64.deb").exists()
    assert not (outdir / "k3s" / "arm64").exists()
    # The plugin image was skipped: its variable is left commented with the reason.
    assert "nvidia_device_plugin_image_src" not in data
    # What the CLI checks before provision runs accepts every *_src the bundle wrote.
    for name, value in data.items():
        if name.endswith("_src"):
            assert path_problem(value) is None, (name, value)
    inventory = parse_inventory(paths.content().root / "inventories" / "airgap" / "hosts.yml",
                                extra_vars=parse_extra_vars([f"@{outdir / VARS_FILE}"]))
    # Only the image the bundle skipped still points at the inventory's own (absent) path.
    problems = source_problems(inventory)
    assert len(problems) == 1 and "field nvidia_device_plugin_image_src" in problems[0], problems
    # A second run fetches no large file again and leaves the same vars file.
    before = (outdir / VARS_FILE).read_text()
    upstream.requested.clear()
    code, output = run(args)
    assert code == 0, output
    assert "already present" in output
    assert not [p for p in upstream.requested if p.endswith(("/k3s", ".tar.zst", ".tgz", ".deb"))]
    assert (outdir / VARS_FILE).read_text() == before
    assert leftovers(outdir) == []


def test_two_architectures_write_one_k3s_vars_file_each(upstream: Upstream, tmp_path: Path) -> None:
    outdir = tmp_path / "bundle"
    code, output = run(["-o", str(outdir), "--arch", "amd64", "--arch", "arm64", "--skip", "toolkit",
                        "--skip", "image", *upstream.extra_vars()])
    assert code == 0, output
    main_vars = yaml.safe_load((outdir / VARS_FILE).read_text())
    assert "k3s_binary_src" not in main_vars  # -e would win over every host's group_vars
    arm = yaml.safe_load((outdir / "k3s-arm64.yml").read_text())
    assert Path(arm["k3s_binary_src"]).read_bytes() == b"k3s binary arm64"
    assert Path(arm["k3s_binary_src"]).name == "k3s-arm64"


def test_wrong_sum_stops_names_the_file_and_writes_nothing(upstream: Upstream, tmp_path: Path) -> None:
    (upstream.k3s_dir() / "k3s").write_bytes(b"tampered binary")
    outdir = tmp_path / "bundle"
    code, output = run(["-o", str(outdir), "--skip", "toolkit", "--skip", "image", *upstream.extra_vars()])
    assert code == 1
    expected = sha(K3S_DOUBLE.read_bytes())
    assert f"sha256 mismatch: expected {expected}, got {sha(b'tampered binary')}" in output
    assert f"{upstream.url}/k3s/{K3S_VERSION.replace('+', '%2B')}/k3s" in output
    assert not (outdir / "k3s" / "amd64" / "k3s").exists()
    assert leftovers(outdir) == []
    assert not (outdir / VARS_FILE).exists()


def test_wrong_chart_digest_is_refused(upstream: Upstream, tmp_path: Path) -> None:
    (upstream.root / "charts" / f"{CHART}-{CHART_VERSION}.tgz").write_bytes(b"another chart")
    outdir = tmp_path / "bundle"
    code, output = run(["-o", str(outdir), "--skip", "k3s", "--skip", "toolkit", "--skip", "image",
                        *upstream.extra_vars()])
    assert code == 1
    assert f"{CHART}-{CHART_VERSION}.tgz" in output and "sha256 mismatch" in output
    assert not (outdir / "chart" / f"{CHART}-{CHART_VERSION}.tgz").exists()
    assert leftovers(outdir) == []


def test_missing_file_is_a_clear_404(upstream: Upstream, tmp_path: Path) -> None:
    (upstream.k3s_dir() / "k3s-airgap-images-amd64.tar.zst").unlink()
    outdir = tmp_path / "bundle"
    code, output = run(["-o", str(outdir), "--skip", "toolkit", "--skip", "image", *upstream.extra_vars()])
    assert code == 1
    assert "k3s-airgap-images-amd64.tar.zst: HTTP 404" in output
    assert leftovers(outdir) == []
    assert not (outdir / VARS_FILE).exists()


@pytest.mark.parametrize("args", [["--arch", "s390x"], ["--arch", "amd64", "--arch", "x86_64"],
                                  ["-e", "k3s_release_url=ftp://example.invalid"],
                                  ["-e", "nvidia_device_plugin_chart_version=../../../etc/x"],
                                  ["-e", "nvidia_device_plugin_chart_name=../x"]])
def test_bad_input_exits_2_before_fetching(tmp_path: Path, args: list[str]) -> None:
    code, output = run(["-o", str(tmp_path / "bundle"), *args])
    assert code == 2, output
    assert "error:" in output
    assert not (tmp_path / "bundle").exists()


@needs_gpg
def test_tampered_packages_index_is_refused(upstream: Upstream, tmp_path: Path) -> None:
    packages = upstream.root / "toolkit" / "deb" / "amd64" / "Packages"
    packages.write_text(packages.read_text() + "\nPackage: evil\nVersion: 1\nFilename: ./evil.deb\nSHA256: "
                        + "1" * 64 + "\n")
    outdir = tmp_path / "bundle"
    code, output = run(["-o", str(outdir), "--skip", "k3s", "--skip", "chart", "--skip", "image",
                        *upstream.extra_vars()])
    assert code == 1
    assert "toolkit index Packages" in output and "sha512 mismatch" in output and "signed Release" in output
    assert not (outdir / "toolkit" / "deb").exists()


@needs_gpg
def test_release_signed_by_another_key_is_refused(upstream: Upstream, tmp_path: Path) -> None:
    other = tmp_path / "other-gpg"
    make_key(other, "Someone Else <other@example.invalid>")
    try:
        (upstream.root / "toolkit" / "gpgkey").write_bytes(gpg(other, "--armor", "--export"))
    finally:
        subprocess.run(["gpgconf", "--homedir", str(other), "--kill", "all"], capture_output=True, check=False)
    outdir = tmp_path / "bundle"
    code, output = run(["-o", str(outdir), "--skip", "k3s", "--skip", "chart", "--skip", "image",
                        *upstream.extra_vars()])
    assert code == 1
    assert "the Release signature does not verify against the toolkit key" in output
    assert not (outdir / "toolkit" / "deb").exists()


@needs_gpg
def test_without_gpgv_the_toolkit_is_refused(upstream: Upstream, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    code, output = run(["-o", str(tmp_path / "b"), "--skip", "k3s", "--skip", "chart", "--skip", "image",
                        *upstream.extra_vars()])
    assert code == 1
    assert "gpgv is not installed" in output


def test_without_skopeo_the_image_is_left_commented_with_the_command(upstream: Upstream, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None if name == "skopeo" else real_which(name))
    outdir = tmp_path / "bundle"
    code, output = run(["-o", str(outdir), "--skip", "k3s", "--skip", "toolkit", *upstream.extra_vars()])
    assert code == 0, output
    text = (outdir / VARS_FILE).read_text()
    assert "# nvidia_device_plugin_image_src: not set: skopeo is not installed; run:" in text
    assert f"skopeo --override-os linux --override-arch amd64 copy docker://nvcr.io/nvidia/k8s-device-plugin:" \
           f"{CHART_VERSION}-fake" in text  # the tag is the chart entry's appVersion
    assert "nvidia_device_plugin_image_src" not in yaml.safe_load(text)


@needs_gpg
def test_tampered_package_is_refused_and_the_index_not_copied(upstream: Upstream, tmp_path: Path) -> None:
    deb = upstream.root / "toolkit" / "deb" / "amd64" / f"nvidia-container-toolkit-base_{TOOLKIT_VERSION}_amd64.deb"
    deb.write_bytes(b"tampered package")
    outdir = tmp_path / "bundle"
    code, output = run(["-o", str(outdir), "--skip", "k3s", "--skip", "chart", "--skip", "image",
                        *upstream.extra_vars()])
    assert code == 1
    assert deb.name in output and f"got {sha(b'tampered package')}" in output
    repo = outdir / "toolkit" / "deb" / "amd64"
    assert not (repo / deb.name).exists() and not (repo / "InRelease").exists()
    assert leftovers(outdir) == []


DOUBLES = Path(__file__).parent / "doubles" / "skopeo"


def test_with_skopeo_the_image_archive_and_its_sum_are_written(upstream: Upstream, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"{DOUBLES}{os.pathsep}{os.environ['PATH']}")
    outdir = tmp_path / "bundle"
    code, output = run(["-o", str(outdir), "--skip", "k3s", "--skip", "toolkit", "--arch", "arm64",
                        "-e", "nvidia_device_plugin_image_repository=registry.internal:5000/nvidia/k8s-device-plugin",
                        *upstream.extra_vars()])
    assert code == 0, output
    data = yaml.safe_load((outdir / VARS_FILE).read_text())
    archive = Path(data["nvidia_device_plugin_image_src"])
    assert archive == outdir.resolve() / "images" / "arm64" / f"k8s-device-plugin-{CHART_VERSION}-fake.tar"
    assert data["nvidia_device_plugin_image_checksum"] == f"sha256:{sha(archive.read_bytes())}"
    # What the double recorded: the platform and the reference the chart will ask for.
    assert b"linux/arm64 registry.internal:5000/nvidia/k8s-device-plugin:" in archive.read_bytes()
    assert leftovers(outdir) == []


def test_a_failing_skopeo_stops_and_leaves_no_archive(upstream: Upstream, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"{DOUBLES}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SKOPEO_FAIL", "1")
    outdir = tmp_path / "bundle"
    code, output = run(["-o", str(outdir), "--skip", "k3s", "--skip", "toolkit", *upstream.extra_vars()])
    assert code == 1
    assert "skopeo copy" in output and "manifest unknown" in output
    assert [p for p in (outdir / "images").rglob("*") if p.is_file()] == []
    assert not (outdir / VARS_FILE).exists()


def test_the_k3s_role_installs_what_the_bundle_fetched(run_play: Callable[..., subprocess.CompletedProcess[str]], upstream: Upstream,
                                                       tmp_path: Path) -> None:
    """The vars file as the roles read it: the k3s role's controller-side check (binary against its
    line in k3s_checksum_src, images archive against its line) passes and both are installed."""
    from test_airgap_checksums import K3S_PLAYBOOK, k3s_host, recap, run_playbook

    outdir = tmp_path / "bundle"
    code, output = run(["-o", str(outdir), "--skip", "chart", "--skip", "toolkit", "--skip", "image",
                        *upstream.extra_vars()])
    assert code == 0, output
    host = k3s_host(tmp_path)
    Path(host["k3s_install_dir"]).mkdir(parents=True)
    result = run_playbook(run_play, K3S_PLAYBOOK, {"node": host}, "-e", f"@{outdir / VARS_FILE}",
                          k3s_arch="amd64")
    assert result.returncode == 0, result.stdout + result.stderr
    assert recap(result, "node")["failed"] == 0
    assert (Path(host["k3s_install_dir"]) / "k3s").read_bytes() == K3S_DOUBLE.read_bytes()
    images = Path(host["k3s_data_dir"]) / "agent" / "images" / "k3s-airgap-images-amd64.tar.zst"
    assert images.read_bytes() == (upstream.k3s_dir() / "k3s-airgap-images-amd64.tar.zst").read_bytes()


def test_the_device_plugin_role_accepts_the_bundled_chart(run_play: Callable[..., subprocess.CompletedProcess[str]], upstream: Upstream,
                                                          tmp_path: Path) -> None:
    """The chart path and sha256 the vars file carries pass the role's controller-side check."""
    from test_airgap_checksums import CHART_PLAYBOOK, run_playbook

    outdir = tmp_path / "bundle"
    code, output = run(["-o", str(outdir), "--skip", "k3s", "--skip", "toolkit", "--skip", "image",
                        *upstream.extra_vars()])
    assert code == 0, output
    play = tmp_path / "play"
    result = run_playbook(run_play, CHART_PLAYBOOK, {"server": {}}, "-e", f"@{outdir / VARS_FILE}",
                          nvidia_device_plugin_static_dir=str(play / "static"),
                          nvidia_device_plugin_manifest_dir=str(play / "manifests"), nvidia_device_plugin_wait="false")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stdout  # the sum was given, so no "copied unverified" warning
    served = list((play / "static").rglob(f"{CHART}-{CHART_VERSION}.tgz"))
    assert served and served[0].read_bytes() == (upstream.root / "charts" / f"{CHART}-{CHART_VERSION}.tgz").read_bytes()


@pytest.mark.parametrize("filename", ["../evil.deb", "/etc/passwd", "./a/../../evil.deb", "."])
def test_a_package_path_leaving_the_repository_is_refused(filename: str) -> None:
    from openshell_auto.apt_repo import safe_filename
    from openshell_auto.errors import FetchError

    with pytest.raises(FetchError, match="leaves the repository directory"):
        safe_filename(filename, "http://mirror/deb/amd64")
    assert str(safe_filename("./pool/x.deb", "here")) == "pool/x.deb"


@needs_gpg
def test_toolkit_key_checksum_is_enforced_and_mirror_url_left_commented(upstream: Upstream, tmp_path: Path) -> None:
    outdir = tmp_path / "bundle"
    base = ["-o", str(outdir), "--skip", "k3s", "--skip", "chart", "--skip", "image", *upstream.extra_vars()]
    code, output = run([*base, "-e", f"nvidia_container_toolkit_gpg_key_checksum=sha256:{'ab' * 32}"])
    assert code == 1
    assert "toolkit signing key gpgkey" in output and f"expected {'ab' * 32}" in output
    assert not (outdir / "toolkit" / "gpgkey").exists()
    key_sum = sha((upstream.root / "toolkit" / "gpgkey").read_bytes())
    code, output = run([*base, "-e", f"nvidia_container_toolkit_gpg_key_checksum=sha256:{key_sum}"])
    assert code == 0, output
    text = (outdir / VARS_FILE).read_text()
    assert "# nvidia_container_toolkit_repo_base_url: not set: serve" in text
    assert "nvidia_container_toolkit_repo_base_url" not in yaml.safe_load(text)


def test_a_chart_entry_whose_app_version_is_no_image_tag_is_refused(upstream: Upstream, tmp_path: Path) -> None:
    """The appVersion names the image archive inside DIR: a hostile index cannot make it leave DIR."""
    index_file = upstream.root / "charts" / "index.yaml"
    index = yaml.safe_load(index_file.read_text())
    index["entries"][CHART][1]["appVersion"] = "../../../../escaped"
    index_file.write_text(yaml.safe_dump(index))
    outdir = tmp_path / "bundle"
    code, output = run(["-o", str(outdir), "--skip", "k3s", "--skip", "toolkit", *upstream.extra_vars()])
    assert code == 1, output
    assert "is no image tag" in output
    assert not list(tmp_path.rglob("escaped*"))
