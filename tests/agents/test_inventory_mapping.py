"""Inventory mapping on real agent samples: GLPI JSON, FusionInventory XML, Rudder .ocs, native.

The samples live outside the repository (see SAMPLES/README.md); the module is skipped when
that folder is missing.
"""

from __future__ import annotations

import copy
import functools
import json

import pytest

from agents.inventory import (
    SECTIONS,
    InventoryFormatError,
    normalize_report,
    normalize_xml,
)
from agents.inventory.identity import identity_keys, is_placeholder_serial, is_placeholder_uuid
from agents.inventory.normalized import NAME_MAX, VERSION_MAX
from tests.samples import SAMPLES

pytestmark = pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"{SAMPLES} is missing")

GLPI_FILES = (
    sorted(p.name for p in (SAMPLES / "glpi-json").glob("*.json")) if SAMPLES.is_dir() else []
)
XML_FILES = (
    sorted(
        [f"fusion-xml/{p.name}" for p in (SAMPLES / "fusion-xml").glob("*.xml")]
        + [f"rudder-ocs/{p.name}" for p in (SAMPLES / "rudder-ocs").glob("*.ocs")]
    )
    if SAMPLES.is_dir()
    else []
)


@functools.cache
def _glpi_document(name: str) -> str:
    return (SAMPLES / "glpi-json" / name).read_text(encoding="utf-8")


def glpi_document(name: str) -> dict:
    return json.loads(_glpi_document(name))


@functools.cache
def _glpi_report(name: str) -> str:
    body = {"format": "glpi-inventory", "inventory": glpi_document(name)}
    return json.dumps(normalize_report(body))


def glpi(name: str) -> dict:
    """The normalised report of a GLPI sample (a fresh copy each call)."""
    return json.loads(_glpi_report(name))


@functools.cache
def _xml_report(path: str) -> str:
    return json.dumps(normalize_xml((SAMPLES / path).read_bytes()))


def xml(path: str) -> dict:
    return json.loads(_xml_report(path))


def assert_shape(report: dict) -> None:
    """Every normalised report has exactly the documented shape."""
    assert set(report) == {
        "format",
        "item_type",
        "partial",
        "sections",
        "collected_at",
        "device_id",
        "device",
        "network",
        "storage",
        "software",
        "security",
        "events",
    }
    assert report["format"] in ("itsm-inventory/1", "glpi-inventory", "fusion-xml")
    assert report["item_type"] in ("computer", "printer", "network_equipment", "phone")
    assert isinstance(report["partial"], bool)
    assert report["sections"] == sorted(set(report["sections"]))
    assert set(report["sections"]) <= set(SECTIONS)
    assert report["collected_at"] is None or isinstance(report["collected_at"], str)
    assert isinstance(report["device_id"], str)
    device = report["device"]
    assert set(device) == {
        "hostname",
        "uuid",
        "serial_number",
        "manufacturer",
        "model",
        "os",
        "cpu",
        "memory_mb",
        "macs",
    }
    assert set(device["os"]) == {"name", "version", "kernel", "arch"}
    assert set(device["cpu"]) == {"model", "cores", "threads", "count"}
    assert device["memory_mb"] is None or isinstance(device["memory_mb"], int)
    for mac in device["macs"]:
        assert len(mac) == 17 and mac == mac.lower()
    for interface in report["network"]:
        assert set(interface) == {"name", "mac", "ipv4", "ipv6"}
    for volume in report["storage"]:
        assert set(volume) == {"mount", "device", "filesystem", "size_mb", "used_mb"}
        assert volume["size_mb"] is None or isinstance(volume["size_mb"], int)
    keys = [(s["name"], s["version"], s["vendor"]) for s in report["software"]]
    assert len(keys) == len(set(keys))
    for entry in report["software"]:
        assert entry["name"] and len(entry["name"]) <= NAME_MAX
        assert len(entry["version"]) <= VERSION_MAX
    assert isinstance(report["security"], dict)
    assert isinstance(report["events"], list)


