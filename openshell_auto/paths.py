"""Where the Ansible content lives: the collection openshell_auto.cluster, which is the checkout's
root or, installed from the wheel, site-packages/ansible_collections/openshell_auto/cluster."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path


@dataclass(frozen=True)
class ContentPaths:
    """Absolute paths of the Ansible content the CLI drives."""

    root: Path

    @property
    def roles(self) -> Path:
        return self.root / "roles"

    @property
    def playbooks(self) -> Path:
        return self.root / "playbooks"

    @property
    def collections_root(self) -> Path:
        """The directory holding ansible_collections/openshell_auto/cluster (this content): the
        checkout's root (a link back to itself) or site-packages when installed from the wheel."""
        if (self.root / "ansible_collections" / "openshell_auto" / "cluster").is_dir():
            return self.root
        return self.root.parents[2]

    @property
    def ansible_cfg(self) -> Path:
        return self.root / "ansible.cfg"

    @property
    def example_inventory(self) -> Path:
        return self.root / "inventories" / "example" / "hosts.yml"

    def playbook(self, name: str) -> Path:
        return self.playbooks / name


def _looks_like_content(root: Path) -> bool:
    return (root / "roles").is_dir() and (root / "playbooks" / "site.yml").is_file()


@lru_cache(maxsize=1)
def content() -> ContentPaths:
    """Return the content root: the checkout beside the package, else the collection the wheel
    installed beside it (site-packages/ansible_collections/openshell_auto/cluster)."""
    package_dir = Path(__file__).resolve().parent
    installed = package_dir.parent / "ansible_collections" / "openshell_auto" / "cluster"
    for candidate in (package_dir.parent, installed):
        if _looks_like_content(candidate):
            return ContentPaths(candidate)
    raise FileNotFoundError(
        f"openshell-auto: roles/ and playbooks/site.yml not found beside {package_dir} "
        f"nor in {installed}; reinstall the package (pip install openshell-auto)"
    )
