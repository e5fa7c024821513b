"""Output meant for people and for pipes: --version, render --json, shell completion."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from openshell_auto import paths

CLI = [sys.executable, "-m", "openshell_auto"]


def test_version_names_package_ansible_core_and_content() -> None:
    out = subprocess.run([*CLI, "--version"], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out == [f"openshell-auto {version('openshell-auto')}", f"ansible-core {version('ansible-core')}",
                   f"content {paths.content().root}"]


def test_render_json_lists_every_written_file(tmp_path: Path) -> None:
    run = subprocess.run([*CLI, "render", "-o", str(tmp_path / "out"), "--json"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    assert doc["inventory"] == str(paths.content().example_inventory)
    written = [Path(f["path"]) for h in doc["hosts"] for f in h["files"]]
    assert doc["file_count"] == len(written) > 0 and all(p.is_file() for p in written)
    for host in doc["hosts"]:
        for entry in host["files"]:
            assert entry["path"] == str(tmp_path / "out" / host["host"] / entry["dest"].lstrip("/"))


def test_bash_completion_completes_commands() -> None:
    env = {**os.environ, "_OPENSHELL_AUTO_COMPLETE": "bash_complete", "COMP_WORDS": "openshell-auto pro",
           "COMP_CWORD": "1"}
    script = Path(sys.executable).parent / "openshell-auto"
    run = subprocess.run([str(script)], env=env, capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr
    assert "plain,provision" in run.stdout.splitlines(), run.stdout
