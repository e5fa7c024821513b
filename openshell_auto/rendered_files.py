"""Which role templates `openshell-auto render` writes, where, and for which hosts.

One entry per file a role writes from a template. The template itself stays in the role
(roles/<role>/templates/), so the CLI and the roles share one source. `dest` is a Jinja
expression over the host's variables (role defaults + inventory + role vars), usually the role
variable that holds the path, so no path is repeated here. `hosts` selects the hosts:
"all", "gpu", "server", "agent", "first_server".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

HostSelector = Literal["all", "gpu", "server", "agent", "first_server"]


@dataclass(frozen=True)
class RenderedFile:
    role: str
    template: str
    dest: str
    hosts: HostSelector
    description: str


RENDERED_FILES: list[RenderedFile] = [
    # Entries are appended by the roles' authors, e.g.
    # RenderedFile("nvidia_cdi", "nvidia-cdi-refresh.env.j2",
    #              "{{ nvidia_cdi_refresh_env_file }}", "gpu", "CDI refresh settings"),
]
