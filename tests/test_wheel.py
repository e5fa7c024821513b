"""A plain (non-editable) wheel installs the Ansible collection openshell_auto.cluster beside the
CLI (site-packages/ansible_collections/openshell_auto/cluster), so an installed openshell-auto finds
its roles and playbooks from any directory, and the filters import the collection's module_utils by
name: no path hacks, one copy of each file."""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COLLECTION = "ansible_collections/openshell_auto/cluster"
PLUGINS = ("openshell_sandbox", "openshell_verify", "openshell_doctor", "nvidia_cdi", "k3s_containerd", "k3s_release",
           "k3s_selinux", "k3s_paths", "openshell_hosts", "nvidia_device_plugin", "openshell_nodes")
# Imports each filter plugin by its collection name (what ansible-core's collection loader does),
# calls filters that reach module_utils, and says where the collection and the CLI came from.
LOAD_PLUGINS = """
import importlib, json, sys
from pathlib import Path
nodes = Path(sys.argv[1]).read_text()
filters, files = {}, set()
for name in sys.argv[2:]:
    module = importlib.import_module("ansible_collections.openshell_auto.cluster.plugins.filter." + name)
    filters.update(module.FilterModule().filters())
    files.add(module.__file__)
from ansible_collections.openshell_auto.cluster.plugins.module_utils import cdi
from openshell_auto import paths
print(json.dumps({
    "files": sorted(files) + [cdi.__file__],
    "content": str(paths.content().root),
    "filters": sorted(filters),
    "render": filters["openshell_sandbox_render"]([{"name": "box", "image": "busybox:1", "gpus": 1}])["gpu_names"],
    "ready": [filters["openshell_gpu_readiness"](nodes)["ready"], filters["openshell_verify_readiness"](nodes)["ready"]],
    "cdi": filters["k3s_containerd_cdi_enabled"]('version = 2\\n[plugins."io.containerd.grpc.v1.cri"]\\n  enable_cdi = true\\n'),
}))
"""
NODES = ROOT / "tests" / "data" / "nodes" / "gpu-on-one-of-three.json"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
                   check=True, timeout=300, capture_output=True)
    return next(out.glob("openshell_auto-*.whl"))


def _dependencies_without_openshell_auto(tmp_path: Path) -> Path:
    """The venv's site-packages (ansible-core, PyYAML, ...) minus openshell-auto's editable install,
    whose .pth would put the checkout (and its ansible_collections link) on sys.path."""
    deps = tmp_path / "deps"
    deps.mkdir()
    for entry in Path(site.getsitepackages()[0]).iterdir():
        if not entry.name.startswith(("openshell_auto", "_editable_impl_openshell_auto", "__editable__")):
            (deps / entry.name).symlink_to(entry)
    return deps


def _load_plugins(cwd: Path, env: dict[str, str]) -> dict[str, object]:
    run = subprocess.run([sys.executable, "-S", "-c", LOAD_PLUGINS, str(NODES), *PLUGINS],  # -S: no .pth
                         cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    result: dict[str, object] = json.loads(run.stdout)
    assert result["render"] == ["default/box"]
    assert result["ready"] == [True, True]
    assert result["cdi"] is True
    assert {"openshell_sandbox_render", "openshell_verify_smoke_pod", "openshell_doctor_nodes",
            "nvidia_cdi_problems", "k3s_version_problem", "k3s_selinux_plan"} <= set(result["filters"])  # type: ignore[arg-type]
    return result


def test_wheel_ships_the_collection_beside_the_cli(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in ("openshell_auto/cli.py",
                     f"{COLLECTION}/galaxy.yml",
                     f"{COLLECTION}/meta/runtime.yml",
                     f"{COLLECTION}/ansible.cfg",
                     f"{COLLECTION}/playbooks/site.yml",
                     f"{COLLECTION}/inventories/example/hosts.yml",
                     f"{COLLECTION}/roles/openshell/defaults/main.yml",
                     f"{COLLECTION}/plugins/filter/openshell_sandbox.py",
                     f"{COLLECTION}/plugins/module_utils/cdi.py"):
        assert required in names, required
    roles = {n.split("/")[4] for n in names if n.startswith(f"{COLLECTION}/roles/")}
    assert roles == {p.name for p in (ROOT / "roles").iterdir() if p.is_dir()}
    with zipfile.ZipFile(wheel) as archive:
        shared = {archive.read(n) for n in names if n.startswith(f"{COLLECTION}/plugins/module_utils/")}
        cli = {archive.read(n) for n in names if n.startswith("openshell_auto/")}
    assert shared and not shared & cli, "a module_utils file also ships inside the CLI package"
    assert not any("/filter_plugins/" in n for n in names), "filters live in plugins/filter/ only"
    assert not any("/tests/doubles/" in n or n.startswith("tests/") for n in names), "test doubles must not ship"
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)


def test_editable_install_carries_no_copy_of_the_collection(tmp_path: Path) -> None:
    """hatchling copies a wheel target's force-include into editable wheels too; hatch_build.py adds
    the collection to regular wheels only. A frozen copy in site-packages would come before the
    checkout on sys.path (and, sorted by path, in ansible-galaxy's listing) and serve stale roles.
    pip --python installs into a bare venv, so the test's own environment is left alone."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--no-deps",
                    "-q", "-e", str(ROOT)], check=True, timeout=300, capture_output=True)
    installed = [p.relative_to(venv).as_posix() for p in (venv / "lib").rglob("*")]
    pth = [p for p in installed if p.endswith("/_editable_impl_openshell_auto.pth")]
    assert pth, installed
    assert str(ROOT) in (venv / pth[0]).read_text().splitlines()
    assert not [p for p in installed if "ansible_collections" in p], installed


def test_filters_and_cli_use_the_installed_collection(wheel: Path, tmp_path: Path) -> None:
    """Installed: the filters import module_utils by the collection's name, and the CLI's content
    root is the collection the wheel installed. Nothing comes from the checkout."""
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, timeout=300, capture_output=True)
    deps = _dependencies_without_openshell_auto(tmp_path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), str(deps)])}
    result = _load_plugins(tmp_path, env)
    files = [Path(p) for p in result["files"]]  # type: ignore[union-attr]
    assert files and all(p.is_relative_to(target / COLLECTION) for p in files), files
    assert result["content"] == str(target / COLLECTION)


def test_filters_and_cli_use_the_checkout_through_its_collection_link(tmp_path: Path) -> None:
    """A checkout on PYTHONPATH (what the editable install's .pth does): ansible_collections/
    openshell_auto/cluster links to the root, so the same files serve the CLI and the filters."""
    deps = _dependencies_without_openshell_auto(tmp_path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(deps)])}
    result = _load_plugins(tmp_path, env)
    files = [Path(p).resolve() for p in result["files"]]  # type: ignore[union-attr]
    assert files and all(p.is_relative_to(ROOT / "plugins") for p in files), files
    assert result["content"] == str(ROOT)