# --- GLPI JSON -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", GLPI_FILES)
def test_every_glpi_sample_maps(name):
    report = glpi(name)
    assert_shape(report)
    assert report["format"] == "glpi-inventory"
    assert report["device_id"] == glpi_document(name)["deviceid"]
    assert "device" in report["sections"]


def test_glpi_content_at_top_level_gives_the_same_report():
    document = glpi_document("computer_2_partial_dbs.json")
    body = {"format": "glpi-inventory", **document}
    assert normalize_report(body) == glpi("computer_2_partial_dbs.json")


def test_computer_3_large_report():
    report = glpi("computer_3.json")
    assert len(glpi_document("computer_3.json")["content"]["softwares"]) == 3033
    # 28 multilib packages appear twice (i686 and x86_64) with the same name/version/vendor
    assert len(report["software"]) == 3005 > 2900
    device = report["device"]
    assert device["hostname"] == "LF014"
    assert device["uuid"] == "0055adc9-1d3a-e411-8043-b05d95113232"
    assert device["serial_number"] == "8C554721F"
    assert (device["manufacturer"], device["model"]) == ("TOSHIBA", "PORTEGE Z30-A")
    assert device["os"] == {
        "name": "Fedora release 25 (Twenty Five)",
        "version": "25",
        "kernel": "4.9.9-200.fc25.x86_64",
        "arch": "x86_64",
    }
    assert device["cpu"] == {
        "model": "Intel(R) Core(TM) i5-4210U CPU @ 1.70GHz",
        "cores": 2,
        "threads": 4,
        "count": 1,
    }
    assert device["memory_mb"] == 7909
    assert report["partial"] is False
    assert report["sections"] == ["device", "hardware", "network", "os", "software", "storage"]
    assert report["collected_at"] == "2017-02-20T13:23:05"
    # loopback and flagged virtual interfaces (virbr0…) are left out, IPv4/IPv6 entries joined
    names = [i["name"] for i in report["network"]]
    assert "lo" not in names and "virbr0" not in names
    enp = next(i for i in report["network"] if i["name"] == "enp0s25")
    assert enp == {
        "name": "enp0s25",
        "mac": "b8:6b:23:e0:5c:81",
        "ipv4": ["172.28.220.96"],
        "ipv6": ["fe80::ba6b:23ff:fee0:5c81"],
    }
    assert device["macs"] == ["b8:6b:23:e0:5c:81", "30:3a:64:ee:65:88"]
    root = next(v for v in report["storage"] if v["mount"] == "/")
    assert root == {
        "mount": "/",
        "device": "/dev/mapper/fedora-root",
        "filesystem": "ext4",
        "size_mb": 50268,
        "used_mb": 50268 - 13336,
    }


def test_computer_3_updated_is_the_same_machine():
    before, after = glpi("computer_3.json"), glpi("computer_3_updated.json")
    assert after["device"]["uuid"] == before["device"]["uuid"]
    assert after["device"]["serial_number"] == before["device"]["serial_number"]
    assert after["device_id"] == before["device_id"]
    assert identity_keys(after)["uuids"] == identity_keys(before)["uuids"]
    assert len(after["software"]) == 3155
    assert after["security"] == {"firewall_enabled": True, "antivirus": []}
    assert "security" in after["sections"] and "security" not in before["sections"]


def test_partial_report_without_software_keeps_software():
    report = glpi("computer_2_partial_dbs.json")
    assert report["partial"] is True
    assert "software" not in report["sections"]
    assert "device" in report["sections"]
    assert "os" not in report["sections"]
    assert report["device"]["serial_number"] == "2FAGP34"
    # the obfuscated UUID has non-hex letters but the right shape: still an identity
    assert report["device"]["uuid"] == "4bdrggfe-0046-4710-8047-b2c04f503732"


