"""The demo: a small reference payments deployment in an emulated AWS account, with deliberate gaps.

`provision` builds it through real boto3 calls against any endpoint (moto's server in `comply demo`
and the end-to-end tests). `PLANTED` names every gap, so tests can assert that each is reported on
the right resource and that the correctly built resources beside them raise no failure.
"""

from __future__ import annotations

import io
import json
import logging
import socket
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3

REGION = "us-east-1"
ACCOUNT = "123456789012"
DEMO_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",  # moto's fake credentials, not a secret (bandit B105, low)
    "AWS_SESSION_TOKEN": "testing",  # moto's fake credentials, not a secret (bandit B105, low)
    "AWS_DEFAULT_REGION": REGION,
}


@dataclass(frozen=True)
class Planted:
    check_id: str
    resource_contains: str
    """A fragment of the resource id the failure must be reported on."""


PLANTED: tuple[Planted, ...] = (
    Planted("aws.ec2.sg_admin_ports_open", "bastion"),
    Planted("aws.ec2.sg_admin_ports_open", "legacy-ops"),
    Planted("aws.ec2.sg_all_traffic_open", "debug-open"),
    Planted("aws.ec2.default_sg_restricted", "security-group/"),
    Planted("aws.rds.not_public", "reporting-db"),
    Planted("aws.rds.storage_encrypted", "reporting-db"),
    Planted("aws.elbv2.waf_attached", "admin-alb"),
    Planted("aws.elbv2.listener_tls", "admin-alb"),
    Planted("aws.apigateway.waf_attached", "/stages/sandbox"),
    Planted("aws.wafv2.managed_rules", "empty-acl"),
    Planted("aws.wafv2.logging_enabled", "empty-acl"),
    Planted("aws.s3.bucket_encrypted", "cde-exports"),
    Planted("aws.s3.bucket_encrypted", "scratch-uploads"),
    Planted("aws.kms.key_rotation", "key/"),
    Planted("aws.iam.root_mfa", ":root"),
    Planted("aws.iam.console_user_mfa", "user/bob"),
    Planted("aws.cloudtrail.log_validation", "app-trail"),
    Planted("aws.cloudtrail.bucket_locked", "app-trail"),
    Planted("aws.cloudtrail.kms_encrypted", "app-trail"),
    Planted("aws.ecr.scan_on_push", "legacy-worker"),
    Planted("aws.ecr.image_vulnerabilities", "wallet-api"),
    Planted("aws.eks.secrets_encryption", "cluster/sandbox-eks"),
    Planted("aws.eks.endpoint_restricted", "cluster/sandbox-eks"),
    Planted("aws.eks.audit_logging", "cluster/sandbox-eks"),
    Planted("aws.iam.password_length", "account-password-policy"),
    Planted("aws.iam.password_max_age", "account-password-policy"),
    Planted("aws.iam.root_hardware_mfa", ":root"),
    Planted("aws.iam.full_admin_policies", "policy/ops-admin"),
    Planted("aws.iam.user_direct_policies", "user/bob"),
    Planted("aws.s3.account_public_access_block", "public-access-block"),
    Planted("aws.s3.bucket_policy_not_public", "public-assets"),
    Planted("aws.s3.bucket_public_access_block", "public-assets"),
    Planted("aws.s3.tls_only", "scratch-uploads"),
    Planted("aws.s3.cardholder_data_lifecycle", "cde-exports"),
    Planted("aws.kms.no_pending_deletion", "key/"),
    Planted("aws.cloudtrail.cloudwatch_logs", "app-trail"),
    Planted("aws.cloudtrail.bucket_not_public", "app-trail"),
    Planted("aws.ec2.sg_ssh_open", "bastion"),
    Planted("aws.ec2.sg_rdp_open", "debug-open"),
    Planted("aws.ec2.sg_only_web_ports_public", "legacy-ops"),
    Planted("aws.ec2.vpc_flow_logs", "vpc/"),
    Planted("aws.ec2.nacl_admin_ports_open", "network-acl/"),
    Planted("aws.rds.backups_enabled", "reporting-db"),
    Planted("aws.rds.multi_az", "reporting-db"),
    Planted("aws.rds.snapshot_encrypted", "reporting-db"),
    Planted("aws.elbv2.deletion_protection", "admin-alb"),
    Planted("aws.elbv2.access_logs", "admin-alb"),
    Planted("aws.elbv2.desync_mitigation", "admin-alb"),
    Planted("aws.wafv2.rules_block", "empty-acl"),
    Planted("aws.wafv2.sqli_protection", "empty-acl"),
    Planted("aws.cloudwatch.alarm_cloudtrail_changes", "alarm-for/cloudtrail-changes"),
    Planted("aws.cloudwatch.alarm_unauthorized_calls", "alarm-for/unauthorized-calls"),
    Planted("aws.guardduty.enabled", "guardduty"),
    Planted("aws.config.recorder_all_resources", "configuration-recorder"),
    Planted("aws.inspector2.ecr_scanning", "scanning/ecr"),
    Planted("aws.secretsmanager.rotation_enabled", "legacy-db-password"),
    Planted("aws.eks.supported_version", "cluster/sandbox-eks"),
    Planted("aws.ecr.immutable_tags", "legacy-worker"),
    Planted("aws.ecr.repository_policy_not_public", "legacy-worker"),
    Planted("aws.apigateway.access_logging", "/stages/sandbox"),
    Planted("aws.apigateway.method_authorization", "/methods/GET"),
    Planted("aws.apigateway.domain_tls", "legacy-api.pay.example.test"),
    Planted("aws.elb.listener_tls", "loadbalancer/legacy-clb"),
    Planted("aws.elb.access_logs", "loadbalancer/legacy-clb"),
    Planted("aws.elb.desync_mitigation", "loadbalancer/legacy-clb"),
    Planted("aws.lambda.policy_not_public", "function:legacy-webhook"),
    Planted("aws.lambda.supported_runtime", "function:legacy-webhook"),
    Planted("aws.lambda.cde_in_vpc", "function:legacy-webhook"),
    Planted("aws.opensearch.encrypted_at_rest", "domain/ops-search"),
    Planted("aws.opensearch.node_to_node_encryption", "domain/ops-search"),
    Planted("aws.opensearch.https_tls12", "domain/ops-search"),
    Planted("aws.opensearch.not_public", "domain/ops-search"),
    Planted("aws.opensearch.audit_logs", "domain/ops-search"),
    Planted("aws.cloudfront.viewer_https", "legacy-edge"),
    Planted("aws.cloudfront.viewer_tls", "legacy-edge"),
    Planted("aws.cloudfront.origin_protection", "legacy-edge"),
    Planted("aws.cloudfront.waf_attached", "legacy-edge"),
    Planted("aws.cloudfront.access_logging", "legacy-edge"),
)

