"""The READMEs stay true: each role's README.md is what scripts/role-docs generates from its
argument specs, and the top-level README's two commands pass in the order it gives them."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from openshell_auto.specs import settings_entry_point

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
ROLES = sorted(p for p in (ROOT / "roles").iterdir() if p.is_dir())


def test_role_readmes_match_argument_specs() -> None:
    for role in ROLES:
        generated = subprocess.run([sys.executable, str(ROOT / "scripts" / "role-docs"), role.name],
                                   capture_output=True, text=True, check=True).stdout
        readme = role / "README.md"
        assert readme.is_file() and readme.read_text() == generated, \
            f"roles/{role.name}/README.md is stale: run scripts/role-docs --update"


def test_every_role_option_is_documented_and_linked() -> None:
    assert len(ROLES) >= 8
    for role in ROLES:
        text = (role / "README.md").read_text()
        options = settings_entry_point(yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"])
        for name in options.get("options", {}):
            assert f"| `{name}` |" in text, f"{role.name}: {name} missing from its README.md"
        assert f"(roles/{role.name}/README.md)" in README, f"README.md does not link roles/{role.name}/README.md"


def test_every_role_has_argument_specs_and_meta() -> None:
    for role in ROLES:
        assert (role / "meta" / "argument_specs.yml").is_file(), role.name
        assert (role / "meta" / "main.yml").is_file(), role.name


def test_relative_links_resolve() -> None:
    """Every relative Markdown link in README.md and docs/ points at a file that exists."""
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *(r / "README.md" for r in ROLES)]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" not in target:
                assert (page.parent / target).exists(), f"{page.relative_to(ROOT)}: broken link {target}"


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


def test_role_docs_refuses_an_unknown_role() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "role-docs"), "no_such_role"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "no_such_role" in result.stderr
