"""execution-environment.yml (ansible-builder 3) installs the collection built from this checkout:
`ansible-builder create` writes a build context whose Containerfile installs ansible-core in the
range meta/runtime.yml declares and the collection tarball through requirements.yml. Building the
image itself needs the base image's registry (docs/collection.md)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from packaging.specifiers import SpecifierSet

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_ansible_builder_create_installs_the_collection_tarball(tmp_path: Path) -> None:
    galaxy = yaml.safe_load((REPO / "galaxy.yml").read_text())
    tarball = f"{galaxy['namespace']}-{galaxy['name']}-{galaxy['version']}.tar.gz"
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(tmp_path / "dist"),
                    str(REPO)], check=True, capture_output=True, timeout=300, cwd=tmp_path)
    assert (tmp_path / "dist" / tarball).is_file()
    shutil.copy(REPO / "execution-environment.yml", tmp_path)
    run = subprocess.run([str(BIN / "ansible-builder"), "create", "-f", "execution-environment.yml", "-c", "context"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    context = tmp_path / "context"
    # the tarball travels in the build context and requirements.yml installs it from there
    assert (context / "_build" / "collections" / tarball).read_bytes() == (tmp_path / "dist" / tarball).read_bytes()
    requirements = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    assert requirements["collections"] == [{"name": f"/build/collections/{tarball}", "type": "file"}]
    containerfile = (context / "Containerfile").read_text()
    assert "COPY _build /build" in containerfile
    assert 'ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml' in containerfile
    (refs,) = [line for line in containerfile.splitlines() if line.startswith("ARG ANSIBLE_INSTALL_REFS=")]
    (core,) = [ref for ref in refs.split("=", 1)[1].strip('"').split() if ref.startswith("ansible-core")]
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())
    assert SpecifierSet(core[len("ansible-core"):]) == SpecifierSet(runtime["requires_ansible"])
