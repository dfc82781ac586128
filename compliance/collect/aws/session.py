"""Connecting to an AWS account: credentials, an assumed role, the endpoint and the regions.

Every way this can go wrong before the first real call (no credentials, a malformed role ARN, an
unknown region, an endpoint that does not answer) is a `UsageError`: one line, exit 2.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    DataNotFoundError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
)
from botocore.parsers import ResponseParserError

from compliance.collect.record import EvidenceRecord, Outcome, jsonable, utcnow
from compliance.errors import UsageError

ROLE_ARN = re.compile(r"^arn:aws(-[a-z]+)*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
ROLE_ARN_HELP = "expected arn:aws:iam::<12-digit account>:role/<name>"
HOME_REGION = "us-east-1"


@dataclass(frozen=True)
class AwsAccount:
    """A connected account: the session to use, who we are, where to look."""

    session: boto3.Session
    identity: dict[str, Any]
    regions: list[str]
    endpoint_url: str | None
    identity_record: EvidenceRecord
    regions_not_scanned: dict[str, str] = field(default_factory=dict)
    """Region -> why it was not scanned (not enabled in the account, or not chosen with --region)."""

    @property
    def account_id(self) -> str:
        return str(self.identity.get("Account", ""))

    @property
    def home_region(self) -> str:
        """Where global services (IAM, S3 listings, STS) are called."""
        return HOME_REGION if HOME_REGION in self.regions or not self.regions else self.regions[0]


@functools.cache
def _shared_loader() -> Any:
    from botocore.loaders import create_loader

    return create_loader()


def new_session(**kwargs: Any) -> boto3.Session:
    """A boto3 session that shares one loader of API models with every other session in the process.

    Each session otherwise parses its own copy of every service model (about 45 MB for the services a
    scan calls), so an organisation scan would hold one copy per account.
    """
    core = botocore.session.get_session()
    core.register_component("data_loader", _shared_loader())
    return boto3.Session(botocore_session=core, **kwargs)


def warm_models(services: set[str], region: str | None) -> None:
    """Parse the API models, endpoint rules and paginators of these services into the shared loader,
    so that processes forked afterwards (`--workers`) find them parsed. Nothing is sent: the client
    has placeholder keys, which also spares it the search for credentials."""
    session = new_session(region_name=region or "us-east-1", aws_access_key_id="warm-up",
                          aws_secret_access_key="warm-up")  # noqa: S106 # nosec B106 - not a credential
    for service in sorted(services):
        model = session.client(service).meta.service_model
        with contextlib.suppress(DataNotFoundError):  # asked as get_paginator asks, so the cache answers
            _shared_loader().load_service_model(service, "paginators-1", model.api_version)


def client_config(max_attempts: int = 8, pool: int = 16, timeout: float | None = None) -> Config:
    """botocore's adaptive retries; each attempt's connect and read within --timeout (see `bounded`)."""
    return Config(retries={"mode": "adaptive", "max_attempts": max_attempts}, max_pool_connections=pool,
                  connect_timeout=min(timeout, 5) if timeout else 5, read_timeout=timeout or 30,
                  user_agent_extra="wallet-comply")


class CallTimeout(BotoCoreError):
    """An API request that had no answer within --timeout, its retries included."""

    fmt = "no answer within --timeout {timeout:g} s ({attempts} attempt(s), the last: {last})"


_call = threading.local()
"""The request each thread has in flight: its deadline, attempts made and the last attempt's error."""


def _start(**_: Any) -> None:
    _call.started, _call.attempts, _call.last = time.monotonic(), 0, "no answer"


def _note(caught_exception: BaseException | None = None, response: Any = None, **_: Any) -> None:
    if caught_exception is not None:
        _call.last = str(caught_exception)
    elif response is not None:
        error = response[1].get("Error", {}) if isinstance(response, tuple) and len(response) > 1 else {}
        _call.last = str(error.get("Code") or "an error answer")


