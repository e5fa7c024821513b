"""Argument checks of inventory variables: types and values against every role's argument_specs
(via Ansible's ArgumentSpecValidator; Jinja templates are skipped), formats argument_specs cannot
express, and misspelt role variables. Each failure is one line naming where, the field and the fix."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.openshell_auto.cluster.plugins.module_utils import (
    device_plugin,
    k3s_firewall,
    k3s_network,
    upgrades,
    sandbox,
)
from ansible_collections.openshell_auto.cluster.plugins.module_utils.checksum import Kind, checksum_problem
from ansible_collections.openshell_auto.cluster.plugins.module_utils.hostile import Opaque
from ansible_collections.openshell_auto.cluster.plugins.module_utils.k3s_release import k3s_version_problem
from openshell_auto.inventory_model import VarBlock
from openshell_auto.specs import Specs

_TEMPLATE_MARKERS = ("{{", "{%", "{#")


def is_template(value: Any) -> bool:
    """True when the value (or anything inside it) is a Jinja template or an opaque value."""
    if isinstance(value, Opaque):
        return True
    if isinstance(value, str):
        return any(marker in value for marker in _TEMPLATE_MARKERS)
    if isinstance(value, dict):
        return any(is_template(k) or is_template(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(is_template(v) for v in value)
    return False


_VALIDATORS: dict[int, Any] = {}


def _validator_for(name: str, spec: dict[str, Any]) -> Any:
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

    key = id(spec)
    if key not in _VALIDATORS:
        option = {k: v for k, v in spec.items() if k not in ("required", "default")}
        _VALIDATORS[key] = ArgumentSpecValidator({name: option})
    return _VALIDATORS[key]


def owner_text(block: VarBlock) -> str:
    return "extra vars" if block.owner_kind == "extra vars" else f"{block.owner_kind} {block.owner}"


def check_variables(blocks: Iterable[VarBlock], specs: Specs) -> list[str]:
    """Type/value errors against argument_specs, and misspelt role-prefixed variables."""
    from ansible_collections.openshell_auto.cluster.plugins.module_utils import hostile

    errors: list[str] = []
    options = specs.options
    known = specs.known_names()
    for block in blocks:
        for name, value in block.values.items():
            where = block.where(name)
            spec = options.get(name)
            if spec is not None:
                if is_template(value) or value is None:
                    continue
                strict = hostile.strict_type_problem(name, spec, value)
                if strict:
                    errors.append(f"{where}: {owner_text(block)}: field {name}: {strict}")
                    continue
                result = _validator_for(name, spec).validate({name: value})
                for message in result.error_messages:
                    fix = _type_fix(spec)
                    errors.append(f"{where}: {owner_text(block)}: field {name}: {message}; {fix}")
                if not result.error_messages:
                    errors.extend(f"{where}: {owner_text(block)}: field {name}: {problem}"
                                  for problem in _format_problems(name, value))
                continue
            if name in known or name.startswith("__"):
                continue
            role = specs.owner(name)
            suggestion = specs.suggest(name, cutoff=0.75 if role else 0.9)
            if role is None and suggestion is None:
                continue  # a user variable unrelated to any role
            hint = f"did you mean `{suggestion}`?" if suggestion else \
                f"see roles/{role.name}/meta/argument_specs.yml for the variables of role {role.name}" if role else ""
            errors.append(f"{where}: {owner_text(block)}: field {name}: unknown variable"
                          f"{f' of role {role.name}' if role else ''}; {hint}")
    return errors


def _image_repository_problem(value: str) -> str | None:
    """An image repository without tag or digest (the chart adds its own tag); empty: the chart's."""
    if not value:
        return None
    problem = sandbox.image_problem(value)
    if problem is None and ("@" in value or ":" in value.rsplit("/", 1)[-1]):
        problem = f"`{value}` carries a tag or digest; give the repository only (the chart adds its version's tag)"
    return problem


# Every image the roles pull, by the variable that names it (each has its one default in its role's
# defaults/main.yml): checked as image references before anything runs.
IMAGE_REFERENCES = {
    "openshell_verify_smoke_image": sandbox.image_problem,
    "nvidia_device_plugin_image_repository": _image_repository_problem,
}


# Value formats argument_specs cannot express; the roles check the same before they use a value
# (the sha256 format: plugins/module_utils/airgap.py, the roles' air-gap check on the controller).
# The sums the roles compare with a sha256 of a controller-side file themselves.
SHA256_CHECKSUMS = ("k3s_images_checksum", "nvidia_device_plugin_chart_checksum",
                    "nvidia_device_plugin_image_checksum")
# Passed to ansible.builtin.get_url `checksum:` as is: "<algorithm>:<hex digest>" or "<algorithm>:<url>".
GET_URL_CHECKSUMS = ("nvidia_container_toolkit_gpg_key_checksum",)


def _format_problems(name: str, value: Any) -> list[str]:
    if name == "nvidia_device_plugin_time_slicing_replicas":
        problem = device_plugin.replicas_problem(value)
        return [problem] if problem else []
    if name == "nvidia_device_plugin_mig_strategy":
        problem = device_plugin.mig_strategy_problem(value)
        return [problem] if problem else []
    if name in ("k3s_http_proxy", "k3s_https_proxy"):
        problem = k3s_network.proxy_url_problem(value)
        return [problem] if problem else []
    if name == "k3s_no_proxy":
        problem = k3s_network.no_proxy_problem(value)
        return [problem] if problem else []
    if name == "k3s_registries":
        return k3s_network.registries_problems(value)
    if name == "k3s_firewall_sources":
        return k3s_firewall.sources_problems(value)
    if name == "k3s_firewalld_zone":
        problem = k3s_firewall.zone_problem(value)
        return [problem] if problem else []
    if name == "openshell_upgrade_batch":
        problem = upgrades.agent_batch_problem(value)
        return [problem] if problem else []
    if name == "k3s_upgrade_snapshot_name":
        problem = upgrades.snapshot_name_problem(value)
        return [problem] if problem else []
    if name in IMAGE_REFERENCES and isinstance(value, str) and (problem := IMAGE_REFERENCES[name](value)):
        return [problem]
    if not isinstance(value, str):
        return []
    kind: Kind | None = "sha256" if name in SHA256_CHECKSUMS else "get_url" if name in GET_URL_CHECKSUMS else None
    if kind and (problem := checksum_problem(value, kind)):
        return [problem]
    if name == "k3s_version" and (problem := k3s_version_problem(value)):
        return [problem]
    return []


def _type_fix(spec: Mapping[str, Any]) -> str:
    if spec.get("choices"):
        return "use one of: " + ", ".join(str(c) for c in spec["choices"])
    kind = spec.get("type", "str")
    examples = {"bool": "true or false", "int": "a whole number", "float": "a number", "list": "a YAML list",
                "dict": "a YAML mapping", "path": "a file system path", "str": "a string"}
    return f"set it to {examples.get(str(kind), kind)}"


def as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if is_template(value):
        return None
    from ansible.module_utils.parsing.convert_bool import boolean

    try:
        return bool(boolean(value, strict=True))
    except TypeError:
        return None
