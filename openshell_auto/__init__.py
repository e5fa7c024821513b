"""openshell-auto: k3s clusters ready for NVIDIA OpenShell GPU sandboxes (CDI injection)."""

__version__ = "0.1.0"
