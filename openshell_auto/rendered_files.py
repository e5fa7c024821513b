"""Which role templates `openshell-auto render` writes, where, and for which hosts.

One entry per file a role writes from a template. The template itself stays in the role
(roles/<role>/templates/), so the CLI and the roles share one source. `dest` is a Jinja
expression over the host's variables (role defaults + inventory + role vars), usually the role
variable that holds the path, so no path is repeated here. `hosts` selects the hosts:
"all", "gpu", "server", "agent", "first_server". `when` (optional) is a Jinja expression over the
same variables: the file is rendered only where it is true, as the role writes the file only then.
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
    when: str = ""


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
    RenderedFile("k3s", "k3s.env.j2", "{{ __k3s_env_file }}", "all",
                 "k3s proxy environment (HTTP_PROXY, HTTPS_PROXY, NO_PROXY); only with a proxy set",
                 when="__k3s_proxy_set | bool"),
    RenderedFile("k3s", "registries.yaml.j2", "{{ __k3s_registries_file }}", "all",
                 "k3s registries.yaml (mirrors, rewrites, auth, TLS); only with k3s_registries set",
                 when="k3s_registries | length > 0"),
]
