"""`openshell-auto bundle`: fetch every air-gap input at the versions the roles pin, check every
sum, and write the vars file an air-gapped run takes (`-e @DIR/openshell-airgap.yml`).

Versions and URLs are the role defaults (specs.py), overridden by -e as provision takes them, so
a mirror (or a test server) can stand in for upstream. Layout of DIR:

    k3s/<arch>/{k3s|k3s-arm64, sha256sum-<arch>.txt, k3s-airgap-images-<arch>.tar.zst}
    chart/<chart file from the repository index>
    toolkit/gpgkey, toolkit/deb/<arch>/{InRelease|Release+Release.gpg, Packages*, *.deb}
    images/<arch>/k8s-device-plugin-<tag>.tar        (only when skopeo is installed)
    openshell-airgap.yml  (+ k3s-<arch>.yml per architecture when several are bundled)
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ansible_collections.openshell_auto.cluster.plugins.module_utils.airgap import sums_line
from ansible_collections.openshell_auto.cluster.plugins.module_utils.checksum import checksum_problem, sha256_hex
from ansible_collections.openshell_auto.cluster.plugins.module_utils.k3s_release import k3s_version_problem
from openshell_auto import apt_repo
from openshell_auto.download import fetch_bytes, fetch_file, sha256_file, write_atomic
from openshell_auto.errors import FetchError, InputError
from openshell_auto.inventory_checks import is_template
from openshell_auto.specs import load_specs

VARS_FILE = "openshell-airgap.yml"
# k3s release assets per architecture, as k3s-io/k3s install.sh (setup_verify_arch) names them and
# as roles/k3s/vars/main.yml (__k3s_asset) picks them; tests/test_bundle.py checks the two agree.
K3S_ASSETS = {"amd64": "k3s", "arm64": "k3s-arm64"}
ARCHES = tuple(K3S_ASSETS)
TOOLKIT_PACKAGE = "nvidia-container-toolkit-base"
# The plugin image the chart deploys unless nvidia_device_plugin_image_repository says otherwise
# (NVIDIA/k8s-device-plugin deployments/helm/nvidia-device-plugin/values.yaml image.repository;
# its tag is the chart's appVersion).
PLUGIN_IMAGE = "nvcr.io/nvidia/k8s-device-plugin"
SETTINGS = ("k3s_version", "k3s_release_url", "nvidia_device_plugin_chart_version", "nvidia_device_plugin_chart_repo",
            "nvidia_device_plugin_chart_name", "nvidia_device_plugin_image_repository",
            "nvidia_container_toolkit_version", "nvidia_container_toolkit_repo_base_url",
            "nvidia_container_toolkit_gpg_key_url", "nvidia_container_toolkit_gpg_key_checksum")


# Helm chart names (helm/helm pkg/chartutil: lower case, digits, dashes) and SemVer-like versions.
_CHART_NAME = re.compile(r"[a-z0-9]([-a-z0-9]{0,62}[a-z0-9])?")
_CHART_VERSION = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+-]{0,63}")
# An image tag (distribution/reference: [\w][\w.-]{0,127}).
_IMAGE_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


def arch_problem(value: str) -> str | None:
    if value in K3S_ASSETS:
        return None
    return f"--arch {value[:40]!r}: not supported; use one of {', '.join(ARCHES)} (repeat --arch for several)"


def settings(extra_vars: dict[str, Any]) -> dict[str, str]:
    """The role defaults the bundle needs, with -e values over them; every value checked."""
    defaults = load_specs().defaults
    values: dict[str, str] = {}
    problems = []
    for name in SETTINGS:
        value = extra_vars.get(name, defaults.get(name, ""))
        if not isinstance(value, (str, int, float)) or isinstance(value, bool) or is_template(value):
            problems.append(f"-e {name}: must be a plain string (no template), got {str(value)[:60]!r}")
            continue
        values[name] = str(value)
    for name in ("k3s_release_url", "nvidia_device_plugin_chart_repo", "nvidia_container_toolkit_repo_base_url",
                 "nvidia_container_toolkit_gpg_key_url"):
        parts = urllib.parse.urlsplit(values.get(name, ""))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            problems.append(f"-e {name}: {values.get(name, '')[:80]!r} is no http(s) URL; give the base URL")
    if values.get("k3s_version") is not None and (problem := k3s_version_problem(values["k3s_version"])):
        problems.append(f"-e k3s_version: {problem}")
    # They become file names inside DIR: nothing that could leave it or name a hidden file.
    if not _CHART_NAME.fullmatch(values.get("nvidia_device_plugin_chart_name", "")):
        problems.append("-e nvidia_device_plugin_chart_name: must be a Helm chart name (lower-case letters, "
                        "digits and '-')")
    if not _CHART_VERSION.fullmatch(values.get("nvidia_device_plugin_chart_version", "")):
        problems.append("-e nvidia_device_plugin_chart_version: must be a chart version such as 0.19.1 "
                        "(letters, digits, '.', '+', '-')")
    key_sum = values.get("nvidia_container_toolkit_gpg_key_checksum", "")
    if key_problem := checksum_problem(key_sum, "get_url"):
        problems.append(f"-e nvidia_container_toolkit_gpg_key_checksum: {key_problem}")
    elif key_sum and not sha256_hex(key_sum):  # the bundle hashes the key with sha256 (download.fetch_file)
        problems.append("-e nvidia_container_toolkit_gpg_key_checksum: bundle checks the key with sha256; give "
                        "sha256:<64 hex digits> (`sha256sum FILE` of a trusted copy) or leave it empty")
    if problems:
        raise InputError(problems)
    return values


@dataclass
class Bundle:
    """What was fetched: variables for the vars file(s), notes for the user."""

    outdir: Path
    common: dict[str, str] = field(default_factory=dict)
    per_arch: dict[str, dict[str, str]] = field(default_factory=dict)
    commented: dict[str, str] = field(default_factory=dict)  # variable -> why it is not set
    notes: list[str] = field(default_factory=list)


Say = Callable[[str], None]


def _join(base: str, *parts: str) -> str:
    return "/".join([base.rstrip("/"), *parts])


def fetch_k3s(values: dict[str, str], arch: str, bundle: Bundle, say: Say) -> None:
    """The k3s binary, its sums file and the images archive for one architecture, sums checked."""
    base = _join(values["k3s_release_url"], urllib.parse.quote(values["k3s_version"], safe=""))
    folder = bundle.outdir / "k3s" / arch
    sums_name = f"sha256sum-{arch}.txt"
    sums_data = fetch_bytes(_join(base, sums_name), limit=1 << 20)
    sums_text = sums_data.decode("utf-8", errors="replace")
    assets = {"k3s_binary_src": K3S_ASSETS[arch], "k3s_images_src": f"k3s-airgap-images-{arch}.tar.zst"}
    expected = {}
    for asset in assets.values():
        expected[asset] = sums_line(sums_text, asset)
        if not expected[asset]:
            raise FetchError(f"{_join(base, sums_name)} lists no sha256 for {asset}; the release does not carry it "
                             "(check k3s_version and k3s_release_url)")
    for asset in assets.values():
        wrote = fetch_file(_join(base, asset), folder / asset, expected[asset], f"k3s {arch}")
        say(f"k3s {arch}: {asset} {'fetched' if wrote else 'already present'}, sha256 {expected[asset]}")
    write_atomic(folder / sums_name, sums_data)
    bundle.per_arch.setdefault(arch, {}).update({
        "k3s_binary_src": str(folder / assets["k3s_binary_src"]),
        "k3s_checksum_src": str(folder / sums_name),
        "k3s_images_src": str(folder / assets["k3s_images_src"]),
    })


def fetch_chart(values: dict[str, str], bundle: Bundle, say: Say) -> str:
    """The device-plugin chart at the pinned version, checked against the repository index's digest
    (helm/helm pkg/repo index.go: ChartVersion.Digest, the archive's sha256). Returns its appVersion."""
    repo = values["nvidia_device_plugin_chart_repo"].rstrip("/") + "/"
    index_url = urllib.parse.urljoin(repo, "index.yaml")
    try:
        index = yaml.safe_load(fetch_bytes(index_url, limit=64 << 20))
    except yaml.YAMLError as exc:
        raise FetchError(f"{index_url}: not valid YAML ({exc}); is nvidia_device_plugin_chart_repo a Helm repository?") \
            from exc
    name, version = values["nvidia_device_plugin_chart_name"], values["nvidia_device_plugin_chart_version"]
    entries = (index or {}).get("entries", {}) if isinstance(index, dict) else {}
    versions = entries.get(name) if isinstance(entries, dict) else None
    entry = next((e for e in versions or [] if isinstance(e, dict) and str(e.get("version")) == version), None)
    if entry is None:
        raise FetchError(f"{index_url}: no chart {name} version {version}; check nvidia_device_plugin_chart_version")
    digest = str(entry.get("digest", ""))
    urls = entry.get("urls") or []
    if not sha256_hex(digest, prefix=False) or not urls or not isinstance(urls[0], str):
        raise FetchError(f"{index_url}: the entry of {name} {version} has no sha256 digest or no URL; refusing it")
    url = urllib.parse.urljoin(index_url, urls[0])
    filename = f"{name}-{version}.tgz"
    target = bundle.outdir / "chart" / filename
    wrote = fetch_file(url, target, digest, "chart")
    say(f"chart: {filename} {'fetched' if wrote else 'already present'}, sha256 {digest.lower()}")
    bundle.common["nvidia_device_plugin_chart_src"] = str(target)
    bundle.common["nvidia_device_plugin_chart_checksum"] = f"sha256:{digest.lower()}"
    tag = str(entry.get("appVersion") or f"v{version}")
    if not _IMAGE_TAG.fullmatch(tag) or ".." in tag:
        raise FetchError(f"{index_url}: the appVersion of {name} {version} ({tag[:80]!r}) is no image tag; refusing it")
    return tag


def fetch_toolkit_key(values: dict[str, str], bundle: Bundle, say: Say) -> bytes:
    url = values["nvidia_container_toolkit_gpg_key_url"]
    expected = sha256_hex(values["nvidia_container_toolkit_gpg_key_checksum"]) or None
    target = bundle.outdir / "toolkit" / "gpgkey"
    fetch_file(url, target, expected, "toolkit signing key")
    say(f"toolkit: signing key {target.name}, sha256 {sha256_file(target)}"
        + ("" if expected else " (no nvidia_container_toolkit_gpg_key_checksum set: compare it with NVIDIA's)"))
    bundle.common["nvidia_container_toolkit_gpg_key_src"] = str(target)
    return target.read_bytes()


def fetch_toolkit(values: dict[str, str], arch: str, key: bytes, bundle: Bundle, say: Say) -> None:
    """NVIDIA's signed index for `arch` unchanged, verified with gpgv, and the pinned package (with
    what it Depends on from the same repository), each hash checked along the signed chain."""
    base = _join(values["nvidia_container_toolkit_repo_base_url"], "deb", arch)
    folder = bundle.outdir / "toolkit" / "deb" / arch

    def optional(name: str) -> bytes | None:
        try:
            return fetch_bytes(_join(base, name))
        except FetchError as exc:
            if " HTTP 404 " in f" {exc} ":
                return None
            raise

    inrelease = optional("InRelease")
    release = release_gpg = None
    if inrelease is None:
        release, release_gpg = optional("Release"), optional("Release.gpg")
    release_text = apt_repo.verified_release(key, inrelease, release, release_gpg, base)
    sums = apt_repo.release_hashes(release_text)
    indices = [name for name in apt_repo.PACKAGES_NAMES if name in sums]
    if not indices:
        raise FetchError(f"{base}: the signed Release lists no Packages index; this is no flat apt repository")
    packages_data: dict[str, bytes] = {}
    for name in indices:
        data = fetch_bytes(_join(base, name))
        algorithm, expected, size = sums[name]
        actual = hashlib.new(algorithm, data).hexdigest()
        if actual != expected or len(data) != size:
            raise FetchError(f"toolkit index {name} from {_join(base, name)}: {algorithm} mismatch: expected {expected} "
                             f"({size} bytes, signed Release), got {actual} ({len(data)} bytes); nothing from this "
                             "repository was kept")
        packages_data[name] = data
    first = indices[0]
    packages = apt_repo.parse_packages(apt_repo.packages_text(first, packages_data[first]))
    wanted = apt_repo.closure(packages, TOOLKIT_PACKAGE, values["nvidia_container_toolkit_version"], base)
    for package in wanted:
        relative = apt_repo.safe_filename(package.filename, base)
        wrote = fetch_file(_join(base, *relative.parts), folder.joinpath(*relative.parts), package.sha256,
                           f"toolkit package ({arch})")
        say(f"toolkit {arch}: {relative} {'fetched' if wrote else 'already present'}, sha256 {package.sha256}")
    # The signed index last: a host only sees a repository once everything it lists is in place.
    for name, data in packages_data.items():
        write_atomic(folder / name, data)
    for name, optional_data in (("InRelease", inrelease), ("Release", release), ("Release.gpg", release_gpg)):
        if optional_data is not None:
            write_atomic(folder / name, optional_data)


def fetch_plugin_image(values: dict[str, str], tag: str, arch: str, bundle: Bundle, say: Say) -> None:
    """The plugin image as a docker-archive, through skopeo when it is installed (no registry client
    here); otherwise the command to run is printed and the variable left commented."""
    repository = values["nvidia_device_plugin_image_repository"] or PLUGIN_IMAGE
    reference = f"{repository}:{tag}"
    target = bundle.outdir / "images" / arch / f"k8s-device-plugin-{tag}.tar"
    # --override-os/--override-arch are global options, before the subcommand (containers/skopeo
    # docs/skopeo.1.md); docker-archive:<path>:<reference> names the image inside the archive.
    argv = ["skopeo", "--override-os", "linux", "--override-arch", arch, "copy",
            f"docker://{reference}", f"docker-archive:{target}:{reference}"]
    skopeo = shutil.which("skopeo")
    if skopeo is None:
        bundle.commented["nvidia_device_plugin_image_src"] = (
            f"skopeo is not installed; run: mkdir -p {target.parent} && {' '.join(argv)} "
            f"(or: docker pull --platform linux/{arch} {reference} && docker save -o {target} {reference}) "
            "and set this variable and nvidia_device_plugin_image_checksum to its path and sha256")
        say(f"plugin image {arch}: skipped (no skopeo); see the comment in {VARS_FILE}")
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.part")
    partial.unlink(missing_ok=True)
    argv[0] = skopeo
    argv[-1] = f"docker-archive:{partial}:{reference}"
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        raise FetchError(f"skopeo copy {reference} ({arch}) failed: {' '.join(done.stderr.split())[:300]}")
    partial.replace(target)
    digest = sha256_file(target)
    say(f"plugin image {arch}: {target.name}, sha256 {digest}")
    bundle.per_arch.setdefault(arch, {}).update({"nvidia_device_plugin_image_src": str(target),
                                                  "nvidia_device_plugin_image_checksum": f"sha256:{digest}"})


def vars_text(variables: dict[str, str], commented: dict[str, str], header: str) -> str:
    lines = ["---", *[f"# {line}".rstrip() for line in header.splitlines()]]
    for name, value in variables.items():
        lines.append(yaml.safe_dump({name: value}, default_flow_style=False, width=1000).rstrip())
    for name, why in commented.items():
        lines.append(f"# {name}: not set: {why}")
    return "\n".join(lines) + "\n"


def write_vars(bundle: Bundle, arches: Sequence[str], mirror_url: str | None) -> list[Path]:
    """DIR/openshell-airgap.yml (and DIR/k3s-<arch>.yml when several architectures were bundled)."""
    variables = dict(bundle.common)
    written = []
    if mirror_url:
        variables["nvidia_container_toolkit_repo_base_url"] = mirror_url.rstrip("/")
    elif "nvidia_container_toolkit_gpg_key_src" in variables:
        bundle.commented["nvidia_container_toolkit_repo_base_url"] = (
            f"serve {bundle.outdir / 'toolkit'} over HTTP inside your network and set this to its URL "
            "(or run bundle again with --toolkit-mirror-url URL)")
    if len(arches) == 1:
        variables.update(bundle.per_arch.get(arches[0], {}))
    else:
        for arch in arches:
            path = bundle.outdir / f"k3s-{arch}.yml"
            write_atomic(path, vars_text(bundle.per_arch.get(arch, {}), {}, (
                f"Air-gap inputs for {arch} hosts, written by openshell-auto bundle: put these in the group_vars\n"
                f"of a group holding the {arch} hosts (not in -e, which would win for every host).")).encode())
            written.append(path)
    header = ("Air-gap inputs written by `openshell-auto bundle`; every file was checked against its sum.\n"
              f"Use: openshell-auto provision -i INVENTORY -e @{bundle.outdir / VARS_FILE}")
    path = bundle.outdir / VARS_FILE
    write_atomic(path, vars_text(variables, bundle.commented, header).encode())
    return [path, *written]


def build(outdir: Path, arches: Sequence[str], extra_vars: dict[str, Any], *, mirror_url: str | None,
          skip: Sequence[str] = (), say: Say = print) -> tuple[Bundle, list[Path]]:
    """Fetch everything for `arches` into `outdir` (absolute), then write the vars file(s)."""
    problems = [p for a in arches if (p := arch_problem(a))]
    if not arches:
        problems.append("--arch: give at least one architecture (amd64, arm64)")
    if mirror_url and urllib.parse.urlsplit(mirror_url).scheme not in ("http", "https"):
        problems.append(f"--toolkit-mirror-url {mirror_url[:80]!r}: must be an http(s) URL")
    if problems:
        raise InputError(problems)
    values = settings(extra_vars)
    arches = list(dict.fromkeys(arches))
    bundle = Bundle(outdir=outdir.resolve())
    for arch in arches:
        if "k3s" not in skip:
            fetch_k3s(values, arch, bundle, say)
    tag = f"v{values['nvidia_device_plugin_chart_version']}"
    if "chart" not in skip:
        tag = fetch_chart(values, bundle, say)
    if "toolkit" not in skip:
        key = fetch_toolkit_key(values, bundle, say)
        for arch in arches:
            fetch_toolkit(values, arch, key, bundle, say)
    if "image" not in skip:
        for arch in arches:
            fetch_plugin_image(values, tag, arch, bundle, say)
    return bundle, write_vars(bundle, arches, mirror_url)