def test_glpi_software_sequence():
    full_without_software = glpi(
        "glpi-software__04_computer_full_inventory_with_os_without_soft.json"
    )
    assert full_without_software["partial"] is False
    assert "software" not in full_without_software["sections"]
    assert "os" in full_without_software["sections"]
    assert full_without_software["security"]["antivirus"] == [
        {"name": "Windows Defender", "enabled": True, "uptodate": True}
    ]

    partial_software = glpi("glpi-software__05_computer_full_inventory_without_os_with_soft.json")
    assert partial_software["partial"] is True
    assert "software" in partial_software["sections"]
    assert "os" not in partial_software["sections"]
    teclib = {"name": "Teclib Software Software", "version": "2.20.4853.2486", "vendor": "Teclib"}
    assert partial_software["software"] == [teclib]
    for key in ("hostname", "serial_number"):
        assert partial_software["device"][key] == full_without_software["device"][key]

    other_machine = glpi("glpi-software__01_computer_full_inventory_soft_and_os.json")
    assert other_machine["software"] == [teclib]
    assert other_machine["device"]["serial_number"] != partial_software["device"]["serial_number"]


def test_ampersands_in_software_survive_unchanged():
    report = glpi("glpi-softwares__01-test_software_with_special_chars_with_version.json")
    assert report["software"] == [
        {
            "name": "SoundCloud - Music & Songs",
            "version": "2.0.0.0",
            "vendor": "SoundCloud Global Limited & Co. KG",
        }
    ]


@pytest.mark.parametrize(
    ("name", "serial", "mac"),
    [
        ("printer_1.json", "PHCVN191TG", "00:68:eb:f2:be:10"),
        ("printer_2.json", "SDFSDF9874", "00:85:eb:f4:be:20"),
        ("printer_3.json", "SDFSDF9874", "00:85:eb:f4:be:20"),
    ],
)
def test_printers(name, serial, mac):
    report = glpi(name)
    assert report["item_type"] == "printer"
    assert report["device"]["serial_number"] == serial
    assert report["device"]["macs"] == [mac]
    assert report["device"]["os"]["version"]  # firmware
    assert "software" not in report["sections"]


def test_printer_update_is_the_same_device():
    before, after = glpi("printer_2.json"), glpi("printer_3.json")
    assert before["device_id"] == after["device_id"]
    assert identity_keys(before)["macs"] == identity_keys(after)["macs"]
    assert before["device"]["serial_number"] == after["device"]["serial_number"]


@pytest.mark.parametrize(
    ("name", "serial", "mac"),
    [
        ("networkequipment_1.json", "SSI1912014B", "8c:60:4f:8d:ae:fc"),
        ("networkequipment_2.json", "FOC1243W0ED", "00:23:ac:6a:01:00"),
        ("networkequipment_3.json", "CN5BFP62CP", "b0:5a:da:10:10:80"),
        ("networkequipment_4.json", "FCH1946V219", "58:ac:78:59:45:fb"),
    ],
)
def test_network_equipment(name, serial, mac):
    report = glpi(name)
    assert report["item_type"] == "network_equipment"
    assert report["device"]["serial_number"] == serial
    assert report["device"]["macs"] == [mac]
    assert report["device"]["manufacturer"]
    assert "network" in report["sections"]


def test_network_equipment_addresses():
    report = glpi("networkequipment_1.json")
    management = report["network"][0]
    # the device's addresses that no port carries; 127.0.0.1 is dropped
    assert management == {
        "name": "management",
        "mac": "8c:60:4f:8d:ae:fc",
        "ipv4": ["10.2.5.10", "192.168.12.5"],
        "ipv6": [],
    }
    assert len(report["network"]) == 184


# --- FusionInventory / Rudder XML ------------------------------------------------------------


@pytest.mark.parametrize("path", XML_FILES)
def test_every_xml_sample_parses(path):
    report = xml(path)
    assert_shape(report)
    assert report["format"] == "fusion-xml"
    assert report["partial"] is False
    assert report["device_id"]
    assert report["device"]["hostname"]
    assert {"device", "os", "hardware", "software"} <= set(report["sections"])


