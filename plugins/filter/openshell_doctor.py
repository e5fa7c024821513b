"""Filters of role openshell_doctor: reduce gathered output to the material the doctor reads
(module_utils.doctor), dropping what must not land in a support bundle."""

from __future__ import annotations

from typing import Any

from ansible_collections.openshell_auto.cluster.plugins.module_utils import device_plugin, doctor
from ansible_collections.openshell_auto.cluster.plugins.module_utils.ansible_glue import plain


def openshell_doctor_verdict(materials: Any) -> dict[str, Any]:
    """The doctor's verdict (module_utils.doctor.verdict) from the material of every host."""
    return doctor.verdict(plain(materials))


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "openshell_doctor_commands": doctor.command_results,
            "openshell_doctor_nodes": doctor.summarize_nodes,
            "openshell_doctor_daemonsets": doctor.summarize_daemonsets,
            "openshell_doctor_pods": doctor.summarize_pods,
            "openshell_doctor_helmcharts": doctor.summarize_helmcharts,
            "openshell_doctor_containerd": doctor.containerd_summary,
            "openshell_doctor_cdi_specs": doctor.cdi_spec_files,
            "openshell_doctor_cluster": doctor.cluster_material,
            "openshell_doctor_packages": doctor.package_versions,
            "openshell_doctor_verdict": openshell_doctor_verdict,
            "openshell_doctor_plugin_names": device_plugin.plugin_names_dict,
        }
