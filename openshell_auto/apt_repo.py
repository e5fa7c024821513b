"""A flat apt repository as NVIDIA publishes the toolkit (`<base>/deb/<arch>/` holding InRelease,
Release, Release.gpg, Packages[.gz|.xz] and the .deb files, listed as `Filename: ./<name>.deb`),
read the way apt checks it: the Release file's OpenPGP signature (gpgv, against the key given),
the index files' SHA256 from the signed Release, each .deb's SHA256 from the index.

Formats: Debian's repository format (wiki.debian.org/DebianRepository/Format: "Flat Repository
Format"; Packages stanzas in RFC 822 style
with `Package`, `Version`, `Filename`, `SHA256`, `Depends`; Release `SHA512:`/`SHA256:` lines
`<hash> <size> <path>`)."""

from __future__ import annotations

import gzip
import importlib.util
import lzma
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ansible_collections.openshell_auto.cluster.plugins.module_utils.checksum import sha256_hex
from openshell_auto.errors import FetchError

# Index files apt may ask for, in the order this module reads them.
PACKAGES_NAMES = ("Packages", "Packages.gz", "Packages.xz")


def stanzas(text: str) -> list[dict[str, str]]:
    """Paragraphs of a deb822 file (Release, Packages): field -> value, continuation lines joined
    with newlines."""
    result: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last = ""
    for line in text.splitlines():
        if not line.strip():
            if current:
                result.append(current)
            current, last = {}, ""
        elif line[0] in " \t" and last:
            current[last] += "\n" + line.strip()
        elif ":" in line:
            key, _, value = line.partition(":")
            last = key.strip()
            current[last] = value.strip()
    if current:
        result.append(current)
    return result


# Release hash fields apt accepts, strongest first. NVIDIA's Release lists SHA512 only
# (NVIDIA/libnvidia-container gh-pages stable/deb/amd64/InRelease), Debian's SHA256 and SHA512.
RELEASE_HASHES = (("SHA512", "sha512", 128), ("SHA256", "sha256", 64))


def release_hashes(release_text: str) -> dict[str, tuple[str, str, int]]:
    """Path -> (hashlib algorithm, hex digest, size) from a Release file's strongest hash field."""
    paragraphs = stanzas(release_text)
    first = paragraphs[0] if paragraphs else {}
    for field_name, algorithm, length in RELEASE_HASHES:
        sums: dict[str, tuple[str, str, int]] = {}
        for line in first.get(field_name, "").splitlines():
            parts = line.split()
            if (len(parts) == 3 and len(parts[0]) == length and re.fullmatch(r"[0-9a-fA-F]+", parts[0])
                    and parts[1].isdigit()):
                sums[parts[2]] = (algorithm, parts[0].lower(), int(parts[1]))
        if sums:
            return sums
    return {}


def packages_text(name: str, data: bytes) -> str:
    """An index file's text, decompressed by its name."""
    if name.endswith(".gz"):
        data = gzip.decompress(data)
    elif name.endswith(".xz"):
        data = lzma.decompress(data)
    return data.decode("utf-8")


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    filename: str
    sha256: str
    depends: tuple[str, ...]


def _depends(value: str) -> tuple[str, ...]:
    """Package names of a Depends field; of alternatives (a | b) the first, as apt tries it first."""
    names = []
    for clause in value.split(","):
        first = clause.split("|")[0].strip()
        name = re.split(r"[\s(:]", first, maxsplit=1)[0]
        if name:
            names.append(name)
    return tuple(names)


def safe_filename(value: str, where: str) -> PurePosixPath:
    """A Packages `Filename` as a relative path below the repository directory (hostile input)."""
    path = PurePosixPath(value)
    parts = [p for p in path.parts if p not in (".", "")]
    if not parts or path.is_absolute() or ".." in parts or any("\\" in p or "\0" in p for p in parts):
        raise FetchError(f"{where}: Filename '{value[:120]}' leaves the repository directory; refusing it")
    return PurePosixPath(*parts)


