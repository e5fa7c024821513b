"""Filters of role openshell for the air-gap input check (roles/openshell/tasks/verify_inputs.yml):
one procedure for every controller-side file the roles copy or embed. The rules live in
plugins/module_utils/airgap.py.

- `openshell_airgap_pending(entries, checked)`: the entries not checked earlier in this run.
- `openshell_airgap_lookups(entries, checked)`: each distinct path once, with whether to hash it.
- `openshell_airgap_sums_files(entries, checked, stat_results)`: the sums files safe to read.
- `openshell_airgap_verdict(entries, checked, stat_results, texts)`: refusals per host, warnings
  (once per file) and the keys checked so far in this run.
- `value | openshell_checksum_problem(kind)`: '' or why the value is no checksum of `kind`
  (sha256 or get_url; the rule of plugins/module_utils/checksum.py, the CLI's too)."""

from __future__ import annotations

from typing import Any

from ansible_collections.openshell_auto.cluster.plugins.module_utils import airgap, checksum
from ansible_collections.openshell_auto.cluster.plugins.module_utils.ansible_glue import plain


def openshell_airgap_pending(entries: Any, checked: Any = None) -> list[Any]:
    return list(airgap.pending(plain(entries) or [], plain(checked) or []))


def openshell_airgap_lookups(entries: Any, checked: Any = None) -> list[dict[str, Any]]:
    return airgap.lookups(plain(entries) or [], plain(checked) or [])


def openshell_airgap_sums_files(entries: Any, checked: Any, stat_results: Any) -> list[str]:
    return airgap.sums_files(plain(entries) or [], plain(checked) or [], plain(stat_results) or [])


def openshell_airgap_verdict(entries: Any, checked: Any, stat_results: Any, texts: Any) -> dict[str, Any]:
    return airgap.verdict(plain(entries) or [], plain(checked) or [], plain(stat_results) or [],
                          plain(texts) or {})


def openshell_checksum_problem(value: Any, kind: Any = "sha256") -> str:
    return checksum.checksum_problem(plain(value), str(kind)) or ""  # type: ignore[arg-type]


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "openshell_airgap_pending": openshell_airgap_pending,
            "openshell_airgap_lookups": openshell_airgap_lookups,
            "openshell_airgap_sums_files": openshell_airgap_sums_files,
            "openshell_airgap_verdict": openshell_airgap_verdict,
            "openshell_checksum_problem": openshell_checksum_problem,
        }
