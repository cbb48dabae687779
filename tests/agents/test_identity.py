"""Identity helpers: placeholder serials/UUIDs/MACs, SMBIOS byte-swapped UUIDs, host names.

Pure unit tests, plus checks on the real Rudder .ocs samples in SAMPLES (skipped when that
folder is missing).
"""

from __future__ import annotations

import pytest
from defusedxml.ElementTree import parse

from agents.inventory.identity import (
    identity_keys,
    is_placeholder_mac,
    is_placeholder_serial,
    is_placeholder_text,
    is_placeholder_uuid,
    normalize_hostname,
    normalize_mac,
    normalize_serial,
    normalize_uuid,
    short_hostname,
    swap_uuid,
    uuid_variants,
)
from tests.samples import SAMPLES

needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"{SAMPLES} is missing")


def bios_and_hardware(path: str) -> tuple[str, str]:
    """Raw ``BIOS/SSN`` and ``HARDWARE/UUID`` of a sample."""
    root = parse(SAMPLES / path, forbid_dtd=True, forbid_entities=True).getroot()
    content = root.find("CONTENT")
    return content.findtext("BIOS/SSN"), content.findtext("HARDWARE/UUID")


# --- serials ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "serial",
    [
        None,
        "",
        "   ",
        "\t\n",
        "Not Specified",
        "not specified",
        "To be filled by O.E.M.",
        "To Be Filled By O.E.M.",
        "TO BE FILLED BY O.E.M",
        "Default string",
        "System Serial Number",
        "Chassis Serial Number",
        "None",
        "N/A",
        "n/a",
        "0",
        "00000000",
        "0000000000",
        "123456789",
        "1234567890",
        "Not Available",
        "INVALID",
        "xxxxxxxxxx",
        "XXXXXXXXXX",
        "FFFF-FFFF",
        "-",
        "..",
        "ab",
        "  Not Specified  ",
    ],
)
def test_placeholder_serials(serial):
    assert is_placeholder_serial(serial)
    assert normalize_serial(serial) == ""


@pytest.mark.parametrize(
    "serial",
    ["8C554721F", "2FAGP34", "CZC0479792", "SSI1912014B", "13245687", "5a30d8711bbadc9d", "ABC"],
)
def test_real_serials(serial):
    assert not is_placeholder_serial(serial)
    assert normalize_serial(f"  {serial} ") == serial  # case kept, spaces stripped


def test_placeholder_text_for_models_and_vendors():
    assert is_placeholder_text("System manufacturer")
    assert is_placeholder_text("System Product Name")
    assert is_placeholder_text("To Be Filled By O.E.M.")
    assert not is_placeholder_text("Dell Inc.")
    assert not is_placeholder_text("0")  # a number is not junk as text; only as a serial


# --- UUIDs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "00000000-0000-0000-0000-000000000000",
        "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF",
        "ffffffff-ffff-ffff-ffff-ffffffffffff",
        "03000200-0400-0500-0006-000700080009",
        "00020003-0004-0005-0006-000700080009",  # the same, byte-swapped
        "AAAAAAA-BBBBBB-CCCCCCC",  # mint.ocs
        "gsdf-sdfsdf-sdfsdf-sdfsdf-sdfsdf",
        "test-uuid-locked-states-001",
        "5a30d8711bbadc9d",  # an Android id
        "0055ADC9-1D3A-E411-8043-B05D95113232-EXTRA",
        "not a uuid",
    ],
)
def test_placeholder_uuids(value):
    assert is_placeholder_uuid(value)
    assert normalize_uuid(value) == ""
    assert uuid_variants(value) == set()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0055ADC9-1D3A-E411-8043-B05D95113232", "0055adc9-1d3a-e411-8043-b05d95113232"),
        ("{0055ADC9-1D3A-E411-8043-B05D95113232}", "0055adc9-1d3a-e411-8043-b05d95113232"),
        (" 0055adc9-1d3a-e411-8043-b05d95113232 ", "0055adc9-1d3a-e411-8043-b05d95113232"),
        ("0055ADC91D3AE4118043B05D95113232", "0055adc9-1d3a-e411-8043-b05d95113232"),
        ("urn:uuid:0055adc9-1d3a-e411-8043-b05d95113232", "0055adc9-1d3a-e411-8043-b05d95113232"),
        # GLPI's obfuscated samples use non-hex letters: the shape is what counts
        ("4BDRGGFE-0046-4710-8047-B2C04F503732", "4bdrggfe-0046-4710-8047-b2c04f503732"),
        ("00000000-0000-1000-8000-0017F2D11432", "00000000-0000-1000-8000-0017f2d11432"),
    ],
)
def test_normalize_uuid(value, expected):
    assert not is_placeholder_uuid(value)
    assert normalize_uuid(value) == expected


def test_uuid_variants_are_the_smbios_byte_swap():
    dell = "4C4C4544-0042-3510-8052-B4C04F4B4D32"
    swapped = "44454C4C-4200-1035-8052-B4C04F4B4D32"
    assert uuid_variants(dell) == {
        "4c4c4544-0042-3510-8052-b4c04f4b4d32",
        "44454c4c-4200-1035-8052-b4c04f4b4d32",
    }
    assert uuid_variants(dell) == uuid_variants(swapped)
    assert swap_uuid(swap_uuid("4c4c4544-0042-3510-8052-b4c04f4b4d32")) == (
        "4c4c4544-0042-3510-8052-b4c04f4b4d32"
    )


