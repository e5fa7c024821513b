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
    RenderedFile("k3s", "config.yaml.j2", "{{ __k3s_config_file }}", "all",
                 "k3s configuration (server or agent, node labels, join URL; token kept in token-file)"),
    RenderedFile("k3s", "k3s.service.j2", "{{ __k3s_unit_file }}", "all",
                 "systemd unit of k3s (server) or k3s-agent (agent)"),
    RenderedFile("nvidia_device_plugin", "nvidia-device-plugin.yaml.j2", "{{ nvidia_device_plugin_manifest_file }}",
                 "first_server", "HelmChart: NVIDIA device plugin in CDI mode (k3s auto-deploy manifest)"),
    RenderedFile("nvidia_cdi", "nvidia-cdi-refresh.env.j2", "{{ nvidia_cdi_refresh_env_file }}", "gpu",
                 "nvidia-cdi-refresh.service options (same as the role's nvidia-ctk cdi generate)"),
]