CLEAN: tuple[str, ...] = (
    "alarm-for/root-use",
    "scanning/ec2",
    "security-alerts",
    "ledger-db-sg",
    "web-alb-sg",
    "payments-alb",
    "ledger-db",
    "cardholder-data",
    "org-trail",
    "user/alice",
    "payments-acl",
    "/stages/prod",
    "/methods/POST",
    "domainnames/api.pay.example.test",
    "loadbalancer/payments-clb",
    "function:card-tokenizer",
    "domain/card-search",
    "payments-edge",
    "cluster/payments-eks",
    "k8s:wallet/",
    "k8s:_cluster/Namespace/wallet",
)
"""Fragments of resource ids built correctly: no FAIL may be reported on them."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def moto_server(server_class: type | None = None) -> Iterator[str]:
    """moto's server (or a subclass of it) on a free loopback port, for as long as the block runs."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = free_port()
    server = (server_class or ThreadedMotoServer)(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def _manifest(seed: str) -> str:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": len(seed),
                "digest": "sha256:" + seed.encode().hex().ljust(64, "0")[:64],
            },
            "layers": [],
        }
    )


def _world(port_from: int, port_to: int, protocol: str = "tcp", v6: bool = False) -> dict[str, Any]:
    ranges = {"Ipv6Ranges": [{"CidrIpv6": "::/0"}]} if v6 else {"IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    return {"IpProtocol": protocol, "FromPort": port_from, "ToPort": port_to, **ranges}


def _managed(name: str, priority: int) -> dict[str, Any]:
    return {
        "Name": name,
        "Priority": priority,
        "OverrideAction": {"None": {}},
        "Statement": {"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": name}},
        "VisibilityConfig": {
            "SampledRequestsEnabled": True,
            "CloudWatchMetricsEnabled": True,
            "MetricName": name,
        },
    }


