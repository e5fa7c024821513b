"""ansible_collections.openshell_auto.cluster.plugins.module_utils.ansible_glue: what the roles' filter plugins share (Ansible values -> plain Python)."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.openshell_auto.cluster.plugins.module_utils.ansible_glue import json_document, plain


def _tagged(value: Any) -> Any:
    """`value` the way Ansible hands it to a filter: data-tagged (ansible-core 2.19+) or wrapped
    in the Unsafe subclasses (older ansible-core)."""
    try:
        from ansible._internal._datatag._tags import Origin
    except ImportError:
        from ansible.utils.unsafe_proxy import wrap_var

        return wrap_var(value)
    if isinstance(value, dict):
        return Origin(path="/inventory.yml").tag({k: _tagged(v) for k, v in value.items()})
    if isinstance(value, list):
        return Origin(path="/inventory.yml").tag([_tagged(v) for v in value])
    if isinstance(value, str):
        return Origin(path="/inventory.yml").tag(value)
    return value


def _types(value: Any) -> set[type]:
    if isinstance(value, dict):
        return {type(value)} | {t for v in value.values() for t in _types(v)} | {type(k) for k in value}
    if isinstance(value, list):
        return {type(value)} | {t for v in value for t in _types(v)}
    return {type(value)}


def test_plain_turns_tagged_values_into_builtin_types() -> None:
    original = {"name": "gpu-box", "gpus": 1, "ok": True, "none": None, "env": {"A": "b"}, "command": ["sleep", "1"]}
    tagged = _tagged(original)
    assert type(tagged["name"]) is not str  # the test really feeds Ansible's types
    result = plain(tagged)
    assert result == original
    assert _types(result) <= {dict, list, str, int, bool, type(None)}


def test_json_document_parses_text_and_passes_parsed_data() -> None:
    assert json_document(_tagged('{"items": [{"a": 1}]}')) == {"items": [{"a": 1}]}
    assert _types(json_document(_tagged({"items": ["x"]}))) <= {dict, list, str}
    with pytest.raises(ValueError):
        json_document("not json")
