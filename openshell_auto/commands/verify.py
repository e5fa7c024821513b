"""`openshell-auto verify`: pass/fail table per check per host, from playbooks/verify.yml."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from openshell_auto.commands.doctor import gather, run_failures
from openshell_auto.errors import EXIT_FAILED, EXIT_OK
from openshell_auto.options import (ansible_args_from, ansible_options, artifacts_dir_option, extra_vars_option,
                                    inventory_option, json_option, limit_option)


@click.command("verify")
@inventory_option
@limit_option
@extra_vars_option
@json_option("the checks")
@click.option("-o", "--output", "output_dir", type=click.Path(path_type=Path), default=None,
              help="Keep the gathered material and the result in DIR.")
@ansible_options
@artifacts_dir_option
def verify_cmd(inventory: tuple[str, ...], limit: str | None, extra_vars: tuple[str, ...], json_output: bool,
               output_dir: Path | None, artifacts_dir: Path | None, **ansible: Any) -> None:
    """Check every GPU host and the cluster end to end, including a GPU smoke pod
    (nvidia-smi -L, no runtimeClassName, deleted afterwards). Exit 1 on any failed check."""
    from ansible_collections.openshell_auto.cluster.plugins.module_utils import verify

    args = ansible_args_from(ansible)
    bundle = output_dir or Path(tempfile.mkdtemp(prefix="openshell-verify-"))
    try:
        materials, result = gather("verify.yml", inventory=inventory, bundle=bundle,
                                   output_vars=["openshell_doctor_output_dir", "openshell_verify_output_dir"],
                                   quiet_verdict="openshell_verify_fail",
                                   limit=limit, extra_vars=extra_vars, args=args,
                                   json_output=json_output, artifacts_dir=artifacts_dir)
        smoke_file = bundle / "smoke.json"
        smoke = json.loads(smoke_file.read_text()) if smoke_file.is_file() else None
        checks = verify.evaluate(verify.with_smoke(materials, smoke)) if materials else []
        problems = run_failures(result)
        if output_dir is not None:
            (bundle / "verify.json").write_text(verify.to_json(checks) + "\n")
        if json_output:
            data = json.loads(verify.to_json(checks))
            data.update(run_problems=problems, artifacts_dir=result.artifacts_dir, warnings=result.warnings)
            click.echo(json.dumps(data, indent=2))
        else:
            click.echo(verify.table_text(checks) if checks else "no material gathered")
            for p in problems:
                click.echo(f"run problem: {p}")
            for warning in result.warnings:  # stderr: stdout keeps the table only
                click.echo(f"WARNING: {warning}", err=True)
    finally:
        if output_dir is None:
            shutil.rmtree(bundle, ignore_errors=True)
    sys.exit(EXIT_OK if verify.passed(checks) and not problems else EXIT_FAILED)
