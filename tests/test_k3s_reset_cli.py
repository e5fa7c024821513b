"""`openshell-auto reset` is destructive: it must refuse to run without --yes (exit 2)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from openshell_auto.cli import COMMANDS, main

EXAMPLE = Path(__file__).resolve().parent.parent / "inventories" / "example" / "hosts.yml"


def test_reset_is_registered() -> None:
    assert COMMANDS["reset"] == "openshell_auto.commands.reset:reset"


def test_reset_without_yes_exits_2_and_runs_nothing(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["reset", "-i", str(EXAMPLE), "--artifacts-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "--yes" in result.output and "field yes" in result.output
    assert not any(tmp_path.iterdir()), "no run directory: nothing was started"


def test_reset_with_yes_still_validates_the_inventory(tmp_path: Path) -> None:
    bad = tmp_path / "hosts.yml"
    bad.write_text("all:\n  children:\n    openshell_agents:\n      hosts:\n        a1: {}\n")
    result = CliRunner().invoke(main, ["reset", "--yes", "-i", str(bad), "--artifacts-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2
    assert not (tmp_path / "runs").exists()


def test_reset_help_mentions_yes() -> None:
    result = CliRunner().invoke(main, ["reset", "--help"])
    assert result.exit_code == 0
    assert "--yes" in result.output
