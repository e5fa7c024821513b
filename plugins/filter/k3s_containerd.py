"""Filters of the k3s role for containerd 1.7 (k3s before v1.31.6, and v1.32.0-v1.32.1).

containerd 1.7 leaves CDI off unless `enable_cdi = true` sits in the
`[plugins."io.containerd.grpc.v1.cri"]` table. k3s's base template already declares that table,
and TOML forbids declaring a table twice, so `{{ template "base" . }}` plus a second
`[plugins."io.containerd.grpc.v1.cri"]` makes containerd refuse its config ("duplicated tables",
k3s-io/k3s#10551). k3s's answer for changing a key of a base table is a full template. The role
therefore builds the full template from what k3s's own base template rendered on that node (the
config.toml k3s wrote while no template existed), with the two CDI keys added to the CRI table.
The template records a fingerprint of its inputs; the role removes it when they change, so k3s
renders a fresh base and the template is derived again.
"""

from __future__ import annotations

import json
import re
import tomllib
from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.openshell_auto.cluster.plugins.module_utils import containerd, k3s_network
from ansible_collections.openshell_auto.cluster.plugins.module_utils.ansible_glue import plain

CRI_TABLE = '[plugins."io.containerd.grpc.v1.cri"]'
MARKER = "# openshell-auto: k3s role, containerd 1.7 CDI template"
FINGERPRINT = "# fingerprint: "
_HEADER = re.compile(r"^\s*\[")
# A line of the template this role wrote before (base template + a second CRI table; its header
# comment was ansible_managed, so this line is what identifies it).
_EARLIER_FORM = "embeds containerd 1.7, where CDI is off by default: the CDI device names"


def _toml(text: str, what: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AnsibleFilterError(f"{what} is not valid TOML: {exc}") from exc


def k3s_containerd_cdi_enabled(config_text: str) -> bool:
    """True when a containerd config passes CRI CDI devices through: config version 2 (containerd
    1.7) needs enable_cdi = true in the CRI table; version 3 (containerd 2.x) has it on by default."""
    return containerd.cdi_enabled(_toml(str(config_text), "k3s's containerd config.toml"))


def k3s_cdi_template_fingerprint(template_text: str) -> str:
    """The fingerprint recorded in a template this role wrote; '' for any other file."""
    text = str(template_text)
    lines = text.splitlines()
    if lines and lines[0] == '{{ template "base" . }}' and _EARLIER_FORM in text:
        return "base-template-append"  # this role's earlier form, rejected by containerd: replace it
    if not lines or lines[0] != MARKER:
        return ""
    for line in lines[1:6]:
        if line.startswith(FINGERPRINT):
            return line[len(FINGERPRINT):].strip()
    return ""


def k3s_cdi_template(config_text: str, fingerprint: str, spec_dirs: list[str]) -> str:
    """config.toml.tmpl for containerd 1.7: the config k3s rendered from its base template, with
    enable_cdi and cdi_spec_dirs set in the CRI table, escaped for Go's text/template."""
    text = str(config_text)
    if text.startswith(MARKER + "\n"):  # rendered from this role's template: drop its header
        text = "\n".join(text.splitlines()[len(_header("")):]) + "\n"
    conf = _toml(text, "k3s's containerd config.toml")
    if containerd.config_version(conf) != 2 or containerd.CRI_V2 not in conf.get("plugins", {}):
        raise AnsibleFilterError(
            "k3s's containerd config.toml is not a containerd 1.7 config (version = 2 with a "
            f"{CRI_TABLE} table); set k3s_containerd_cdi_template: false if this k3s embeds containerd 2.x")
    lines = text.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == CRI_TABLE)
    except StopIteration as exc:
        raise AnsibleFilterError(f"k3s's containerd config.toml has no literal {CRI_TABLE} header") from exc
    end = next((i for i in range(start + 1, len(lines)) if _HEADER.match(lines[i])), len(lines))
    body = [line for line in lines[start + 1:end]
            if not re.match(r"\s*(enable_cdi|cdi_spec_dirs)\s*=", line)]
    cdi = ["  enable_cdi = true", f"  cdi_spec_dirs = {json.dumps([str(d) for d in spec_dirs])}"]
    derived = lines[:start + 1] + cdi + body + lines[end:]
    result = "\n".join(derived) + "\n"
    if not k3s_containerd_cdi_enabled(result):  # the edit must land in the CRI table, nothing else
        raise AnsibleFilterError("deriving config.toml.tmpl did not enable CDI in the CRI table")
    # Go's text/template treats "{{" as the start of an action: print it as a string literal.
    return "\n".join(_header(fingerprint)) + "\n" + result.replace("{{", '{{ "{{" }}')


def _header(fingerprint: str) -> list[str]:
    return [
        MARKER,
        f"{FINGERPRINT}{fingerprint}",
        "# Derived from the config.toml k3s rendered from its base template on this node, plus",
        "# enable_cdi (containerd 1.7 has CDI off). Re-derived when k3s's version or config changes;",
        "# a file without the first line above is yours and is left alone.",
    ]


def k3s_network_problems(settings: Any) -> list[str]:
    """{k3s_http_proxy, k3s_https_proxy, k3s_no_proxy, k3s_registries} -> ["variable: problem", ...]."""
    values = plain(settings) or {}
    problems = [f"{name}: {problem}" for name in ("k3s_http_proxy", "k3s_https_proxy")
                if (problem := k3s_network.proxy_url_problem(values.get(name)))]
    if problem := k3s_network.no_proxy_problem(values.get("k3s_no_proxy")):
        problems.append(f"k3s_no_proxy: {problem}")
    problems += [f"k3s_registries: {p}" for p in k3s_network.registries_problems(values.get("k3s_registries"))]
    return problems


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "k3s_cdi_template": k3s_cdi_template,
            "k3s_cdi_template_fingerprint": k3s_cdi_template_fingerprint,
            "k3s_containerd_cdi_enabled": k3s_containerd_cdi_enabled,
            # How containerd reaches registries (proxies, registries.yaml): plugins/module_utils/k3s_network.py,
            # the rules the CLI's inventory check applies too.
            "k3s_network_problems": k3s_network_problems,
        }