def parse_packages(text: str) -> list[Package]:
    packages = []
    for stanza in stanzas(text):
        if {"Package", "Version", "Filename", "SHA256"} <= set(stanza) and sha256_hex(stanza["SHA256"], prefix=False):
            packages.append(Package(stanza["Package"], stanza["Version"], stanza["Filename"],
                                    stanza["SHA256"].lower(), _depends(stanza.get("Depends", ""))))
    return packages


def closure(packages: list[Package], name: str, version: str, where: str) -> list[Package]:
    """`name` at `version` and every package it Depends on that this repository holds (same
    version as the pinned one when the repository has it, else the last one listed). Packages the
    repository does not hold come from the host's own distribution."""
    by_name: dict[str, list[Package]] = {}
    for package in packages:
        by_name.setdefault(package.name, []).append(package)
    chosen = [p for p in by_name.get(name, []) if p.version == version]
    if not chosen:
        have = ", ".join(sorted({p.version for p in by_name.get(name, [])})[-5:]) or "none"
        raise FetchError(f"{where}: no {name} {version} in the repository index (versions there: {have}); "
                         "check nvidia_container_toolkit_version")
    result: dict[str, Package] = {}
    todo = [chosen[0]]
    while todo:
        package = todo.pop()
        if package.name in result:
            continue
        result[package.name] = package
        for dep in package.depends:
            candidates = by_name.get(dep, [])
            if candidates and dep not in result:
                same = [c for c in candidates if c.version == version]
                todo.append(same[0] if same else candidates[-1])
    return list(result.values())


def dearmor(data: bytes) -> bytes:
    """The key as a binary keyring: the role's own dearmor (roles/nvidia_container_toolkit/files)."""
    from openshell_auto import paths

    if b"-----BEGIN PGP PUBLIC KEY BLOCK" not in data:
        return data  # already a binary key
    script = paths.content().roles / "nvidia_container_toolkit" / "files" / "dearmor.py"
    spec = importlib.util.spec_from_file_location("_openshell_dearmor", script)
    if spec is None or spec.loader is None:
        raise FetchError(f"{script}: cannot be loaded; reinstall openshell-auto")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        return bytes(module.dearmor(data))
    except ValueError as exc:
        raise FetchError(f"the toolkit signing key is not an OpenPGP key ({exc}); check "
                         "nvidia_container_toolkit_gpg_key_url") from exc


def verified_release(key: bytes, inrelease: bytes | None, release: bytes | None, release_gpg: bytes | None,
                     where: str) -> str:
    """The Release text whose signature gpgv verified against `key` (the signed data gpgv writes
    out, not the file as given). Raises FetchError when gpgv is missing or the signature is bad."""
    gpgv = shutil.which("gpgv")
    if gpgv is None:
        raise FetchError("gpgv is not installed: the toolkit repository's signature cannot be checked; install "
                         "gpgv (Debian/Ubuntu: apt-get install gpgv; RHEL: dnf install gnupg2) and run again")
    with tempfile.TemporaryDirectory(prefix="openshell-gpgv-") as tmp:
        tmpdir = Path(tmp)
        keyring = tmpdir / "keyring.gpg"
        keyring.write_bytes(dearmor(key))
        out = tmpdir / "Release.out"
        if inrelease is not None:
            (tmpdir / "InRelease").write_bytes(inrelease)
            argv = [gpgv, "--quiet", "--keyring", str(keyring), "--output", str(out), str(tmpdir / "InRelease")]
        elif release is not None and release_gpg is not None:
            (tmpdir / "Release").write_bytes(release)
            (tmpdir / "Release.gpg").write_bytes(release_gpg)
            argv = [gpgv, "--quiet", "--keyring", str(keyring), str(tmpdir / "Release.gpg"), str(tmpdir / "Release")]
            out = tmpdir / "Release"
        else:
            raise FetchError(f"{where}: neither InRelease nor Release with Release.gpg; this is no signed apt "
                             "repository (check nvidia_container_toolkit_repo_base_url)")
        done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60,
                              env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"})
        if done.returncode != 0:
            detail = " ".join(done.stderr.split())[:300]
            raise FetchError(f"{where}: the Release signature does not verify against the toolkit key ({detail}); "
                             "nothing from this repository was kept")
        return out.read_text(encoding="utf-8")
