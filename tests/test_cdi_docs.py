"""docs/readme-toolkit.md carries the variable tables of nvidia_container_toolkit and nvidia_cdi
exactly as scripts/role-docs generates them from meta/argument_specs.yml (no option undocumented)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
ROLES = ["nvidia_container_toolkit", "nvidia_cdi"]


def test_readme_toolkit_tables_match_argument_specs() -> None:
    generated = subprocess.run([sys.executable, str(ROOT / "scripts" / "role-docs"), *ROLES],
                               capture_output=True, text=True, check=True).stdout
    doc = (ROOT / "docs" / "readme-toolkit.md").read_text()
    begin = doc.index("<!-- BEGIN generated: scripts/role-docs nvidia_container_toolkit nvidia_cdi -->\n")
    end = doc.index("<!-- END generated -->")
    block = doc[begin:end].split("\n", 1)[1]
    assert block == generated, "docs/readme-toolkit.md is stale: rerun scripts/role-docs " + " ".join(ROLES)
    for role in ROLES:
        options = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
        for name in options["argument_specs"]["main"]["options"]:
            assert f"| `{name}` |" in block, name


def test_role_docs_rejects_unknown_role() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "role-docs"), "no_such_role"],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "no_such_role" in result.stderr