def bounded(client: Any, timeout: float | None) -> Any:
    """`--timeout SECONDS` bounds each API request as a whole, botocore's retries included.

    Every attempt's connect and read is bounded by the client's config (`client_config`), and no
    attempt starts once SECONDS have passed since the request began: against an endpoint that accepts
    and never answers, a request ends after about SECONDS (one attempt's read, plus at most the one
    retry delay botocore sleeps before the attempt that is then refused) with `CallTimeout`, which the
    collector records as an ERROR naming the timeout. A paginated listing is one request per page.
    """
    if timeout is None:
        return client

    def check(**_: Any) -> None:
        attempts = getattr(_call, "attempts", 0)
        if attempts and time.monotonic() - _call.started >= timeout:
            raise CallTimeout(timeout=timeout, attempts=attempts, last=_call.last)
        _call.attempts = attempts + 1

    events = client.meta.events
    events.register("before-call", _start)
    events.register("before-send", check)
    events.register("needs-retry", _note)
    return client


def bounded_client(session: boto3.Session, service: str, endpoint_url: str | None, *, max_attempts: int,
                   timeout: float | None = None) -> Any:
    """A client in the session's region (else the home region) whose requests --timeout bounds."""
    return bounded(session.client(service, region_name=session.region_name or HOME_REGION,
                                  endpoint_url=endpoint_url,
                                  config=client_config(max_attempts=max_attempts, timeout=timeout)), timeout)


def endpoint_from_env(endpoint_url: str | None) -> str | None:
    return endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None


def _one_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _caller(session: boto3.Session, endpoint_url: str | None,
            timeout: float | None = None) -> tuple[dict[str, Any], EvidenceRecord]:
    try:
        sts = bounded_client(session, "sts", endpoint_url, max_attempts=2, timeout=timeout)
        answer = sts.get_caller_identity()
    except PartialCredentialsError as exc:
        raise UsageError(f"partial AWS credentials: {exc.kwargs.get('cred_var', 'a value')} is missing from "
                         f"{exc.kwargs.get('provider', 'the environment')}; set both the key id and the "
                         "secret, or neither") from None
    except NoCredentialsError:
        raise UsageError("no AWS credentials found: use --profile, AWS_PROFILE or the AWS_ACCESS_KEY_ID "
                         "and AWS_SECRET_ACCESS_KEY variables") from None
    except EndpointConnectionError:
        raise UsageError(f"cannot reach the AWS endpoint {endpoint_url or 'for STS'}: "
                         "is the URL right and the service running?") from None
    except ClientError as exc:
        err = exc.response.get("Error", {})
        raise UsageError(f"AWS rejected the credentials: {err.get('Code')}: {err.get('Message')}") from None
    except ResponseParserError:
        raise UsageError(f"the endpoint {endpoint_url or 'for STS'} answered, but not as AWS does (its "
                         "answer cannot be parsed): check --endpoint-url") from None
    except CallTimeout as exc:
        raise UsageError(f"the AWS endpoint {endpoint_url or 'for STS'} gave {exc}") from None
    except BotoCoreError as exc:
        raise UsageError(f"cannot call AWS: {_one_line(exc)}") from None
    request_id = answer.get("ResponseMetadata", {}).get("RequestId")
    body = jsonable({k: v for k, v in answer.items() if k != "ResponseMetadata"})
    record = EvidenceRecord("aws", "sts", "get_caller_identity", "global", {}, utcnow(), Outcome.OK,
                            response=body, request_id=request_id)
    return body, record


def _assume(session: boto3.Session, role_arn: str, external_id: str | None,
            endpoint_url: str | None, timeout: float | None = None) -> boto3.Session:
    if not ROLE_ARN.match(role_arn):
        raise UsageError(f"malformed role ARN {role_arn!r}: {ROLE_ARN_HELP}")
    sts = bounded_client(session, "sts", endpoint_url, max_attempts=2, timeout=timeout)
    params: dict[str, Any] = {"RoleArn": role_arn, "RoleSessionName": "wallet-comply-scan"}
    if external_id:
        params["ExternalId"] = external_id
    try:
        creds = sts.assume_role(**params)["Credentials"]
    except (NoCredentialsError, PartialCredentialsError):
        raise UsageError("no AWS credentials found to assume the role with") from None
    except EndpointConnectionError:
        raise UsageError(f"cannot reach the AWS endpoint {endpoint_url or 'for STS'}") from None
    except ClientError as exc:
        err = exc.response.get("Error", {})
        raise UsageError(f"cannot assume {role_arn}: {err.get('Code')}: {err.get('Message')}") from None
    return new_session(aws_access_key_id=creds["AccessKeyId"],
                         aws_secret_access_key=creds["SecretAccessKey"],
                         aws_session_token=creds["SessionToken"], region_name=session.region_name)


