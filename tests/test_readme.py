"""README.md stays true: variable tables current, every role option documented, the two
commands present and the test command the one .ci/run runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _generated_block() -> str:
    begin = README.index("<!-- BEGIN generated: scripts/role-docs -->\n")
    end = README.index("<!-- END generated -->", begin)
    return README[begin:end].split("\n", 1)[1]


def test_variable_tables_match_argument_specs() -> None:
    generated = subprocess.run([sys.executable, str(ROOT / "scripts" / "role-docs"), "--all"],
                               capture_output=True, text=True, check=True).stdout
    assert _generated_block().strip() == generated.strip(), \
        "README.md variable tables are stale: run scripts/role-docs --update-readme"


def test_every_role_option_is_documented() -> None:
    block = _generated_block()
    specs = sorted(ROOT.glob("roles/*/meta/argument_specs.yml"))
    assert len(specs) >= 8
    for path in specs:
        role = path.parent.parent.name
        assert f"### Role `{role}`" in block, role
        options = yaml.safe_load(path.read_text())["argument_specs"]["main"].get("options", {})
        for name in options:
            assert f"| `{name}` |" in block, f"{role}: {name} missing from README"


def test_every_role_has_argument_specs_and_meta() -> None:
    for role in sorted(p for p in (ROOT / "roles").iterdir() if p.is_dir()):
        assert (role / "meta" / "argument_specs.yml").is_file(), role.name
        assert (role / "meta" / "main.yml").is_file(), role.name


def test_the_two_commands_and_ci() -> None:
    assert "bash scripts/setup && .venv/bin/openshell-auto render" in README
    assert "bash scripts/setup --test && bash scripts/test" in README
    ci = (ROOT / ".ci" / "run").read_text()
    assert "bash scripts/setup --test" in ci and "bash scripts/test" in ci
    test_script = (ROOT / "scripts" / "test").read_text()
    assert "rc -eq 5" in test_script, "pytest's exit 5 (no tests) must fail the run"
