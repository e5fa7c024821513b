"""Filters of role openshell_doctor: reduce gathered output to the material the doctor reads
(module_utils.gather), dropping what must not land in a support bundle, and the doctor's verdict
(module_utils.doctor)."""

from __future__ import annotations

from typing import Any

from ansible_collections.openshell_auto.cluster.plugins.module_utils import device_plugin, doctor, gather
from ansible_collections.openshell_auto.cluster.plugins.module_utils.ansible_glue import plain


def openshell_doctor_verdict(materials: Any) -> dict[str, Any]:
    """The doctor's verdict (module_utils.doctor.verdict) from the material of every host."""
    return doctor.verdict(plain(materials))


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "openshell_doctor_commands": gather.command_results,
            "openshell_doctor_nodes": gather.summarize_nodes,
            "openshell_doctor_daemonsets": gather.summarize_daemonsets,
            "openshell_doctor_pods": gather.summarize_pods,
            "openshell_doctor_helmcharts": gather.summarize_helmcharts,
            "openshell_doctor_containerd": gather.containerd_summary,
            "openshell_doctor_cdi_specs": gather.cdi_spec_files,
            "openshell_doctor_cluster": gather.cluster_material,
            "openshell_doctor_packages": gather.package_versions,
            "openshell_doctor_verdict": openshell_doctor_verdict,
            "openshell_doctor_plugin_names": device_plugin.plugin_names_dict,
        }
