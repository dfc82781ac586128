"""What to collect from an AWS account, as data.

Each `Call` is one API operation made once per region (or once, for global services); each `Follow`
is a per-item call made for every item the parent returned. Parameter values are templates filled
from the parent items, the region and the account, e.g. ``{"Bucket": "{Name}"}`` or
``{"AccountId": "{account}"}``; `key` may be a dotted path (``DistributionList.Items``) and a list of
plain names is followed with ``{item}``. A new resource type costs a
few lines here; the collector does the calling, paging, retrying and recording.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

REGIONAL = "regional"
GLOBAL = "global"


@dataclass(frozen=True)
class Follow:
    operation: str
    params: dict[str, Any]
    service: str | None = None
    key: str | None = None
    """Where the answer holds the items that `then` follows further."""
    absent: frozenset[str] = frozenset()
    """Error codes that mean 'nothing configured': recorded as a definite answer, not an error."""
    when: Callable[[dict[str, Any]], bool] | None = None
    select: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = None
    then: tuple[Follow, ...] = ()


@dataclass(frozen=True)
class Call:
    service: str
    operation: str
    key: str | None = None
    scope: str = REGIONAL
    params: dict[str, Any] = field(default_factory=dict)
    absent: frozenset[str] = frozenset()
    follow: tuple[Follow, ...] = ()
    region: str | None = None
    """The one region a global call must be made in (CloudFront's web ACLs live in us-east-1);
    None: the account's home region."""


def _newest_image(images: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(images, key=lambda i: str(i.get("imagePushedAt", "")))[-1:]


def _is_alb(lb: dict[str, Any]) -> bool:
    return lb.get("Type") == "application"


def _home_region(trail: dict[str, Any]) -> bool:
    return trail.get("HomeRegion") in (None, trail["region"])


def _own(snapshot: dict[str, Any]) -> bool:
    """Snapshots the account owns (an emulator may list public AMI snapshots under OwnerIds=self)."""
    return snapshot.get("OwnerId") in (None, snapshot.get("account"))


def _first(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return items[:1]


def _manual(snapshot: dict[str, Any]) -> bool:
    return snapshot.get("SnapshotType") == "manual"


WAF_FOR = "get_web_acl_for_resource"
CLOUDFRONT_REGION = "us-east-1"
"""Where WAF keeps the web ACLs of CloudFront distributions (scope CLOUDFRONT)."""

AWS_SPEC: tuple[Call, ...] = (
    Call("iam", "get_account_summary", scope=GLOBAL),
    Call("iam", "get_account_password_policy", scope=GLOBAL, absent=frozenset({"NoSuchEntity"})),
    Call("iam", "list_virtual_mfa_devices", "VirtualMFADevices", scope=GLOBAL),
    Call("iam", "list_server_certificates", "ServerCertificateMetadataList", scope=GLOBAL),
    Call("iam", "list_users", "Users", scope=GLOBAL, follow=(
        Follow("get_login_profile", {"UserName": "{UserName}"}, absent=frozenset({"NoSuchEntity"})),
        Follow("list_mfa_devices", {"UserName": "{UserName}"}),
        Follow("list_attached_user_policies", {"UserName": "{UserName}"}),
        Follow("list_user_policies", {"UserName": "{UserName}"}),
        Follow("list_access_keys", {"UserName": "{UserName}"}, key="AccessKeyMetadata", then=(
            Follow("get_access_key_last_used", {"AccessKeyId": "{AccessKeyId}"}),
        )),
    )),
    Call("iam", "list_policies", "Policies", scope=GLOBAL, params={"Scope": "Local", "OnlyAttached": True},
         follow=(Follow("get_policy_version", {"PolicyArn": "{Arn}", "VersionId": "{DefaultVersionId}"}),)),
    Call("s3control", "get_public_access_block", scope=GLOBAL, params={"AccountId": "{account}"},
         absent=frozenset({"NoSuchPublicAccessBlockConfiguration"})),
    Call("s3", "list_buckets", "Buckets", scope=GLOBAL, follow=(
        Follow("get_bucket_encryption", {"Bucket": "{Name}"},
               absent=frozenset({"ServerSideEncryptionConfigurationNotFoundError"})),
        Follow("get_bucket_tagging", {"Bucket": "{Name}"}, absent=frozenset({"NoSuchTagSet"})),
        Follow("get_object_lock_configuration", {"Bucket": "{Name}"},
               absent=frozenset({"ObjectLockConfigurationNotFoundError"})),
        Follow("get_public_access_block", {"Bucket": "{Name}"},
               absent=frozenset({"NoSuchPublicAccessBlockConfiguration"})),
        Follow("get_bucket_policy", {"Bucket": "{Name}"}, absent=frozenset({"NoSuchBucketPolicy"})),
        Follow("get_bucket_acl", {"Bucket": "{Name}"}),
        Follow("get_bucket_logging", {"Bucket": "{Name}"}),
        Follow("get_bucket_lifecycle_configuration", {"Bucket": "{Name}"},
               absent=frozenset({"NoSuchLifecycleConfiguration"})),
    )),
    Call("ec2", "describe_security_groups", "SecurityGroups"),
    Call("ec2", "get_ebs_encryption_by_default"),
    Call("ec2", "describe_vpcs", "Vpcs"),
    Call("ec2", "describe_flow_logs", "FlowLogs"),
    Call("ec2", "describe_subnets", "Subnets"),
    Call("ec2", "describe_network_acls", "NetworkAcls"),
    Call("ec2", "describe_volumes", "Volumes"),
    Call("ec2", "describe_instances", "Reservations", follow=(
        # asked once per region, and only when there are instances to judge
        Follow("describe_instance_information", {}, service="ssm", key="InstanceInformationList",
               select=_first),
        Follow("list_resource_compliance_summaries", {}, service="ssm", select=_first),
    )),
    Call("ec2", "describe_snapshots", "Snapshots", params={"OwnerIds": ["self"]}, follow=(
        Follow("describe_snapshot_attribute",
               {"SnapshotId": "{SnapshotId}", "Attribute": "createVolumePermission"}, when=_own),
    )),
    Call("rds", "describe_db_instances", "DBInstances"),
    Call("rds", "describe_db_clusters", "DBClusters"),
    Call("rds", "describe_db_snapshots", "DBSnapshots", follow=(
        Follow("describe_db_snapshot_attributes", {"DBSnapshotIdentifier": "{DBSnapshotIdentifier}"},
               when=_manual),
    )),
    Call("elbv2", "describe_load_balancers", "LoadBalancers", follow=(
        Follow("describe_listeners", {"LoadBalancerArn": "{LoadBalancerArn}"}),
        Follow("describe_load_balancer_attributes", {"LoadBalancerArn": "{LoadBalancerArn}"}),
        Follow(WAF_FOR, {"ResourceArn": "{LoadBalancerArn}"}, service="wafv2", when=_is_alb),
    )),
    Call("apigateway", "get_rest_apis", "items", follow=(
        Follow("get_stages", {"restApiId": "{id}"}, key="item", then=(
            Follow(WAF_FOR, {"ResourceArn": "arn:aws:apigateway:{region}::/restapis/{id}/stages/{stageName}"},
                   service="wafv2"),
        )),
        Follow("get_resources", {"restApiId": "{id}", "embed": ["methods"]}),
    )),
    Call("apigateway", "get_domain_names", "items"),
    Call("wafv2", "list_web_acls", "WebACLs", params={"Scope": "REGIONAL"}, follow=(
        Follow("get_web_acl", {"Name": "{Name}", "Id": "{Id}", "Scope": "REGIONAL"}),
        Follow("get_logging_configuration", {"ResourceArn": "{ARN}"},
               absent=frozenset({"WAFNonexistentItemException"})),
    )),
    Call("kms", "list_keys", "Keys", follow=(
        Follow("describe_key", {"KeyId": "{KeyId}"}),
        Follow("get_key_rotation_status", {"KeyId": "{KeyId}"}),
        Follow("get_key_policy", {"KeyId": "{KeyId}", "PolicyName": "default"}),
    )),
    Call("cloudtrail", "describe_trails", "trailList", follow=(
        Follow("get_trail_status", {"Name": "{TrailARN}"}, when=_home_region),
        Follow("get_event_selectors", {"TrailName": "{TrailARN}"}, when=_home_region),
    )),
    Call("eks", "list_clusters", "clusters", follow=(
        Follow("describe_cluster", {"name": "{item}"}),
    )),
    Call("logs", "describe_metric_filters", "metricFilters"),
    Call("logs", "describe_log_groups", "logGroups"),
    Call("cloudwatch", "describe_alarms", "MetricAlarms"),
    Call("config", "describe_configuration_recorders", "ConfigurationRecorders"),
    Call("config", "describe_configuration_recorder_status", "ConfigurationRecordersStatus"),
    Call("guardduty", "list_detectors", "DetectorIds", follow=(
        Follow("get_detector", {"DetectorId": "{item}"}),
    )),
    Call("inspector2", "batch_get_account_status", "accounts", params={"accountIds": ["{account}"]}),
    Call("secretsmanager", "list_secrets", "SecretList"),
    Call("acm", "list_certificates", "CertificateSummaryList", follow=(
        Follow("describe_certificate", {"CertificateArn": "{CertificateArn}"}),
    )),
    Call("dynamodb", "list_tables", "TableNames", follow=(
        Follow("describe_table", {"TableName": "{item}"}),
    )),
    Call("elasticache", "describe_replication_groups", "ReplicationGroups"),
    Call("sns", "list_topics", "Topics", follow=(
        Follow("get_topic_attributes", {"TopicArn": "{TopicArn}"}),
    )),
    Call("sqs", "list_queues", "QueueUrls", follow=(
        Follow("get_queue_attributes", {"QueueUrl": "{item}", "AttributeNames": ["All"]}),
    )),
    Call("efs", "describe_file_systems", "FileSystems"),
    Call("ecr", "get_registry_scanning_configuration"),
    Call("ecr", "describe_repositories", "repositories", follow=(
        Follow("get_repository_policy", {"repositoryName": "{repositoryName}"},
               absent=frozenset({"RepositoryPolicyNotFoundException"})),
        Follow("describe_images", {"repositoryName": "{repositoryName}"}, key="imageDetails",
               select=_newest_image, then=(
                   Follow("describe_image_scan_findings",
                          {"repositoryName": "{repositoryName}", "imageId": {"imageDigest": "{imageDigest}"}},
                          absent=frozenset({"ScanNotFoundException"})),
               )),
    )),
    Call("elb", "describe_load_balancers", "LoadBalancerDescriptions", follow=(
        Follow("describe_load_balancer_attributes", {"LoadBalancerName": "{LoadBalancerName}"}),
        Follow("describe_load_balancer_policies", {"LoadBalancerName": "{LoadBalancerName}"}),
    )),
    Call("lambda", "list_functions", "Functions", follow=(
        Follow("get_policy", {"FunctionName": "{FunctionName}"},
               absent=frozenset({"ResourceNotFoundException"})),
        Follow("list_tags", {"Resource": "{FunctionArn}"}),
    )),
    Call("opensearch", "list_domain_names", "DomainNames", follow=(
        Follow("describe_domain", {"DomainName": "{DomainName}"}),
    )),
    Call("cloudfront", "list_distributions", "DistributionList.Items", scope=GLOBAL, follow=(
        Follow("get_distribution_config", {"Id": "{Id}"}),
    )),
    Call("wafv2", "list_web_acls", "WebACLs", scope=GLOBAL, region=CLOUDFRONT_REGION,
         params={"Scope": "CLOUDFRONT"}, follow=(
             Follow("get_web_acl", {"Name": "{Name}", "Id": "{Id}", "Scope": "CLOUDFRONT"}),
         )),
)
