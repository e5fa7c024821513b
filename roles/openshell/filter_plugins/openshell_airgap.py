"""Filters of role openshell for the air-gap input check (roles/openshell/tasks/verify_inputs.yml):
one procedure for every controller-side file the roles copy or embed. The rules live in
openshell_auto/airgap.py.

- `openshell_sums_line(text, name)`: the sha256 a sha256sum-style file lists for `name`, or ''.
- `openshell_airgap_pending(entries, checked)`: the entries not checked earlier in this run.
- `openshell_airgap_lookups(entries, checked)`: each distinct path once, with whether to hash it.
- `openshell_airgap_sums_files(entries, checked, stat_results)`: the sums files safe to read.
- `openshell_airgap_verdict(entries, checked, stat_results, texts)`: refusals per host, warnings
  (once per file) and the keys checked so far in this run."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

if importlib.util.find_spec("openshell_auto") is None:  # a checkout without `pip install`: add its root
    sys.path.append(str(Path(__file__).resolve().parents[3]))  # roles/<role>/filter_plugins/ -> root

from openshell_auto import airgap  # noqa: E402
from openshell_auto.ansible_glue import plain  # noqa: E402


def openshell_sums_line(text: Any, name: Any) -> str:
    return airgap.sums_line(str(plain(text) or ""), str(plain(name)))


def openshell_airgap_pending(entries: Any, checked: Any = None) -> list[Any]:
    return list(airgap.pending(plain(entries) or [], plain(checked) or []))


def openshell_airgap_lookups(entries: Any, checked: Any = None) -> list[dict[str, Any]]:
    return airgap.lookups(plain(entries) or [], plain(checked) or [])


def openshell_airgap_sums_files(entries: Any, checked: Any, stat_results: Any) -> list[str]:
    return airgap.sums_files(plain(entries) or [], plain(checked) or [], plain(stat_results) or [])


def openshell_airgap_verdict(entries: Any, checked: Any, stat_results: Any, texts: Any) -> dict[str, Any]:
    return airgap.verdict(plain(entries) or [], plain(checked) or [], plain(stat_results) or [],
                          plain(texts) or {})


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "openshell_sums_line": openshell_sums_line,
            "openshell_airgap_pending": openshell_airgap_pending,
            "openshell_airgap_lookups": openshell_airgap_lookups,
            "openshell_airgap_sums_files": openshell_airgap_sums_files,
            "openshell_airgap_verdict": openshell_airgap_verdict,
        }
