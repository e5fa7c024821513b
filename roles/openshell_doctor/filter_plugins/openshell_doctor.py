"""Filters of role openshell_doctor: reduce gathered output to the material the doctor reads
(openshell_auto.doctor), dropping what must not land in a support bundle."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

if importlib.util.find_spec("openshell_auto") is None:  # a checkout without `pip install`: add its root
    sys.path.append(str(Path(__file__).resolve().parents[3]))  # roles/<role>/filter_plugins/ -> root

from openshell_auto import device_plugin, doctor
from openshell_auto.ansible_glue import plain


def openshell_doctor_verdict(materials: Any) -> dict[str, Any]:
    """The doctor's verdict (openshell_auto.doctor.verdict) from the material of every host."""
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