def _visibility(name: str) -> dict[str, Any]:
    return {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": name}


def _harden_bucket(s3: Any, name: str, *, log_to: str | None = "access-logs") -> None:
    """What a bucket holding CDE data or audit logs gets: no public access, TLS only, access logs."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "TlsOnly",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "s3:*",
            "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ]
    if log_to is None:
        statements.append(
            {
                "Sid": "AccessLogs",
                "Effect": "Allow",
                "Action": "s3:PutObject",
                "Principal": {"Service": "logging.s3.amazonaws.com"},
                "Resource": f"arn:aws:s3:::{name}/*",
            }
        )
    s3.put_public_access_block(
        Bucket=name,
        PublicAccessBlockConfiguration=dict.fromkeys(
            ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
        ),
    )
    s3.put_bucket_policy(Bucket=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": statements}))
    if log_to:
        s3.put_bucket_logging(
            Bucket=name,
            BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": log_to, "TargetPrefix": f"{name}/"}},
        )


TRAIL_LOG_GROUP = "cloudtrail/management-events"


def _self_signed(domain: str) -> dict[str, bytes]:
    """A certificate valid for a year, imported so it is ISSUED at once (a requested one changes state
    a minute later in the emulator, which would make two scans differ)."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(domain)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return {
        "Certificate": cert.public_bytes(serialization.Encoding.PEM),
        "PrivateKey": key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ),
    }


def _monitoring(session: boto3.Session, endpoint_url: str) -> None:
    """One CIS alarm wired end to end (root use), Inspector for EC2 only, a secret that never rotates."""
    logs, cloudwatch, sns = (
        session.client(n, endpoint_url=endpoint_url) for n in ("logs", "cloudwatch", "sns")
    )
    logs.create_log_group(logGroupName=TRAIL_LOG_GROUP)
    logs.put_retention_policy(logGroupName=TRAIL_LOG_GROUP, retentionInDays=400)
    logs.put_metric_filter(
        logGroupName=TRAIL_LOG_GROUP,
        filterName="root-use",
        filterPattern='{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS '
        '&& $.eventType != "AwsServiceEvent" }',
        metricTransformations=[
            {"metricName": "RootUse", "metricNamespace": "CISBenchmark", "metricValue": "1"}
        ],
    )
    topic = sns.create_topic(Name="security-alerts", Attributes={"KmsMasterKeyId": "alias/aws/sns"})[
        "TopicArn"
    ]
    cloudwatch.put_metric_alarm(
        AlarmName="root-use",
        MetricName="RootUse",
        Namespace="CISBenchmark",
        Statistic="Sum",
        Period=300,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        AlarmActions=[topic],
    )
    session.client("inspector2", endpoint_url=endpoint_url).enable(
        accountIds=[ACCOUNT], resourceTypes=["EC2"]
    )
    session.client("secretsmanager", endpoint_url=endpoint_url).create_secret(
        Name="legacy-db-password", SecretString="demo-only-value"
    )


