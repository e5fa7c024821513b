"""Filters of role openshell_doctor: reduce gathered output to the material the doctor reads
(openshell_auto.doctor), dropping what must not land in a support bundle.

`openshell_auto` is imported from the installed package, or, when ansible-playbook runs from a
checkout without the package installed, from the repository root three levels above this file.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

try:
    from openshell_auto import doctor
except ImportError:  # a checkout run without `pip install`: roles/<role>/filter_plugins/ -> root
    sys.path.append(str(Path(__file__).resolve().parents[3]))
    from openshell_auto import doctor


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
        }
