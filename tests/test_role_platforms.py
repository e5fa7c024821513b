"""The platforms each role's meta/main.yml claims are the ones the tests prove: the Molecule
scenarios' host images (Debian 12 bookworm, Debian 13 trixie systemd containers). ansible-core
2.19 needs Python >= 3.8 on managed hosts (ansible/module_utils/basic.py _PY_MIN); EL 8's
platform-python is 3.6, and no test here runs an RHEL-family or Ubuntu host, so neither is claimed
(docs/platforms.md says what is proven and what is not)."""

from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
# Molecule host images -> (galaxy platform name, version codename)
IMAGES = {"localhost/debian-systemd:12": ("Debian", "bookworm"), "localhost/debian-systemd:13": ("Debian", "trixie")}


def proven() -> set[tuple[str, str]]:
    found = set()
    for scenario in sorted((REPO / "molecule").glob("*/molecule.yml")):
        for platform in yaml.safe_load(scenario.read_text()).get("platforms") or []:
            assert platform["image"] in IMAGES, f"{scenario}: image {platform['image']} has no platform mapping"
            found.add(IMAGES[platform["image"]])
    return found


def test_every_role_claims_only_proven_platforms() -> None:
    tested = proven()
    assert tested == {("Debian", "bookworm"), ("Debian", "trixie")}
    metas = sorted((REPO / "roles").glob("*/meta/main.yml"))
    assert len(metas) >= 8
    for meta in metas:
        platforms = yaml.safe_load(meta.read_text())["galaxy_info"]["platforms"]
        claimed = {(p["name"], str(v)) for p in platforms for v in p["versions"]}
        assert claimed <= tested, f"{meta}: {sorted(claimed - tested)} are claimed but no test runs them"
        assert claimed, meta


def test_the_platforms_doc_names_what_is_proven() -> None:
    text = (REPO / "docs" / "platforms.md").read_text()
    for words in ("Debian 12", "Debian 13", "EL 8", "Python 3.8", "Ubuntu"):
        assert words in text, words
