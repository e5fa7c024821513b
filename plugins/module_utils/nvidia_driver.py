"""The NVIDIA driver's version as /proc/driver/nvidia/version states it: one rule for the
nvidia_container_toolkit role's preflight (filter nvidia_container_toolkit_driver_version) and for
the doctor and verify (module_utils.material.driver_version).

The file's first line names the version after "Kernel Module", for example::

    NVRM version: NVIDIA UNIX x86_64 Kernel Module  570.133.20  Fri Mar 14 20:15:18 UTC 2025
    NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.95.05  Release Build  (...)
"""

from __future__ import annotations

import re
from typing import Any

_KERNEL_MODULE = re.compile(r"Kernel Module.*?\s(\d+\.\d+(?:\.\d+)?)\s")


def version_from_file(text: Any) -> str:
    """The driver version in the text of /proc/driver/nvidia/version; '' when it names none."""
    match = _KERNEL_MODULE.search(f"{text if isinstance(text, str) else ''} ")
    return match.group(1) if match else ""
