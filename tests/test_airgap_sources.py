"""Air-gap source files are checked on the controller before a provision run contacts a host."""

from __future__ import annotations

import textwrap
from pathlib import Path

from openshell_auto.airgap_sources import path_problem, source_problems, source_variables
from openshell_auto.inventory_loader import parse_inventory
from openshell_auto.specs import load_specs


def test_every_src_option_of_the_roles_is_checked() -> None:
    names = source_variables(load_specs())
    assert {"k3s_binary_src", "k3s_checksum_src", "k3s_images_src", "nvidia_device_plugin_chart_src",
            "nvidia_device_plugin_image_src", "nvidia_container_toolkit_gpg_key_src"} <= set(names)


def test_path_problems_name_the_reason(tmp_path: Path) -> None:
    good = tmp_path / "k3s"
    good.write_bytes(b"\x7fELF")
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    assert path_problem(str(good)) is None
    assert "relative path" in (path_problem("k3s") or "")
    assert "does not exist" in (path_problem(str(tmp_path / "missing")) or "")
    assert "not a regular file" in (path_problem(str(tmp_path)) or "")
    assert "cannot be read" in (path_problem(str(loop)) or "")  # a loop is not "does not exist"


def test_problems_carry_file_line_and_skip_templates_and_empty_values(tmp_path: Path) -> None:
    chart = tmp_path / "chart.tgz"
    chart.write_bytes(b"chart")
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(textwrap.dedent(f"""
        all:
          vars:
            k3s_binary_src: ""
            k3s_images_src: "{{{{ playbook_dir }}}}/images.tar"
            nvidia_device_plugin_chart_src: {chart}
          children:
            openshell_servers:
              hosts:
                s1:
                  k3s_checksum_src: {tmp_path}/sums.txt
        """))
    problems = source_problems(parse_inventory(inventory, {}))
    assert problems == [f"{inventory}:11: host s1: field k3s_checksum_src: '{tmp_path}/sums.txt' does not exist on "
                        "the controller; copy the file there or fix the path"]


def test_an_inventory_path_that_extra_vars_replace_is_not_checked(tmp_path: Path) -> None:
    """-e wins over the inventory for every host, so only the -e path has to exist."""
    binary = tmp_path / "k3s"
    binary.write_bytes(b"\x7fELF")
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(textwrap.dedent(f"""
        all:
          vars:
            k3s_binary_src: {tmp_path / 'gone'}
            k3s_images_src: {tmp_path / 'also-gone'}
          hosts:
            h1: {{ansible_host: 127.0.0.1}}
        """))
    parsed = parse_inventory(inventory, extra_vars={"k3s_binary_src": str(binary)})
    problems = source_problems(parsed)
    assert len(problems) == 1 and "k3s_images_src" in problems[0] and "also-gone" in problems[0]
    parsed = parse_inventory(inventory, extra_vars={"k3s_binary_src": str(tmp_path / "missing-e")})
    assert any("field k3s_binary_src" in p and "missing-e" in p for p in source_problems(parsed))
