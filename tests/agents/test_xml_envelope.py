"""Legacy FusionInventory / OCS XML inventories, carried in a signed JSON envelope."""

from __future__ import annotations

import pytest

from agents.models import InventoryReport, SecurityEvent
from cmdb.models import ConfigurationItem, InstalledSoftware
from tests.agents.conftest import make_agent
from tests.samples import SAMPLES

pytestmark = pytest.mark.django_db


def envelope(xml: str) -> dict:
    return {"format": "fusion-xml", "collected_at": "2026-11-22T09:00:00Z", "xml": xml}


def sample(name: str) -> str:
    return (SAMPLES / "fusion-xml" / name).read_text(encoding="utf-8")


def test_an_xml_inventory_becomes_a_ci_like_its_json_twin(client):
    agent = make_agent()
    response = agent.post(client, envelope(sample("invfmt-tests-data-1.xml")))
    assert response.status_code == 202, response.content
    report = InventoryReport.objects.get()
    assert report.status == "processed", report.error
    assert report.format == "fusion-xml"
    ci = ConfigurationItem.objects.get()
    assert ci.hostname == "lf014"  # LF014, as the GLPI JSON of the same machine says
    assert InstalledSoftware.objects.filter(ci=ci).exists()


def test_the_same_xml_again_takes_the_short_path(client):
    agent = make_agent()
    agent.post(client, envelope(sample("invfmt-tests-data-1.xml")))
    again = agent.post(client, envelope(sample("invfmt-tests-data-1.xml")))
    assert again.status_code == 202
    assert InventoryReport.objects.get(pk=again.json()["report_id"]).summary["unchanged"] is True


@pytest.mark.parametrize(
    "xml, reason",
    [
        ("<REQUEST><CONTENT>", "not well-formed"),
        ("<INVENTORY/>", "not <REQUEST>"),
        (
            '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]>'
            "<REQUEST><CONTENT/><QUERY>INVENTORY</QUERY></REQUEST>",
            "DTDs and entities are not allowed",
        ),
    ],
)
def test_bad_or_unsafe_xml_is_a_400_and_writes_nothing(client, xml, reason):
    agent = make_agent()
    response = agent.post(client, envelope(xml))
    assert response.status_code == 400
    assert reason in response.json()["detail"]
    assert InventoryReport.objects.count() == 0
    assert ConfigurationItem.objects.count() == 0
    assert SecurityEvent.objects.filter(reason="schema").count() == 1


def test_an_envelope_without_xml_is_a_400(client):
    agent = make_agent()
    response = agent.post(client, {"format": "fusion-xml", "collected_at": "2026-11-22T09:00:00Z"})
    assert response.status_code == 400
    assert InventoryReport.objects.count() == 0


def test_the_xml_string_may_exceed_the_json_string_cap(client):
    """A 300 KiB XML inventory is one string: only the body size limit applies to it."""
    agent = make_agent()
    xml = sample("invfmt-tests-data-1.xml")
    padded = xml.replace("</REQUEST>", "<!--" + "x" * 100_000 + "--></REQUEST>")
    response = agent.post(client, envelope(padded))
    assert response.status_code == 202, response.content