def _classic_load_balancers(elb: Any, subnets: list[str], group: str, cert: str) -> None:
    """payments-clb terminates TLS 1.2 with logs and desync defences; legacy-clb has none of them."""
    https = {"Protocol": "HTTPS", "LoadBalancerPort": 443, "InstanceProtocol": "HTTP", "InstancePort": 8080,
             "SSLCertificateId": cert}
    plain = {"Protocol": "HTTP", "LoadBalancerPort": 80, "InstanceProtocol": "HTTP", "InstancePort": 8080}
    for name, listener, logs, mode in (("payments-clb", https, True, "defensive"),
                                       ("legacy-clb", plain, False, "monitor")):
        elb.create_load_balancer(LoadBalancerName=name, Listeners=[listener], Subnets=subnets[:1],
                                 SecurityGroups=[group], Scheme="internet-facing")
        access_log: dict[str, Any] = {"Enabled": logs, **({"S3BucketName": "access-logs"} if logs else {})}
        elb.modify_load_balancer_attributes(LoadBalancerName=name, LoadBalancerAttributes={
            "AccessLog": access_log,
            "AdditionalAttributes": [{"Key": "elb.http.desyncmitigationmode", "Value": mode}],
        })
    elb.create_load_balancer_policy(
        LoadBalancerName="payments-clb", PolicyName="tls-1-2", PolicyTypeName="SSLNegotiationPolicyType",
        PolicyAttributes=[{"AttributeName": "Reference-Security-Policy",
                           "AttributeValue": "ELBSecurityPolicy-TLS-1-2-2017-01"}])
    elb.set_load_balancer_policies_of_listener(LoadBalancerName="payments-clb", LoadBalancerPort=443,
                                               PolicyNames=["tls-1-2"])


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", source)
    return buffer.getvalue()


def _functions(lam: Any, iam: Any, subnets: list[str], group: str) -> None:
    """card-tokenizer: a CDE function in the VPC on a current runtime; legacy-webhook: a CDE function on a
    deprecated runtime, outside the VPC, invocable by anyone."""
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "lambda.amazonaws.com"}}]}
    role = iam.create_role(RoleName="wallet-functions", AssumeRolePolicyDocument=json.dumps(trust))
    common = {"Role": role["Role"]["Arn"], "Handler": "handler.handle",
              "Code": {"ZipFile": _zip("def handle(event, context):\n    return {}\n")}}
    lam.create_function(FunctionName="card-tokenizer", Runtime="python3.13", Tags={"pci-scope": "true"},
                        VpcConfig={"SubnetIds": subnets, "SecurityGroupIds": [group]}, **common)
    lam.create_function(FunctionName="legacy-webhook", Runtime="python3.8",
                        Tags={"data-classification": "cardholder"}, **common)
    lam.add_permission(FunctionName="legacy-webhook", StatementId="anyone-invokes",
                       Action="lambda:InvokeFunction", Principal="*")


def _search_domains(search: Any, subnets: list[str], group: str, region: str) -> None:
    """card-search is built correctly; ops-search keeps every default and an access policy open to all."""
    search.create_domain(
        DomainName="card-search",
        EncryptionAtRestOptions={"Enabled": True},
        NodeToNodeEncryptionOptions={"Enabled": True},
        DomainEndpointOptions={"EnforceHTTPS": True, "TLSSecurityPolicy": "Policy-Min-TLS-1-2-PFS-2023-10"},
        VPCOptions={"SubnetIds": subnets[:1], "SecurityGroupIds": [group]},
        AdvancedSecurityOptions={"Enabled": True, "InternalUserDatabaseEnabled": False},
        LogPublishingOptions={"AUDIT_LOGS": {
            "Enabled": True,
            "CloudWatchLogsLogGroupArn": f"arn:aws:logs:{region}:{ACCOUNT}:log-group:search-audit",
        }},
    )
    search.create_domain(DomainName="ops-search", AccessPolicies=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "es:*",
                       "Resource": f"arn:aws:es:{region}:{ACCOUNT}:domain/ops-search/*"}],
    }))


