"""AWS Config checks: a recorder keeps the configuration history of every resource in every region."""

from __future__ import annotations

from collections.abc import Iterator

from compliance.findings import Severity
from controls.aws.inventory import AwsInventory
from controls.aws.verdicts import unusable
from controls.registry import Verdict, check, errored, failed, passed


@check("aws.config.recorder_all_resources", severity=Severity.MEDIUM, resource_type="AwsConfigRecorder",
       title="AWS Config records every resource type in every region",
       rationale="""Config keeps an inventory of every resource and the history of each configuration
       change, which is how an assessor confirms what was in scope and when it changed.""",
       remediation="""In the Config console choose Settings > Edit, select Record all current and future
       resource types, and start recording (`aws configservice put-configuration-recorder` then
       `start-configuration-recorder`).""")
def recorder_all_resources(inv: AwsInventory) -> Iterator[Verdict]:
    for region in inv.regions:
        arn = inv.arn("config", region, "configuration-recorder")
        recorders = inv.call("config", "describe_configuration_recorders", region)
        status = inv.call("config", "describe_configuration_recorder_status", region)
        why = unusable(recorders, "describe_configuration_recorders") or unusable(
            status, "describe_configuration_recorder_status")
        if why:
            yield errored(arn, f"Config recorder in {region} unknown: {why}", recorders, status,
                          region=region)
            continue
        found = (recorders.response or {}).get("ConfigurationRecorders") or []  # type: ignore[union-attr]
        states = {s.get("name"): s for s in (status.response or {}).get(  # type: ignore[union-attr]
            "ConfigurationRecordersStatus") or []}
        if not found:
            yield failed(arn, f"AWS Config has no recorder in {region}", recorders, status, region=region)
            continue
        recorder = found[0]
        name = recorder.get("name", "?")
        group = recorder.get("recordingGroup") or {}
        if not (states.get(name) or {}).get("recording"):
            yield failed(arn, f"Config recorder {name} in {region} is not recording", recorders, status,
                         region=region)
        elif group.get("allSupported") is not True:
            yield failed(arn, f"Config recorder {name} in {region} records only selected resource types",
                         recorders, status, region=region)
        else:
            yield passed(arn, f"Config recorder {name} records every resource type in {region}", recorders,
                         status, region=region)