def test_xml_software_counts_match_the_manifest():
    manifest = json.loads((SAMPLES / "manifest.json").read_text(encoding="utf-8"))
    duplicates = {
        # entries repeated with the same name, version and publisher
        "rudder-ocs/8.2_WORKSTATION1-8f94b6a2-5cb6-4f76-9fa7-467e8b22f5e7.ocs": 9,
        "rudder-ocs/WIN-AI8CLNPLOV5-2014-06-20-18-15-49.ocs": 1,
        "rudder-ocs/centos-6-64-with-duplicate-software.ocs": 1,
    }
    for entry in manifest["files"]:
        if entry["file"] in XML_FILES:
            expected = entry["n_softwares"] - duplicates.get(entry["file"], 0)
            assert len(xml(entry["file"])["software"]) == expected, entry["file"]


def test_same_machine_across_formats():
    from_xml = xml("fusion-xml/invfmt-tests-data-1.xml")
    from_json = glpi("computer_3.json")
    assert from_xml["device"]["uuid"] == from_json["device"]["uuid"]
    assert from_xml["device"]["uuid"] == "0055adc9-1d3a-e411-8043-b05d95113232"
    assert from_xml["device"]["hostname"] == from_json["device"]["hostname"] == "LF014"
    assert identity_keys(from_xml)["uuids"] & identity_keys(from_json)["uuids"]


def test_machines_all_named_agent1_are_distinct():
    paths = [
        "rudder-ocs/windows2012r2.ocs",
        "rudder-ocs/alma.ocs",
        "rudder-ocs/7.0_agent1-f91b7513-e62b-4cfa-8742-31bd09f6aa4e.ocs",
    ]
    keys = [identity_keys(xml(path)) for path in paths]
    assert {k["short_hostname"] for k in keys} == {"agent1"}
    for i, first in enumerate(keys):
        for second in keys[i + 1 :]:
            assert first["uuids"] and second["uuids"]
            assert not first["uuids"] & second["uuids"]
            assert first["serial"].casefold() != second["serial"].casefold()
            assert not first["macs"] & second["macs"]


def test_placeholders_are_recognised():
    centos = xml("rudder-ocs/centos-6-64-with-duplicate-software.ocs")
    raw_ssn = "Not Specified"
    assert raw_ssn in (SAMPLES / "rudder-ocs/centos-6-64-with-duplicate-software.ocs").read_text(
        encoding="utf-8"
    )
    assert is_placeholder_serial(raw_ssn)
    assert centos["device"]["serial_number"] == ""
    assert centos["device"]["uuid"] == "44799357-3db8-5a9f-f366-aed334e6da2b"

    mint = xml("rudder-ocs/mint.ocs")
    assert is_placeholder_uuid("AAAAAAA-BBBBBB-CCCCCCC")
    assert mint["device"]["uuid"] == ""
    assert mint["device"]["serial_number"] == "13245687"
    # lo and the VirtualBox host-only adapter (0a:00:27:00:00:09) give no MAC
    assert mint["device"]["macs"] == []

    # VirtualBox motherboard serial "0": the system serial is used, never the MSN
    windows = xml("rudder-ocs/windows2012r2.ocs")
    assert is_placeholder_serial("0")
    assert windows["device"]["serial_number"] == "6FF560F9-9ACC-4956-AD59-BD97F49E72A7"


def test_windows_vm_serial_is_the_byte_swapped_uuid():
    for path in (
        "rudder-ocs/windows2012r2.ocs",
        "rudder-ocs/windows2019.ocs",
        "rudder-ocs/WIN-AI8CLNPLOV5-2014-06-20-18-15-49.ocs",
    ):
        keys = identity_keys(xml(path))
        assert keys["uuids"] & keys["serial_uuids"], path