def _distributions(cloudfront: Any, wafv2: Any, cert: str) -> None:
    """payments-edge: HTTPS to viewers (TLS 1.2) and to its origin, a blocking web ACL, access logs;
    legacy-edge: plain HTTP, the default certificate, an S3 origin without access control, no ACL, no logs."""
    edge_acl = wafv2.create_web_acl(
        Name="edge-acl", Scope="CLOUDFRONT", DefaultAction={"Allow": {}},
        Rules=[_managed("AWSManagedRulesCommonRuleSet", 0),
               _managed("AWSManagedRulesKnownBadInputsRuleSet", 1)],
        VisibilityConfig=_visibility("edge-acl"),
    )["Summary"]["ARN"]
    behaviour = {"TargetOriginId": "origin", "MinTTL": 0}
    for name, secure in (("payments-edge", True), ("legacy-edge", False)):
        origin: dict[str, Any] = (
            {"Id": "origin", "DomainName": "payments-alb.pay.example.test", "CustomOriginConfig": {
                "HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "https-only"}}
            if secure else
            {"Id": "origin", "DomainName": "public-assets.s3.us-east-1.amazonaws.com",
             "S3OriginConfig": {"OriginAccessIdentity": ""}})
        cloudfront.create_distribution(DistributionConfig={
            "CallerReference": name, "Comment": name, "Enabled": True,
            "Origins": {"Quantity": 1, "Items": [origin]},
            "DefaultCacheBehavior": {
                **behaviour, "ViewerProtocolPolicy": "redirect-to-https" if secure else "allow-all"},
            "ViewerCertificate": (
                {"CloudFrontDefaultCertificate": False, "ACMCertificateArn": cert,
                 "MinimumProtocolVersion": "TLSv1.2_2021", "SSLSupportMethod": "sni-only"}
                if secure else {"CloudFrontDefaultCertificate": True}),
            "Logging": {"Enabled": secure, "IncludeCookies": False,
                        "Bucket": "access-logs.s3.amazonaws.com" if secure else "", "Prefix": name},
            "WebACLId": edge_acl if secure else "",
        })


def provision(endpoint_url: str, region: str = REGION) -> dict[str, Any]:
    """Build the reference deployment; returns the names and ids a caller may want to look up."""
    session = boto3.Session(region_name=region)

    def client(name: str) -> Any:
        return session.client(name, endpoint_url=endpoint_url)

    ec2, elbv2, rds, s3, kms = client("ec2"), client("elbv2"), client("rds"), client("s3"), client("kms")
    wafv2, apigw, iam, trail, ecr, acm = (
        client("wafv2"),
        client("apigateway"),
        client("iam"),
        client("cloudtrail"),
        client("ecr"),
        client("acm"),
    )

    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24", AvailabilityZone=f"{region}{az}")["Subnet"][
            "SubnetId"
        ]
        for i, az in enumerate("ab")
    ]

    def group(name: str, rules: list[dict[str, Any]]) -> str:
        gid = ec2.create_security_group(
            GroupName=name,
            Description=f"demo {name}",
            VpcId=vpc,
            TagSpecifications=[{"ResourceType": "security-group", "Tags": [{"Key": "Name", "Value": name}]}],
        )["GroupId"]
        if rules:
            ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=rules)
        return gid

    web_sg = group("web-alb-sg", [_world(443, 443), _world(80, 80), _world(443, 443, v6=True)])
    group("bastion", [_world(22, 22)])
    group("legacy-ops", [_world(3000, 4000, v6=True)])
    group("debug-open", [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    db_sg = group(
        "ledger-db-sg",
        [{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": web_sg}]}],
    )
    ec2.enable_ebs_encryption_by_default()

    cde_key = kms.create_key(Description="cde data key", Tags=[{"TagKey": "Name", "TagValue": "cde-key"}])
    cde_key_id = cde_key["KeyMetadata"]["KeyId"]
    kms.enable_key_rotation(KeyId=cde_key_id)
    kms.create_key(Description="legacy key without rotation")
    retired = kms.create_key(Description="retired key")["KeyMetadata"]["KeyId"]
    kms.schedule_key_deletion(KeyId=retired, PendingWindowInDays=30)

    cert = acm.import_certificate(**_self_signed("pay.example.test"))["CertificateArn"]
    albs = {}
    for name, internal in (("payments-alb", False), ("admin-alb", False), ("internal-alb", True)):
        albs[name] = elbv2.create_load_balancer(
            Name=name,
            Subnets=subnets,
            SecurityGroups=[web_sg],
            Type="application",
            Scheme="internal" if internal else "internet-facing",
        )["LoadBalancers"][0]["LoadBalancerArn"]
    target = elbv2.create_target_group(
        Name="wallet-api", Protocol="HTTP", Port=8443, VpcId=vpc, TargetType="ip"
    )["TargetGroups"][0]["TargetGroupArn"]
    forward = [{"Type": "forward", "TargetGroupArn": target}]
    elbv2.create_listener(
        LoadBalancerArn=albs["payments-alb"],
        Protocol="HTTPS",
        Port=443,
        SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06",
        Certificates=[{"CertificateArn": cert}],
        DefaultActions=forward,
    )
    elbv2.create_listener(
        LoadBalancerArn=albs["payments-alb"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[
            {
                "Type": "redirect",
                "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"},
            }
        ],
    )
    elbv2.create_listener(LoadBalancerArn=albs["admin-alb"], Protocol="HTTP", Port=80, DefaultActions=forward)
    elbv2.create_listener(
        LoadBalancerArn=albs["admin-alb"],
        Protocol="HTTPS",
        Port=443,
        SslPolicy="ELBSecurityPolicy-2016-08",
        Certificates=[{"CertificateArn": cert}],
        DefaultActions=forward,
    )

    good_acl = wafv2.create_web_acl(
        Name="payments-acl",
        Scope="REGIONAL",
        DefaultAction={"Allow": {}},
        Rules=[
            _managed("AWSManagedRulesCommonRuleSet", 0),
            _managed("AWSManagedRulesKnownBadInputsRuleSet", 1),
            _managed("AWSManagedRulesSQLiRuleSet", 2),
        ],
        VisibilityConfig=_visibility("payments-acl"),
    )["Summary"]["ARN"]
    empty_acl = wafv2.create_web_acl(
        Name="empty-acl",
        Scope="REGIONAL",
        DefaultAction={"Allow": {}},
        Rules=[],
        VisibilityConfig=_visibility("empty-acl"),
    )["Summary"]["ARN"]
    log_group = f"arn:aws:logs:{region}:{ACCOUNT}:log-group:aws-waf-logs-payments"
    wafv2.put_logging_configuration(
        LoggingConfiguration={"ResourceArn": good_acl, "LogDestinationConfigs": [log_group]}
    )
    wafv2.associate_web_acl(WebACLArn=good_acl, ResourceArn=albs["payments-alb"])
    _distributions(client("cloudfront"), wafv2, cert)
    elbv2.modify_load_balancer_attributes(
        LoadBalancerArn=albs["admin-alb"],
        Attributes=[
            {"Key": "access_logs.s3.enabled", "Value": "false"},
            {"Key": "routing.http.desync_mitigation_mode", "Value": "monitor"},
            {"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "false"},
        ],
    )
    for name in ("payments-alb", "internal-alb"):
        elbv2.modify_load_balancer_attributes(
            LoadBalancerArn=albs[name],
            Attributes=[
                {"Key": "deletion_protection.enabled", "Value": "true"},
                {"Key": "access_logs.s3.enabled", "Value": "true"},
                {"Key": "access_logs.s3.bucket", "Value": "access-logs"},
                {"Key": "routing.http.desync_mitigation_mode", "Value": "defensive"},
                {"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true"},
            ],
        )

    _classic_load_balancers(client("elb"), subnets, web_sg, cert)
    _functions(client("lambda"), iam, subnets, db_sg)
    _search_domains(client("opensearch"), subnets, db_sg, region)

    api = apigw.create_rest_api(name="wallet-public-api", endpointConfiguration={"types": ["REGIONAL"]})["id"]
    root = apigw.get_resources(restApiId=api)["items"][0]["id"]
    apigw.put_method(restApiId=api, resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(restApiId=api, resourceId=root, httpMethod="GET", type="MOCK")
    transfers = apigw.create_resource(restApiId=api, parentId=root, pathPart="transfers")["id"]
    for verb, auth in (("POST", "AWS_IAM"), ("OPTIONS", "NONE")):
        apigw.put_method(restApiId=api, resourceId=transfers, httpMethod=verb, authorizationType=auth)
        apigw.put_integration(restApiId=api, resourceId=transfers, httpMethod=verb, type="MOCK")
    deployment = apigw.create_deployment(restApiId=api)["id"]
    for stage in ("prod", "sandbox"):
        apigw.create_stage(restApiId=api, stageName=stage, deploymentId=deployment)
    apigw.update_stage(restApiId=api, stageName="prod", patchOperations=[
        {"op": "replace", "path": "/accessLogSettings/destinationArn",
         "value": f"arn:aws:logs:{region}:{ACCOUNT}:log-group:wallet-api-access"},
        {"op": "replace", "path": "/accessLogSettings/format",
         "value": "$context.requestId $context.identity.sourceIp $context.httpMethod $context.status"},
    ])
    for domain, policy in (("api.pay.example.test", "TLS_1_2"), ("legacy-api.pay.example.test", "TLS_1_0")):
        apigw.create_domain_name(domainName=domain, regionalCertificateArn=cert, securityPolicy=policy,
                                 endpointConfiguration={"types": ["REGIONAL"]})
    wafv2.associate_web_acl(
        WebACLArn=good_acl, ResourceArn=f"arn:aws:apigateway:{region}::/restapis/{api}/stages/prod"
    )

    subnet_group = rds.create_db_subnet_group(
        DBSubnetGroupName="cde-db", DBSubnetGroupDescription="cde", SubnetIds=subnets
    )["DBSubnetGroup"]["DBSubnetGroupName"]
    common = {
        "DBInstanceClass": "db.t3.micro",
        "Engine": "postgres",
        "MasterUsername": "wallet",
        "MasterUserPassword": "demo-only-password",
        "AllocatedStorage": 20,
        "DBSubnetGroupName": subnet_group,
        "VpcSecurityGroupIds": [db_sg],
    }
    rds.create_db_instance(
        DBInstanceIdentifier="ledger-db",
        StorageEncrypted=True,
        KmsKeyId=cde_key_id,
        PubliclyAccessible=False,
        BackupRetentionPeriod=14,
        DeletionProtection=True,
        EnableIAMDatabaseAuthentication=True,
        EnableCloudwatchLogsExports=["postgresql"],
        MultiAZ=True,
        **common,
    )
    rds.create_db_instance(
        DBInstanceIdentifier="reporting-db", StorageEncrypted=False, PubliclyAccessible=True, **common
    )

    def bucket(
        name: str,
        *,
        kms_key: str | None = None,
        sse: bool = True,
        cardholder: bool = False,
        lock_mode: str | None = None,
        lock_days: int = 0,
        hardened: bool = False,
        log_to: str | None = "access-logs",
        expire_days: int = 0,
    ) -> str:
        s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=lock_mode is not None)
        if hardened:
            _harden_bucket(s3, name, log_to=log_to)
        if expire_days:
            s3.put_bucket_lifecycle_configuration(
                Bucket=name,
                LifecycleConfiguration={
                    "Rules": [
                        {
                            "ID": "retention",
                            "Status": "Enabled",
                            "Filter": {"Prefix": ""},
                            "Expiration": {"Days": expire_days},
                        }
                    ]
                },
            )
        if sse:
            rule = (
                {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": kms_key}
                if kms_key
                else {"SSEAlgorithm": "AES256"}
            )
            s3.put_bucket_encryption(
                Bucket=name,
                ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": rule}]},
            )
        if cardholder:
            s3.put_bucket_tagging(
                Bucket=name, Tagging={"TagSet": [{"Key": "data-classification", "Value": "cardholder"}]}
            )
        if lock_mode:
            s3.put_object_lock_configuration(
                Bucket=name,
                ObjectLockConfiguration={
                    "ObjectLockEnabled": "Enabled",
                    "Rule": {"DefaultRetention": {"Mode": lock_mode, "Days": lock_days}},
                },
            )
        return name

    bucket("access-logs", kms_key=cde_key_id, hardened=True, log_to=None)
    bucket("cardholder-data", kms_key=cde_key_id, cardholder=True, hardened=True, expire_days=400)
    bucket("cde-exports", cardholder=True)
    bucket("scratch-uploads", sse=False)
    public = bucket("public-assets")
    s3.put_bucket_policy(
        Bucket=public,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{public}/*",
                    }
                ],
            }
        ),
    )
    org_bucket = bucket(
        "org-trail-logs", kms_key=cde_key_id, lock_mode="COMPLIANCE", lock_days=400, hardened=True
    )
    app_bucket = bucket("app-trail-logs", lock_mode="GOVERNANCE", lock_days=30)

    trail.create_trail(
        Name="org-trail",
        S3BucketName=org_bucket,
        IsMultiRegionTrail=True,
        EnableLogFileValidation=True,
        KmsKeyId=cde_key["KeyMetadata"]["Arn"],
        CloudWatchLogsLogGroupArn=f"arn:aws:logs:{region}:{ACCOUNT}:log-group:{TRAIL_LOG_GROUP}:*",
        CloudWatchLogsRoleArn=f"arn:aws:iam::{ACCOUNT}:role/org-trail-to-cloudwatch",
    )
    trail.put_event_selectors(
        TrailName="org-trail",
        EventSelectors=[
            {
                "ReadWriteType": "All",
                "IncludeManagementEvents": True,
                "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]}],
            }
        ],
    )
    trail.start_logging(Name="org-trail")
    trail.create_trail(Name="app-trail", S3BucketName=app_bucket)
    trail.start_logging(Name="app-trail")

    ecr.create_repository(repositoryName="wallet-api", imageScanningConfiguration={"scanOnPush": True},
                          imageTagMutability="IMMUTABLE")
    ecr.create_repository(repositoryName="legacy-worker", imageScanningConfiguration={"scanOnPush": False})
    ecr.set_repository_policy(repositoryName="legacy-worker", policyText=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Sid": "anyone-pulls", "Effect": "Allow", "Principal": "*",
                       "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}],
    }))
    for repo in ("wallet-api", "legacy-worker"):
        ecr.put_image(repositoryName=repo, imageManifest=_manifest(repo), imageTag="1.0.0")
    digest = ecr.describe_images(repositoryName="wallet-api")["imageDetails"][0]["imageDigest"]
    ecr.start_image_scan(repositoryName="wallet-api", imageId={"imageDigest": digest})

    eks = client("eks")
    eks_role = f"arn:aws:iam::{ACCOUNT}:role/eks-control-plane"
    eks.create_cluster(
        name="payments-eks",
        version="1.35",
        roleArn=eks_role,
        resourcesVpcConfig={
            "subnetIds": subnets,
            "endpointPublicAccess": False,
            "endpointPrivateAccess": True,
        },
        encryptionConfig=[{"resources": ["secrets"], "provider": {"keyArn": cde_key["KeyMetadata"]["Arn"]}}],
        logging={"clusterLogging": [{"types": ["api", "audit", "authenticator"], "enabled": True}]},
    )
    eks.create_cluster(name="sandbox-eks", version="1.27", roleArn=eks_role,
                       resourcesVpcConfig={"subnetIds": subnets})

    iam.update_account_password_policy(
        MinimumPasswordLength=8,
        RequireNumbers=True,
        RequireLowercaseCharacters=True,
        PasswordReusePrevention=4,
    )
    admin = iam.create_policy(
        PolicyName="ops-admin",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        ),
    )["Policy"]["Arn"]
    for user, console, mfa in (("alice", True, True), ("bob", True, False), ("ci-deployer", False, False)):
        iam.create_user(UserName=user)
        if console:
            iam.create_login_profile(UserName=user, Password="Demo-only-password-1!")  # noqa: S106 - emulator # nosec B106
        if mfa:
            serial = iam.create_virtual_mfa_device(VirtualMFADeviceName=user)["VirtualMFADevice"][
                "SerialNumber"
            ]
            iam.enable_mfa_device(
                UserName=user, SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321"
            )
    iam.attach_user_policy(UserName="bob", PolicyArn=admin)
    _monitoring(session, endpoint_url)
    return {"vpc": vpc, "albs": albs, "api": api, "empty_acl": empty_acl, "good_acl": good_acl}
