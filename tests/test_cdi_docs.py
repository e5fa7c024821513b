"""scripts/role-docs (README variable tables, checked in tests/test_readme.py) refuses unknown roles."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]


def test_role_docs_rejects_unknown_role() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "role-docs"), "no_such_role"],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "no_such_role" in result.stderr