def test_french_strings_are_preserved():
    report = xml("fusion-xml/invfmt-tests-data-2.xml")
    assert report["device"]["os"]["name"] == "Microsoft Windows 8.1 Professionnel"
    names = [i["name"] for i in report["network"]]
    assert "Connexion réseau Intel(R) 82577LM Gigabit" in names
    assert "Périphérique Bluetooth (réseau personnel)" in names
    assert "Réservé au système" in [v["mount"] for v in report["storage"]]
    assert report["security"]["antivirus"] == [
        {"name": "Windows Defender", "enabled": True, "uptodate": True},
        {"name": "Kaspersky Endpoint Security 10 for Windows", "enabled": True, "uptodate": True},
    ]


def test_android_phone():
    report = xml("fusion-xml/invfmt-tests-data-13.xml")
    assert report["item_type"] == "phone"
    assert report["device"]["serial_number"] == "5a30d8711bbadc9d"
    assert report["device"]["uuid"] == ""  # an Android id, not a UUID


def test_macos_interfaces_all_flagged_virtual_are_kept():
    report = xml("fusion-xml/invfmt-tests-data-3.xml")
    assert "00:19:e3:db:64:d2" in report["device"]["macs"]
    assert report["device"]["memory_mb"] == 4000  # no HARDWARE/MEMORY: sum of the modules


def test_rudder_multi_cpu():
    assert xml("rudder-ocs/cpus-count.ocs")["device"]["cpu"]["count"] == 6
    assert xml("rudder-ocs/raspbian.ocs")["device"]["cpu"] == {
        "model": "ARMv7 Processor rev 4 (v7l)",
        "cores": 4,
        "threads": 4,
        "count": 4,
    }


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<REQUEST><CONTENT><HARDWARE><NAME>&lol4;</NAME></HARDWARE></CONTENT>
<DEVICEID>x</DEVICEID><QUERY>INVENTORY</QUERY></REQUEST>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<REQUEST><CONTENT><HARDWARE><NAME>&x;</NAME></HARDWARE></CONTENT>
<DEVICEID>x</DEVICEID><QUERY>INVENTORY</QUERY></REQUEST>"""

DOCTYPE_ONLY = b"""<?xml version="1.0"?>
<!DOCTYPE REQUEST SYSTEM "http://example.invalid/request.dtd">
<REQUEST><CONTENT/><DEVICEID>x</DEVICEID><QUERY>INVENTORY</QUERY></REQUEST>"""


@pytest.mark.parametrize("data", [BILLION_LAUGHS, XXE, DOCTYPE_ONLY])
def test_xml_with_dtd_or_entities_is_refused(data):
    with pytest.raises(InventoryFormatError, match="not allowed"):
        normalize_xml(data)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not xml",
        b"<REQUEST><CONTENT>",
        b"<OTHER/>",
        b"<REQUEST><DEVICEID>x</DEVICEID></REQUEST>",
        b"<REQUEST><CONTENT/><QUERY>PROLOG</QUERY></REQUEST>",
        "<REQUEST><CONTENT><BIOS><SSN><X/></SSN></BIOS></CONTENT></REQUEST>",
        None,
    ],
)
def test_malformed_xml_is_refused(data):
    with pytest.raises(InventoryFormatError):
        normalize_xml(data)


def test_xml_markup_characters_are_data():
    data = (
        "<?xml version='1.0' encoding='UTF-8'?><REQUEST><CONTENT>"
        "<HARDWARE><NAME>pc-é</NAME><UUID>{4C4C4544-0042-3510-8052-B4C04F4B4D32}</UUID></HARDWARE>"
        "<BIOS><SSN>To Be Filled By O.E.M.</SSN><MSN>BOARD-42</MSN></BIOS>"
        "<SOFTWARES><NAME>Tom &amp; Jerry &lt;script&gt;</NAME><VERSION>1 &gt; 0</VERSION>"
        "<PUBLISHER>A&amp;B</PUBLISHER></SOFTWARES>"
        "<SOFTWARES><NAME><![CDATA[<b>bold</b>]]></NAME></SOFTWARES>"
        "</CONTENT><DEVICEID>pc-1</DEVICEID><QUERY>INVENTORY</QUERY></REQUEST>"
    ).encode()
    report = normalize_xml(data)
    assert report["software"] == [
        {"name": "Tom & Jerry <script>", "version": "1 > 0", "vendor": "A&B"},
        {"name": "<b>bold</b>", "version": "", "vendor": ""},
    ]
    assert report["device"]["hostname"] == "pc-é"
    assert report["device"]["uuid"] == "4c4c4544-0042-3510-8052-b4c04f4b4d32"
    assert report["device"]["serial_number"] == "BOARD-42"  # SSN is junk: board serial used
    assert report["sections"] == ["device", "software"]


def test_xml_snmp_network_inventory():
    data = b"""<?xml version="1.0" encoding="UTF-8"?>
