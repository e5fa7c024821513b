"""README.md stays true: variable tables current, every role option documented, the two
commands present and the test command the one .ci/run runs."""

from __future__ import annotations

import shutil
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


def _readme_commands() -> list[str]:
    """The shell lines of the README's "The two commands" section, in the order it gives them."""
    section = README.split("## The two commands", 1)[1].split("\n## ", 1)[0]
    return [line.strip() for block in section.split("```sh")[1:]
            for line in block.split("```", 1)[0].strip().splitlines()]


def test_the_two_commands_pass_in_order(tmp_path: Path) -> None:
    """Command 1 (render into ./render) must not break command 2 (the test run lints the tree).

    The set-up halves (`bash scripts/setup ...`) are what this venv already did; the rest runs
    as written in a copy of the working tree: render with the package's CLI, then the test
    script's lint step, which must not see the rendered files."""
    first, second = _readme_commands()
    assert first == "bash scripts/setup && .venv/bin/openshell-auto render"
    assert second == "bash scripts/setup --test && bash scripts/test"
    assert (ROOT / ".ci" / "run").read_text().splitlines()[-2:] == \
        ["bash scripts/setup --test", "bash scripts/test"], ".ci/run must run the README's test command"

    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split("\0")
    copy = tmp_path / "checkout"
    for name in filter(None, tracked):
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    render = subprocess.run([sys.executable, "-m", "openshell_auto", "render"], cwd=copy,
                            capture_output=True, text=True, timeout=120)
    assert render.returncode == 0, render.stdout + render.stderr
    assert any((copy / "render").rglob("config.yaml")), "render wrote no k3s config.yaml"

    yamllint = shutil.which("yamllint", path=str(Path(sys.executable).parent)) or "yamllint"
    lint = subprocess.run([yamllint, "--strict", "."], cwd=copy, capture_output=True, text=True, timeout=300)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    collected = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
                               cwd=copy, capture_output=True, text=True, timeout=300)
    assert collected.returncode == 0 and "render/" not in collected.stdout, collected.stdout[-2000:]


def test_the_test_script_fails_on_no_tests() -> None:
    """pytest's exit 5 (nothing collected) must fail scripts/test, not pass it."""
    script = (ROOT / "scripts" / "test").read_text()
    step = script.split("python -m pytest", 1)[1].split("\nfi\n", 1)[0]
    result = subprocess.run(["bash", "-c", "set -euo pipefail\nrc=5\n" + step.split("rc=$?", 1)[1] + "\nfi\necho passed"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode != 0 and "passed" not in result.stdout, result.stdout + result.stderr