@needs_samples
@pytest.mark.parametrize(
    "path",
    [
        "rudder-ocs/windows2012r2.ocs",
        "rudder-ocs/windows2019.ocs",
        "rudder-ocs/WIN-AI8CLNPLOV5-2014-06-20-18-15-49.ocs",
    ],
)
def test_windows_vm_bios_serial_is_the_byte_swapped_uuid(path):
    ssn, uuid = bios_and_hardware(path)
    assert normalize_uuid(ssn) != normalize_uuid(uuid)  # spelled differently…
    assert swap_uuid(normalize_uuid(ssn)) == normalize_uuid(uuid)  # …one byte swap apart
    assert uuid_variants(ssn) & uuid_variants(uuid)
    assert uuid_variants(ssn) == uuid_variants(uuid)


@needs_samples
def test_case_differs_between_serial_and_uuid():
    ssn, uuid = bios_and_hardware(
        "rudder-ocs/8.2_WORKSTATION1-8f94b6a2-5cb6-4f76-9fa7-467e8b22f5e7.ocs"
    )
    assert ssn != uuid and ssn.lower() == uuid.lower()
    assert normalize_uuid(ssn) == normalize_uuid(uuid)


@needs_samples
def test_sample_placeholders():
    ssn, uuid = bios_and_hardware("rudder-ocs/centos-6-64-with-duplicate-software.ocs")
    assert ssn == "Not Specified" and is_placeholder_serial(ssn)
    assert not is_placeholder_uuid(uuid)
    ssn, uuid = bios_and_hardware("rudder-ocs/mint.ocs")
    assert uuid == "AAAAAAA-BBBBBB-CCCCCCC" and is_placeholder_uuid(uuid)
    root = parse(SAMPLES / "rudder-ocs/windows2012r2.ocs", forbid_dtd=True).getroot()
    msn = root.findtext("CONTENT/BIOS/MSN")
    assert msn == "0" and is_placeholder_serial(msn)  # VirtualBox motherboard serial


# --- MACs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("00-1A-2B-3C-4D-5E", "00:1a:2b:3c:4d:5e"),
        ("001a.2b3c.4d5e", "00:1a:2b:3c:4d:5e"),
        ("00:1A:2B:3C:4D:5E", "00:1a:2b:3c:4d:5e"),
        ("001A2B3C4D5E", "00:1a:2b:3c:4d:5e"),
        ("00:1a:2b", ""),
        (None, ""),
    ],
)
def test_normalize_mac(value, expected):
    assert normalize_mac(value) == expected


@pytest.mark.parametrize(
    "mac",
    [
        "",
        "garbage",
        "00:00:00:00:00:00",
        "FF:FF:FF:FF:FF:FF",
        "02:00:4C:4F:4F:50",  # Npcap loopback
        "20:41:53:59:4e:ff",  # Windows RAS async adapter
        "00:50:56:c0:00:08",  # VMware NAT adapter on the host
        "0a:00:27:00:00:09",  # VirtualBox host-only adapter (mint.ocs)
        "01:00:5e:00:00:fb",  # multicast
        "61:B5:99:E6:84:EA",  # multicast bit set (invfmt-tests-data-2.xml)
        "11:11:11:11:11:11",
    ],
)
def test_placeholder_macs(mac):
    assert is_placeholder_mac(mac)


@pytest.mark.parametrize(
    "mac", ["b8:6b:23:e0:5c:81", "08:00:27:D5:9D:5A", "52:54:00:f5:dc:a3", "ae:ed:e7:56:9b:a0"]
)
def test_real_macs(mac):
    assert not is_placeholder_mac(mac)


# --- host names ------------------------------------------------------------------------------


def test_hostnames():
    assert normalize_hostname("  LF014.glpi-project.infra. ") == "lf014.glpi-project.infra"
    assert short_hostname("LF014.glpi-project.infra.") == "lf014"
    assert short_hostname("agent1") == "agent1"
    assert short_hostname("10.0.2.15") == "10.0.2.15"
    assert short_hostname("") == normalize_hostname(None) == ""


# --- identity keys ---------------------------------------------------------------------------


def test_identity_keys():
    report = {
        "device_id": "agent1-2017-06-22-07-27-59",
        "device": {
            "hostname": "Agent1.example.org",
            "uuid": "f960f56f-cc9a-5649-ad59-bd97f49e72a7",
            "serial_number": "6FF560F9-9ACC-4956-AD59-BD97F49E72A7",
            "macs": ["08:00:27:d5:9d:5a", "00:00:00:00:00:00"],
        },
    }
    keys = identity_keys(report)
    assert keys["uuids"] == {
        "f960f56f-cc9a-5649-ad59-bd97f49e72a7",
        "6ff560f9-9acc-4956-ad59-bd97f49e72a7",
    }
    assert keys["serial_uuids"] == keys["uuids"]
    assert keys["serial"] == "6FF560F9-9ACC-4956-AD59-BD97F49E72A7"
    assert keys["macs"] == {"08:00:27:d5:9d:5a"}
    assert (keys["hostname"], keys["short_hostname"]) == ("agent1.example.org", "agent1")
    assert keys["device_id"] == "agent1-2017-06-22-07-27-59"
    assert identity_keys(report["device"])["device_id"] == ""
    plain = identity_keys({"device": {"serial_number": "To be filled by O.E.M."}})
    assert plain["serial"] == "" and plain["serial_uuids"] == set() and plain["uuids"] == set()
