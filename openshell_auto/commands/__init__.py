"""CLI subcommands, one module each (registered in openshell_auto.cli.COMMANDS)."""
