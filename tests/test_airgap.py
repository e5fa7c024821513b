"""The air-gap input rules (plugins/module_utils/airgap.py) that roles/openshell/tasks/verify_inputs.yml
applies on the controller for every role: each distinct path looked up once and hashed only where a
sum is given, a mismatch refused per host by variable name, one warning per archive without a sum,
and what was checked remembered for the rest of the run."""

from __future__ import annotations

from typing import Any

from ansible_collections.openshell_auto.cluster.plugins.module_utils import airgap

GOOD = "a" * 64
BAD = "b" * 64
SUMS = f"{GOOD}  k3s\n{'1' * 64}  k3s-airgap-images-amd64.tar.zst\n{GOOD} *images.tar\n"


def binary(host: str, **over: Any) -> dict[str, Any]:
    return {"var": "k3s_binary_src", "path": "/in/k3s", "what": "the k3s binary", "unset": " to download it",
            "redo": "download both files again", "sums_var": "k3s_checksum_src", "sums_file": "/in/sums.txt",
            "sums_name": "k3s", "sums_what": "the sha256sum-amd64.txt", "sum_required": True, "host": host,
            **over}


def images(host: str, **over: Any) -> dict[str, Any]:
    return {"var": "k3s_images_src", "path": "/in/images.tar", "what": "the images archive", "unset": "",
            "redo": "download the images archive again", "sum_var": "k3s_images_checksum", "sum": "",
            "sums_var": "k3s_checksum_src", "sums_file": "/in/sums.txt", "sums_name": "images.tar", "host": host,
            **over}


def stat(path: str, checksum: str | None = None, exists: bool = True, isreg: bool = True) -> dict[str, Any]:
    found: dict[str, Any] = {"exists": exists, "isreg": isreg and exists}
    if checksum:
        found["checksum"] = checksum
    return {"item": {"path": path}, "stat": found}


def test_sums_line_reads_text_and_binary_mode_lines() -> None:
    assert airgap.sums_line(SUMS, "k3s") == GOOD
    assert airgap.sums_line(SUMS, "images.tar") == GOOD
    assert airgap.sums_line(SUMS.upper().replace("K3S", "k3s"), "k3s") == GOOD  # upper-case digits
    assert airgap.sums_line(SUMS, "k3s-airgap-images-amd64.tar") == ""  # only the .zst is listed
    assert airgap.sums_line("not a sum  k3s\n", "k3s") == ""


def test_each_path_is_looked_up_once_and_hashed_only_where_a_sum_is_given() -> None:
    key_entry = {"var": "nvidia_container_toolkit_gpg_key_src", "path": "/in/key", "host": "gpu1"}
    entries = [binary("s1"), binary("a1"), images("s1"), images("a1"), key_entry]
    found = airgap.lookups(entries, [])
    assert found == [{"path": "/in/k3s", "checksum": True}, {"path": "/in/sums.txt", "checksum": False},
                     {"path": "/in/images.tar", "checksum": True}, {"path": "/in/key", "checksum": False}]


def test_a_mismatch_is_refused_per_host_by_variable_name() -> None:
    entries = [images("s1", sum=GOOD), images("a1", sum=f"sha256:{BAD}")]
    result = airgap.verdict(entries, [], [stat("/in/images.tar", GOOD)], {})
    assert "s1" not in result["problems"]
    assert result["problems"]["a1"] == [
        f"k3s_images_src /in/images.tar has sha256 {GOOD} but k3s_images_checksum expects {BAD}: "
        "download the images archive again (or correct k3s_images_checksum). Nothing was copied."]
    assert airgap.key(entries[0]) in result["checked"] and airgap.key(entries[1]) not in result["checked"]


def test_sum_from_the_sums_file_and_its_absence() -> None:
    ok = airgap.verdict([binary("s1")], [], [stat("/in/k3s", GOOD), stat("/in/sums.txt")], {"/in/sums.txt": SUMS})
    assert ok["problems"] == {} and ok["warnings"] == []
    wrong = airgap.verdict([binary("s1", sums_name="k3s-arm64")], [],
                           [stat("/in/k3s", GOOD), stat("/in/sums.txt")], {"/in/sums.txt": SUMS})
    assert wrong["problems"]["s1"] == ["k3s_checksum_src /in/sums.txt has no line '<sha256>  k3s-arm64'. "
                                       "Use the sha256sum-amd64.txt."]
    missing = airgap.verdict([binary("s1")], [], [stat("/in/k3s", GOOD), stat("/in/sums.txt", exists=False)], {})
    assert missing["problems"]["s1"][0].startswith("k3s_checksum_src /in/sums.txt does not exist on the controller")


def test_an_archive_without_a_sum_is_warned_about_once() -> None:
    entries = [images("s1", sums_name="other.tar"), images("a1", sums_name="other.tar")]
    result = airgap.verdict(entries, [], [stat("/in/images.tar", GOOD), stat("/in/sums.txt")], {"/in/sums.txt": SUMS})
    assert result["problems"] == {}
    assert result["warnings"] == [
        "WARNING: k3s_images_src /in/images.tar is copied without a checksum check: k3s_checksum_src "
        "/in/sums.txt has no line for other.tar and k3s_images_checksum is empty. Set k3s_images_checksum to "
        "its sha256 to verify it."]


def test_missing_file_directory_and_bad_sum_format_name_the_variable() -> None:
    gone = airgap.verdict([images("s1", sum=GOOD)], [], [stat("/in/images.tar", exists=False)], {})
    assert gone["problems"]["s1"] == [
        'k3s_images_src /in/images.tar does not exist on the controller: fix the path (the images archive, on '
        'the machine that runs ansible-playbook) or set k3s_images_src to "". Nothing was copied.']
    folder = airgap.verdict([images("s1", sum=GOOD)], [], [stat("/in/images.tar", isreg=False)], {})
    assert "k3s_images_src /in/images.tar is not a regular file on the controller" in folder["problems"]["s1"][0]
    bad = airgap.verdict([images("s1", sum="md5:1234")], [], [stat("/in/images.tar", GOOD)], {})
    assert bad["problems"]["s1"][0].startswith(
        "k3s_images_checksum: 'md5:1234' is not a sha256; set it to \"sha256:<64 hex digits>\"")
    assert bad["problems"]["s1"][0].endswith("(it is the sha256 of the images archive). Nothing was copied.")


def test_what_was_checked_is_not_checked_again_but_a_new_sum_is() -> None:
    first = airgap.verdict([images("s1", sum=GOOD)], [], [stat("/in/images.tar", GOOD)], {})
    assert airgap.pending([images("s1", sum=GOOD), images("a1", sum=GOOD)], first["checked"]) == []
    assert airgap.lookups([images("s1", sum=GOOD)], first["checked"]) == []
    assert airgap.pending([images("s1", sum=BAD)], first["checked"]) == [images("s1", sum=BAD)]
    assert airgap.pending([images("s1", path="")], []) == []  # no path set: nothing to check


def test_sums_files_are_read_only_when_they_are_regular_files() -> None:
    entries = [binary("s1"), images("s1", sums_file="/in/other.txt")]
    stats = [stat("/in/k3s", GOOD), stat("/in/sums.txt"), stat("/in/other.txt", isreg=False)]
    assert airgap.sums_files(entries, [], stats) == ["/in/sums.txt"]
