"""openshell-auto: k3s clusters ready for NVIDIA OpenShell GPU sandboxes (CDI injection)."""