<REQUEST><CONTENT><DEVICE>
  <INFO><NAME>core-sw1</NAME><SERIAL>FOC123</SERIAL><MAC>00:1B:2C:3D:4E:5F</MAC>
    <MODEL>C9300</MODEL><MANUFACTURER>Cisco</MANUFACTURER><TYPE>NETWORKING</TYPE>
    <FIRMWARE>17.3</FIRMWARE><IPS><IP>10.0.0.1</IP><IP>10.0.1.1</IP></IPS></INFO>
  <PORTS><PORT><IFNAME>Gi1/0/1</IFNAME><MAC>00:1b:2c:3d:4e:60</MAC></PORT>
    <PORT><IFNAME>Vlan10</IFNAME><MAC>00:1b:2c:3d:4e:61</MAC><IPS><IP>10.0.1.1</IP></IPS></PORT>
  </PORTS></DEVICE></CONTENT><DEVICEID>core-sw1-2024</DEVICEID><QUERY>SNMPQUERY</QUERY></REQUEST>"""
    report = normalize_xml(data)
    assert report["item_type"] == "network_equipment"
    assert report["device"]["serial_number"] == "FOC123"
    assert report["device"]["macs"] == ["00:1b:2c:3d:4e:5f"]
    assert report["device"]["os"]["version"] == "17.3"
    assert report["network"] == [
        {"name": "management", "mac": "00:1b:2c:3d:4e:5f", "ipv4": ["10.0.0.1"], "ipv6": []},
        {"name": "Gi1/0/1", "mac": "00:1b:2c:3d:4e:60", "ipv4": [], "ipv6": []},
        {"name": "Vlan10", "mac": "00:1b:2c:3d:4e:61", "ipv4": ["10.0.1.1"], "ipv6": []},
    ]


# --- GLPI errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        {},
        {"format": "something-else"},
        {"format": "glpi-inventory"},
        {"format": "glpi-inventory", "inventory": "x"},
        {"format": "glpi-inventory", "content": []},
        {"format": "glpi-inventory", "content": {}, "partial": "maybe"},
        {"format": "glpi-inventory", "content": {}, "itemtype": "Toaster"},
        {"format": "glpi-inventory", "content": {"softwares": 5}},
        {"format": "glpi-inventory", "content": {"softwares": ["x"]}},
        {"format": "glpi-inventory", "content": {"hardware": []}},
        {"format": "glpi-inventory", "content": {"hardware": {"name": {"nested": 1}}}},
    ],
)
def test_malformed_reports_are_refused(body):
    with pytest.raises(InventoryFormatError):
        normalize_report(body)


def test_glpi_minimal_and_bounded():
    body = {
        "format": "glpi-inventory",
        "deviceid": "d1",
        "content": {
            "hardware": {
                "name": "  host.example.org.  ",
                "uuid": "00000000-0000-0000-0000-000000000000",
            },
            "bios": {
                "ssn": "To be filled by O.E.M.",
                "msn": "0",
                "smanufacturer": "Default string",
            },
            "softwares": [
                {"name": "x" * 300, "version": "1" * 200, "publisher": "p\x00q"},
                {"name": "  "},
                {"name": "x" * 300, "version": "1" * 200, "publisher": "pq"},
            ],
        },
    }
    report = normalize_report(body)
    assert report["device"]["hostname"] == "host.example.org"
    assert report["device"]["uuid"] == ""
    assert report["device"]["serial_number"] == ""
    assert report["device"]["manufacturer"] == ""
    assert report["software"] == [{"name": "x" * 255, "version": "1" * 100, "vendor": "pq"}]
    assert report["sections"] == ["device", "software"]
    assert report["item_type"] == "computer"


# --- native itsm-inventory/1 -----------------------------------------------------------------

NATIVE = {
    "format": "itsm-inventory/1",
    "collected_at": "2026-11-22T09:00:00Z",
    "agent": {"name": "itsm-agent", "version": "1.0"},
    "device": {
        "hostname": "web-01.example.org",
        "uuid": "4C4C4544-0042-3510-8052-B4C04F4B4D32",
        "serial_number": "5RZ4XK2",
        "manufacturer": "Dell Inc.",
        "model": "PowerEdge R640",
        "os": {
            "name": "Debian GNU/Linux 12 (bookworm)",
            "version": "12",
            "kernel": "6.1.0-13-amd64",
        },
        "cpu": {"model": "Intel(R) Xeon(R) Gold 6254", "cores": 18, "threads": 36},
        "memory_mb": 16384,
    },
    "network": [
        {
            "name": "eno1",
            "mac": "3C-EC-EF-00-11-22",
            "ipv4": ["192.0.2.10"],
            "ipv6": ["2001:db8::10/64"],
        },
        {"name": "docker0", "mac": "02:42:ac:11:00:01", "ipv4": ["172.17.0.1"], "ipv6": []},
    ],
    "storage": [
        {
            "mount": "/",
            "device": "/dev/sda1",
            "size_mb": 100000,
            "used_mb": 25000,
            "filesystem": "ext4",
        }
    ],
    "software": [
        {"name": "openssl", "version": "3.0.11-1~deb12u2", "vendor": "Debian"},
        {"name": "openssl", "version": "3.0.11-1~deb12u2", "vendor": "Debian"},
        {"name": "AT&T <tools>", "version": "1.0", "vendor": "Société Générale"},
    ],
    "security": {
        "firewall_enabled": True,
        "firewall": "nftables",
        "ssh": {"permit_root_login": False, "password_authentication": None},
    },
    "events": [
        {
            "at": "2026-11-22T08:12:00Z",
            "kind": "failed_login",
            "detail": "Failed password for root from 198.51.100.7",
        }
    ],
}


def test_native_report_maps():
    report = normalize_report(copy.deepcopy(NATIVE))
    assert_shape(report)
    assert report["format"] == "itsm-inventory/1"
    assert report["device_id"] == ""
    assert report["sections"] == sorted(SECTIONS)
    assert report["collected_at"] == "2026-11-22T09:00:00+00:00"
    device = report["device"]
    assert device["uuid"] == "4c4c4544-0042-3510-8052-b4c04f4b4d32"
    assert device["os"] == {
        "name": "Debian GNU/Linux 12 (bookworm)",
        "version": "12",
        "kernel": "6.1.0-13-amd64",
        "arch": "",
    }
    assert device["cpu"] == {
        "model": "Intel(R) Xeon(R) Gold 6254",
        "cores": 18,
        "threads": 36,
        "count": None,
    }
    assert device["macs"] == ["3c:ec:ef:00:11:22"]  # docker0 is not the machine's
    assert report["network"][0] == {
        "name": "eno1",
        "mac": "3c:ec:ef:00:11:22",
        "ipv4": ["192.0.2.10"],
        "ipv6": ["2001:db8::10"],
    }
    assert report["software"] == [
        {"name": "openssl", "version": "3.0.11-1~deb12u2", "vendor": "Debian"},
        {"name": "AT&T <tools>", "version": "1.0", "vendor": "Société Générale"},
    ]
    assert report["security"] == {
        "firewall_enabled": True,
        "firewall": "nftables",
        "ssh": {"permit_root_login": False, "password_authentication": None},
    }
    assert report["events"] == [
        {
            "at": "2026-11-22T08:12:00+00:00",
            "kind": "failed_login",
            "detail": "Failed password for root from 198.51.100.7",
        }
    ]


def test_native_report_round_trips():
    first = normalize_report(copy.deepcopy(NATIVE))
    body = {
        key: first[key]
        for key in ("device", "network", "storage", "software", "security", "events")
    }
    body.update(format="itsm-inventory/1", collected_at=first["collected_at"])
    second = normalize_report(json.loads(json.dumps(body)))
    assert second == first


def test_native_sections_follow_the_keys_sent():
    report = normalize_report(
        {
            "format": "itsm-inventory/1",
            "device": {"hostname": "h", "uuid": "", "serial_number": "", "os": {"name": "Linux"}},
            "software": [],
        }
    )
    assert report["sections"] == ["device", "os", "software"]
    assert report["software"] == []
    assert report["collected_at"] is None


@pytest.mark.parametrize(
    "change",
    [
        {"collected_at": "yesterday"},
        {"device": "web-01"},
        {"device": {"os": []}},
        {"network": {"name": "eth0"}},
        {"network": [{"name": "eth0", "ipv4": 5}]},
        {"storage": ["/"]},
        {"software": [{"name": ["x"]}]},
        {"security": []},
        {"events": [{"kind": ""}]},
        {"events": [{"kind": "x", "at": "not a date"}]},
        {"item_type": "toaster"},
        {"partial": "perhaps"},
        {"software": [{"name": "x"}] * 50_001},
    ],
)
def test_native_malformed_reports_are_refused(change):
    body = copy.deepcopy(NATIVE)
    body.update(change)
    with pytest.raises(InventoryFormatError):
        normalize_report(body)


def test_xml_encodings():
    latin1_declared = (
        "<?xml version='1.0' encoding='ISO-8859-1'?><REQUEST><CONTENT>"
        "<HARDWARE><NAME>poste-comptabilité</NAME></HARDWARE></CONTENT>"
        "<DEVICEID>d</DEVICEID><QUERY>INVENTORY</QUERY></REQUEST>"
    ).encode("latin-1")
    assert normalize_xml(latin1_declared)["device"]["hostname"] == "poste-comptabilité"
    # declared UTF-8 but written in Latin-1 (old agents): kept, the bad byte replaced
    mislabelled = latin1_declared.replace(b"ISO-8859-1", b"UTF-8")
    assert normalize_xml(mislabelled)["device"]["hostname"] == "poste-comptabilit\ufffd"


def test_xml_empty_sections_say_nothing():
    data = (
        b"<REQUEST><CONTENT><HARDWARE><NAME>h</NAME></HARDWARE><SOFTWARES/><VMS>\n</VMS>"
        b"<VERSIONCLIENT>FusionInventory-Agent_v2.6</VERSIONCLIENT></CONTENT>"
        b"<DEVICEID>d</DEVICEID><QUERY>INVENTORY</QUERY></REQUEST>"
    )
    report = normalize_xml(data)
    assert report["sections"] == ["device"]


def test_glpi_null_section_is_absent():
    body = {
        "format": "glpi-inventory",
        "deviceid": "d",
        "content": {"hardware": {"name": "h"}, "softwares": None, "operatingsystem": None},
    }
    assert normalize_report(body)["sections"] == ["device"]


def test_xml_as_text_and_unknown_encodings():
    text_data = (
        "<?xml version='1.0' encoding='ISO-8859-1'?><REQUEST><CONTENT>"
        "<HARDWARE><NAME>poste-é</NAME></HARDWARE></CONTENT><QUERY>INVENTORY</QUERY></REQUEST>"
    )
    assert normalize_xml(text_data)["device"]["hostname"] == "poste-é"
    with pytest.raises(InventoryFormatError, match="encoding"):
        normalize_xml(b"<?xml version='1.0' encoding='UTF-Z'?><REQUEST/>")
