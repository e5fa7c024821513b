"""A plain (non-editable) wheel carries the Ansible content, so an installed openshell-auto finds
its roles and playbooks from any directory."""

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
PLUGINS = ("gpu_sandbox/filter_plugins/openshell_sandbox.py", "openshell_verify/filter_plugins/openshell_verify.py",
           "openshell_doctor/filter_plugins/openshell_doctor.py", "nvidia_cdi/filter_plugins/nvidia_cdi.py",
           "k3s/filter_plugins/k3s_containerd.py", "k3s/filter_plugins/k3s_release.py",
           "k3s/filter_plugins/k3s_selinux.py")
# Loads each filter plugin file the way Ansible does (by path, not as a package module), calls the
# filters that go through openshell_auto.ansible_glue, and says where openshell_auto came from.
LOAD_PLUGINS = """
import importlib.util, json, sys
from pathlib import Path
roles, nodes = Path(sys.argv[1]), Path(sys.argv[2]).read_text()
filters, packages, clean_path = {}, set(), list(sys.path)
for rel in sys.argv[3:]:  # each plugin on its own: no plugin may lean on another's sys.path entry
    sys.path[:] = clean_path
    for name in [m for m in sys.modules if m == "openshell_auto" or m.startswith("openshell_auto.")]:
        del sys.modules[name]
    spec = importlib.util.spec_from_file_location("plugin_" + Path(rel).stem, roles / rel)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    filters.update(module.FilterModule().filters())
    if "openshell_auto" in sys.modules:  # nvidia_cdi imports it only when its filter runs
        packages.add(sys.modules["openshell_auto"].__file__)
print(json.dumps({
    "packages": sorted(packages),
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


def _load_plugins(roles: Path, cwd: Path, env: dict[str, str], *python_flags: str) -> dict[str, object]:
    run = subprocess.run([sys.executable, *python_flags, "-c", LOAD_PLUGINS, str(roles), str(NODES), *PLUGINS],
                         cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    result: dict[str, object] = json.loads(run.stdout)
    assert result["render"] == ["default/box"]
    assert result["ready"] == [True, True]
    assert result["cdi"] is True
    assert {"openshell_sandbox_render", "openshell_verify_smoke_pod", "openshell_doctor_nodes",
            "nvidia_cdi_problems", "k3s_version_problem", "k3s_selinux_plan"} <= set(result["filters"])  # type: ignore[arg-type]
    return result


def test_wheel_ships_roles_playbooks_inventories_and_config(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in ("openshell_auto/cli.py",
                     "openshell_auto/_data/ansible.cfg",
                     "openshell_auto/_data/playbooks/site.yml",
                     "openshell_auto/_data/inventories/example/hosts.yml",
                     "openshell_auto/_data/roles/openshell/defaults/main.yml",
                     "openshell_auto/_data/roles/gpu_sandbox/filter_plugins/openshell_sandbox.py"):
        assert required in names, required
    roles = {n.split("/")[3] for n in names if n.startswith("openshell_auto/_data/roles/")}
    assert roles == {p.name for p in (ROOT / "roles").iterdir() if p.is_dir()}
    assert not any("/tests/doubles/" in n or n.startswith("tests/") for n in names), "test doubles must not ship"


def test_filter_plugins_import_in_the_installed_wheel_layout(wheel: Path, tmp_path: Path) -> None:
    """Installed: the plugins under openshell_auto/_data/roles/ use the installed package."""
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, timeout=300, capture_output=True)
    env = {**os.environ, "PYTHONPATH": str(target)}  # before the venv's editable checkout
    result = _load_plugins(target / "openshell_auto" / "_data" / "roles", tmp_path, env)
    assert [Path(p).is_relative_to(target) for p in result["packages"]] == [True], result["packages"]


def test_filter_plugins_find_the_package_in_a_checkout_without_install(tmp_path: Path) -> None:
    """`ansible-playbook` from a checkout, openshell_auto not installed: each plugin's fallback adds
    the checkout root. The interpreter sees ansible and the other dependencies, not openshell_auto."""
    deps = tmp_path / "deps"
    deps.mkdir()
    for entry in Path(site.getsitepackages()[0]).iterdir():
        if not entry.name.startswith(("openshell_auto", "_editable_impl_openshell_auto", "__editable__")):
            (deps / entry.name).symlink_to(entry)
    env = {**os.environ, "PYTHONPATH": str(deps)}
    result = _load_plugins(ROOT / "roles", tmp_path, env, "-S")  # -S: no site-packages, no .pth
    assert result["packages"] == [str(ROOT / "openshell_auto" / "__init__.py")]
