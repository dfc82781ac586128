"""EFS checks: file systems encrypt data at rest."""

from __future__ import annotations

from collections.abc import Iterator

from compliance.findings import Severity
from controls.aws.inventory import AwsInventory
from controls.aws.verdicts import Listing, bad, each, good
from controls.registry import Verdict, check

FILE_SYSTEMS = Listing("efs", "describe_file_systems", "FileSystems", "file-system/*",
                       arn_service="elasticfilesystem",
                       arn=lambda inv, f: f.get("FileSystemArn")
                       or inv.arn("elasticfilesystem", f.region, f"file-system/{f['FileSystemId']}"),
                       label=lambda f: f"file system {f['FileSystemId']}")


@check("aws.efs.encrypted", severity=Severity.MEDIUM, resource_type="AwsEfsFileSystem",
       title="EFS file systems encrypt data at rest",
       rationale="""Shared file systems collect exports, reports and batch files. Encryption at rest keeps
       them unreadable to anyone who obtains the storage.""",
       remediation="""Encryption is chosen at creation: create a new file system with `--encrypted` (and a
       KMS key), copy the data with AWS DataSync and delete the old one.""")
def encrypted(inv: AwsInventory) -> Iterator[Verdict]:
    yield from each(inv, FILE_SYSTEMS, lambda f: good("encrypts data at rest") if f.get("Encrypted") is True
                    else bad("does not encrypt data at rest"))
