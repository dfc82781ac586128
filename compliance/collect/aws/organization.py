"""An AWS Organization: its member accounts, and a session in each through the member role.

Listing the accounts must work (it is the scan's scope): a failure is a usage error before anything
is collected. Entering a member account may fail for one account alone (the role is missing, or
its trust policy refuses us): that is evidence about that account, and its checks say ERROR.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from compliance.collect.aws.collector import plan
from compliance.collect.aws.session import HOME_REGION, AwsAccount, bounded, client_config, new_session
from compliance.collect.aws.spec import Call
from compliance.collect.record import EvidenceRecord, Outcome, jsonable, utcnow
from compliance.errors import UsageError

ACCOUNT_ID_LENGTH = 12


@dataclass(frozen=True)
class Member:
    id: str
    name: str
    status: str


def _error(exc: BaseException) -> tuple[str, str, str | None]:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return (str(err.get("Code") or "ClientError"), str(err.get("Message") or exc),
                exc.response.get("ResponseMetadata", {}).get("RequestId"))
    return type(exc).__name__, (str(exc).splitlines() or [""])[0], None


def list_members(account: AwsAccount, timeout: float | None = None) -> tuple[list[Member], EvidenceRecord]:
    """Every account of the organisation the scanning account manages (or administers for it)."""
    client = bounded(account.session.client("organizations", region_name=HOME_REGION,
                                            endpoint_url=account.endpoint_url,
                                            config=client_config(max_attempts=4, timeout=timeout)), timeout)
    started = utcnow()
    try:
        pages = list(client.get_paginator("list_accounts").paginate())
    except (ClientError, BotoCoreError) as exc:
        code, message, _ = _error(exc)
        raise UsageError(f"cannot list the organisation's accounts ({code}: {message}): run from the "
                         "management account or a delegated administrator, or drop --organization") from None
    accounts = [a for page in pages for a in page.get("Accounts", [])]
    if not accounts:
        raise UsageError("the organisation lists no account: run from the management account or a "
                         "delegated administrator, or drop --organization")
    request_ids = [p.get("ResponseMetadata", {}).get("RequestId") for p in pages]
    record = EvidenceRecord("aws", "organizations", "list_accounts", "global", {}, started, Outcome.OK,
                            response=jsonable({"Accounts": accounts}),
                            request_id=",".join(r for r in request_ids if r) or None,
                            account=account.account_id)
    members = [Member(str(a["Id"]), str(a.get("Name", "")), str(a.get("Status", ""))) for a in accounts]
    return sorted(members, key=lambda m: m.id), record


def choose(members: Iterable[Member], only: list[str], exclude: list[str]) -> list[Member]:
    """The active accounts asked for; an id that is not in the organisation is a usage error."""
    members = list(members)
    known = {m.id for m in members}
    for account_id in (*only, *exclude):
        if len(account_id) != ACCOUNT_ID_LENGTH or not account_id.isdigit():
            raise UsageError(f"malformed account id {account_id!r}: expected 12 digits")
    if unknown := sorted(set(only) - known):
        raise UsageError(f"account {', '.join(unknown)} is not in the organisation")
    return [m for m in members
            if m.status == "ACTIVE" and (not only or m.id in only) and m.id not in exclude]


def enter(management: AwsAccount, member: Member, role_name: str, external_id: str | None,
          timeout: float | None = None) -> tuple[AwsAccount | None, EvidenceRecord]:
    """A session in the member account through its role, or None and the refusal as evidence.

    The record of the role's assumption stands for the caller identity in that account.
    """
    role_arn = f"arn:aws:iam::{member.id}:role/{role_name}"
    params: dict[str, Any] = {"RoleArn": role_arn, "RoleSessionName": "wallet-comply-scan"}
    if external_id:
        params["ExternalId"] = external_id
    started = utcnow()
    shown = {k: v for k, v in params.items() if k != "ExternalId"}
    sts = bounded(management.session.client("sts", region_name=management.home_region,
                                             endpoint_url=management.endpoint_url,
                                             config=client_config(max_attempts=3, timeout=timeout)), timeout)
    try:
        answer = sts.assume_role(**params)
    except (ClientError, BotoCoreError) as exc:
        code, message, request_id = _error(exc)
        return None, EvidenceRecord("aws", "sts", "assume_role", "global", shown, started, Outcome.ERROR,
                                    request_id=request_id, error_code=code,
                                    error_message=f"cannot assume {role_arn}: {message}", account=member.id)
    creds = answer["Credentials"]
    session = new_session(aws_access_key_id=creds["AccessKeyId"],
                          aws_secret_access_key=creds["SecretAccessKey"],
                          aws_session_token=creds["SessionToken"], region_name=management.home_region)
    user = jsonable(answer.get("AssumedRoleUser", {}))
    record = EvidenceRecord("aws", "sts", "assume_role", "global", shown, started, Outcome.OK,
                            response={"AssumedRoleUser": user},
                            request_id=answer.get("ResponseMetadata", {}).get("RequestId"), account=member.id)
    identity = {"Account": member.id, "Arn": user.get("Arn", ""), "UserId": user.get("AssumedRoleId", "")}
    return AwsAccount(session, identity, management.regions, management.endpoint_url, record), record


def unreachable(management: AwsAccount, member: Member, refusal: EvidenceRecord,
                spec: Iterable[Call]) -> list[EvidenceRecord]:
    """One ERROR record for every call the scan would have made in an account it could not enter.

    The checks then read a failed listing for that account, as for any refused call, and say ERROR:
    what the account would have shown is never taken as clean.
    """
    placeholder = replace(management, identity={"Account": member.id})
    return [refusal, *(
        EvidenceRecord("aws", task.service, task.operation, task.scope, jsonable(task.params),
                       refusal.collected_at, Outcome.ERROR, error_code=refusal.error_code,
                       error_message=refusal.error_message, account=member.id)
        for task in plan(spec, placeholder)
    )]


def tag(records: Iterable[EvidenceRecord], account_id: str) -> list[EvidenceRecord]:
    """The records of one account, marked with it (their ids change so accounts never collide)."""
    return [replace(r, account=account_id, id="") for r in records]
