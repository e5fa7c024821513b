"""A plain (non-editable) wheel carries the Ansible content, so an installed openshell-auto finds
its roles and playbooks from any directory."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_ships_roles_playbooks_inventories_and_config(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
                   check=True, timeout=300, capture_output=True)
    wheel = next(tmp_path.glob("openshell_auto-*.whl"))
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