def known_regions(session: boto3.Session) -> set[str]:
    regions: set[str] = set()
    for partition in session.get_available_partitions():
        regions.update(session.get_available_regions("ec2", partition_name=partition))
    return regions


def _enabled_regions(session: boto3.Session, endpoint_url: str | None,
                     timeout: float | None = None) -> list[str]:
    ec2 = bounded_client(session, "ec2", endpoint_url, max_attempts=3, timeout=timeout)
    try:
        answer = ec2.describe_regions()
    except (ClientError, BotoCoreError) as exc:
        if session.region_name:
            return [session.region_name]
        raise UsageError(f"cannot list the account's regions ({_one_line(exc)}): pass --region") from None
    return sorted(r["RegionName"] for r in answer.get("Regions", []))


def connect(*, profile: str | None = None, role_arn: str | None = None, external_id: str | None = None,
            regions: list[str] | None = None, endpoint_url: str | None = None,
            timeout: float | None = None) -> AwsAccount:
    endpoint_url = endpoint_from_env(endpoint_url)
    if endpoint_url and not re.match(r"^https?://[^\s/]+", endpoint_url):
        raise UsageError(f"malformed endpoint URL {endpoint_url!r}: expected http(s)://host[:port]")
    if role_arn and not ROLE_ARN.match(role_arn):
        raise UsageError(f"malformed role ARN {role_arn!r}: {ROLE_ARN_HELP}")
    try:
        session = new_session(profile_name=profile)
        session._session.get_scoped_config()  # a missing profile is reported here, not at the first call
    except ProfileNotFound:
        raise UsageError(f"AWS profile {profile!r} not found in the AWS config files") from None
    if external_id and not role_arn:
        raise UsageError("--external-id needs --role-arn: the external id is passed when assuming that role")
    known = known_regions(session)
    if regions:
        unknown = sorted(set(regions) - known)
        if unknown:
            raise UsageError(f"unknown AWS region {', '.join(unknown)}")
        if not session.region_name or session.region_name not in known:
            session = new_session(profile_name=profile, region_name=regions[0])
    elif session.region_name and session.region_name not in known:
        raise UsageError(f"unknown AWS region {session.region_name!r} from AWS_DEFAULT_REGION or the "
                         "profile: fix it or pass --region")
    if role_arn:
        session = _assume(session, role_arn, external_id, endpoint_url, timeout)
    identity, record = _caller(session, endpoint_url, timeout)
    if regions:
        wanted, why = list(dict.fromkeys(regions)), "not selected (--region)"
    else:
        wanted = _enabled_regions(session, endpoint_url, timeout)
        why = ("not enabled in the account" if wanted != [session.region_name] else
               "not scanned: only the default region (the account's regions could not be listed, or only "
               "it is enabled)")
    return AwsAccount(session, identity, wanted, endpoint_url, record,
                      regions_not_scanned(session, wanted, why))


def regions_not_scanned(session: boto3.Session, scanned: list[str], why: str) -> dict[str, str]:
    """The partition's other regions and why the scan left them out, for the report's scope statement."""
    try:
        partition = session.get_partition_for_region(scanned[0]) if scanned else "aws"
    except Exception:  # a region botocore does not know (an emulator's): assume the commercial partition
        partition = "aws"
    others = sorted(set(session.get_available_regions("ec2", partition_name=partition)) - set(scanned))
    return {region: why for region in others}
