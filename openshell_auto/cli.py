"""Command line entry point. Subcommands load lazily so `--help` stays fast."""

from __future__ import annotations

import importlib
from typing import Any

import click

# name -> "module:attribute" of a click command. Add one line per command.
COMMANDS: dict[str, str] = {
    "bundle": "openshell_auto.commands.bundle:bundle",
    "provision": "openshell_auto.commands.provision:provision",
    "render": "openshell_auto.commands.render:render",
    "sandbox": "openshell_auto.commands.sandbox:sandbox_group",
    "verify": "openshell_auto.commands.verify:verify_cmd",
    "doctor": "openshell_auto.commands.doctor:doctor_cmd",
    "reset": "openshell_auto.commands.reset:reset",
    "remove-node": "openshell_auto.commands.remove_node:remove_node",
}


class LazyGroup(click.Group):
    """A click group that imports a subcommand's module only when that command runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:  # noqa: ARG002 - click's signature
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:  # noqa: ARG002 - click's
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        command: click.Command = getattr(importlib.import_module(module_name), attr)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        """Bad input -> one line per problem on stderr, exit 2; Ctrl-C -> exit 130, no traceback."""
        from openshell_auto.errors import EXIT_INTERRUPTED, FetchError, InputError, RenderError

        try:
            return super().invoke(ctx)
        except (InputError, RenderError, FetchError) as exc:
            for message in exc.messages:
                click.echo(f"error: {message}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)
        return None


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """--version: this package, the ansible-core it drives, and where its Ansible content is."""
    if not value or ctx.resilient_parsing:
        return
    from importlib.metadata import PackageNotFoundError, version

    from openshell_auto import paths

    def installed(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    click.echo(f"openshell-auto {installed('openshell-auto')}")
    click.echo(f"ansible-core {installed('ansible-core')}")
    click.echo(f"content {paths.content().root}")
    ctx.exit(0)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Show the version, the ansible-core version and where the roles and playbooks are.")
def main() -> None:
    """Turn Linux GPU hosts into a k3s cluster ready for NVIDIA OpenShell GPU sandboxes (CDI)."""
