"""`openshell-auto doctor`: gather the GPU stack state read-only, print findings in plain words,
and keep the raw material as a support bundle."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from openshell_auto.errors import EXIT_FAILED, EXIT_OK, InputError
from openshell_auto.options import (ansible_args_from, ansible_options, artifacts_dir_option, extra_vars_option,
                                    inventory_option, json_option, limit_option)


def gather(
    playbook: str,
    *,
    inventory: Sequence[Path | str],
    bundle: Path,
    output_vars: Sequence[str],
    limit: str | None,
    extra_vars: Sequence[str],
    json_output: bool,
    artifacts_dir: Path | None,
    quiet_verdict: str,
    args: Any = None,
) -> tuple[dict[str, dict[str, Any]], Any]:
    """Validate the inventory, run `playbook` with the bundle directory in `output_vars`,
    and return (material per host, RunResult). Raises InputError on bad input (exit 2).
    The play's own verdict (`quiet_verdict`, e.g. openshell_doctor_fail) is turned off: the CLI
    prints the same table and sets its exit code itself, and a failed check is not a run problem."""
    from rich.console import Console

    import contextlib

    from ansible_collections.openshell_auto.cluster.plugins.module_utils import doctor
    from openshell_auto.ansible_args import AnsibleArgs
    from openshell_auto.extra_vars import parse_extra_vars
    from openshell_auto.inventory_sources import load_sources
    from openshell_auto.options import check_limit, prompt_secrets
    from openshell_auto.progress import make_progress
    from openshell_auto.runner import run_playbook

    args = args if args is not None else AnsibleArgs()
    variables = parse_extra_vars(extra_vars)
    classified = load_sources(list(inventory), variables)
    check_limit(limit, classified.hosts, list(classified.inventory.groups))
    bundle.mkdir(parents=True, exist_ok=True)
    for name in output_vars:
        variables[name] = str(bundle.resolve())
    variables[quiet_verdict] = False
    console = Console(stderr=True)
    prompt_secrets(args)
    try:
        progress = make_progress(console, playbook, quiet=json_output, stream=args.streams)
        with progress if progress is not None else contextlib.nullcontext():
            result = run_playbook(playbook, list(inventory), limit=limit, extra_vars=variables,
                                  runs_dir=artifacts_dir, display=progress, args=args)
    finally:
        args.cleanup()
    materials = doctor.load_bundle(bundle) if (bundle / "hosts").is_dir() else {}
    return materials, result


def run_failures(result: Any) -> list[str]:
    """Hosts the playbook could not finish on (unreachable or failed): said, never hidden."""
    return [f"{f.host}: {'unreachable' if f.unreachable else 'failed'} at '{f.task}': {f.message}"
            for f in result.failures] + ([result.message] if result.message else [])


@click.command("doctor")
@inventory_option
@click.option("-o", "--output", "output_dir", type=click.Path(path_type=Path), default=None,
              help="Write the support bundle (raw material per host, findings) to DIR.")
@limit_option
@extra_vars_option
@json_option("the findings")
@ansible_options
@artifacts_dir_option
def doctor_cmd(inventory: tuple[str, ...], output_dir: Path | None, limit: str | None, extra_vars: tuple[str, ...],
               json_output: bool, artifacts_dir: Path | None, **ansible: Any) -> None:
    """Diagnose the CDI-mode GPU stack without changing anything; exit 1 when a finding is an error.

    Gathers toolkit packages, CDI names and spec files, refresh units, k3s's containerd nvidia
    handler, the device plugin (DaemonSet, logs, helm-install job), nodes and GPU pods. Secrets
    (join token, kubeconfig, containerd registry auth, pod env) never enter the bundle."""
    from ansible_collections.openshell_auto.cluster.plugins.module_utils import doctor

    args = ansible_args_from(ansible)
    if output_dir is not None and output_dir.exists() and not output_dir.is_dir():
        raise InputError(f"-o {output_dir}: field output: is not a directory; give a new or empty directory")
    if output_dir is not None and output_dir.exists() and any(output_dir.iterdir()):
        raise InputError(f"-o {output_dir}: field output: directory is not empty; give a new or empty directory")
    bundle = output_dir or Path(tempfile.mkdtemp(prefix="openshell-doctor-"))
    try:
        materials, result = gather("doctor.yml", inventory=inventory, bundle=bundle,
                                   output_vars=["openshell_doctor_output_dir"], quiet_verdict="openshell_doctor_fail",
                                   limit=limit, extra_vars=extra_vars, args=args,
                                   json_output=json_output, artifacts_dir=artifacts_dir)
        found = doctor.findings(materials) if materials else []
        problems = run_failures(result)
        if output_dir is not None:
            (bundle / "findings.json").write_text(json.dumps([f.to_dict() for f in found], indent=2) + "\n")
            (bundle / "report.txt").write_text(doctor.report_text(found) + "\n")
        if json_output:
            click.echo(json.dumps({"findings": [f.to_dict() for f in found], "run_problems": problems,
                                   "bundle": str(bundle) if output_dir else None,
                                   "artifacts_dir": result.artifacts_dir, "warnings": result.warnings}, indent=2))
        else:
            click.echo(doctor.report_text(found) if found else "no material gathered")
            for p in problems:
                click.echo(f"run problem: {p}")
            for warning in result.warnings:  # stderr: stdout keeps the table only
                click.echo(f"WARNING: {warning}", err=True)
            if output_dir is not None:
                click.echo(f"support bundle: {bundle}")
    finally:
        if output_dir is None:
            shutil.rmtree(bundle, ignore_errors=True)
    sys.exit(EXIT_FAILED if doctor.failed(found) or problems else EXIT_OK)

