import subprocess
import sys
from pathlib import Path

import pytest

from wallet.config import Config, ConfigError


def test_defaults_and_env(tmp_path):
    cfg = Config.load({"WALLET_HOME": str(tmp_path), "WALLET_TOKEN_TTL": "300", "WALLET_LOG_LEVEL": "debug"})
    assert cfg.token_ttl == 300
    assert cfg.log_level == "DEBUG"
    assert cfg.db_url == f"sqlite:///{tmp_path / 'wallet.db'}"
    assert cfg.key_path == tmp_path / "kek.key"


def test_file_then_env_overrides(tmp_path):
    path = tmp_path / "wallet.yaml"
    path.write_text("issuer: from-file\ntoken_ttl: 600\nkey_file: /tmp/k\n")
    cfg = Config.load({"WALLET_CONFIG": str(path), "WALLET_TOKEN_TTL": "120"})
    assert (cfg.issuer, cfg.token_ttl, str(cfg.key_path)) == ("from-file", 120, "/tmp/k")


def test_settings_are_frozen():
    with pytest.raises(ValueError, match="frozen"):
        Config.load({}).token_ttl = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("- a list", "mapping"),
        ("a: [", "not valid YAML"),
        ("colour: blue", "unknown setting"),
        ("token_ttl: soon", "token_ttl: Input should be a valid integer"),
        ("token_ttl: 3600", "token_ttl: .*less than or equal to 900"),
        ("token_ttl: 2.5", "token_ttl"),
        ("rate_limit_burst: 0", "rate_limit_burst: .*greater than or equal to 1"),
        ("max_body_bytes: 10", "max_body_bytes: .*greater than or equal to 1024"),
        ("log_level: LOUD", "log_level: Input should be 'DEBUG'"),
        ("acquirer: mybank", "acquirer: Input should be 'test' or 'http'"),
        ("auth_max_failures: 11", "auth_max_failures: .*less than or equal to 10"),
        ("auth_lockout_seconds: 0", "auth_lockout_seconds"),
        ("issuer: two words", "issuer: must be 1 to 200 printable ASCII"),
    ],
)
def test_bad_file(tmp_path, content, message):
    path = tmp_path / "wallet.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        Config.load({"WALLET_CONFIG": str(path)})


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("RATE_LIMIT_PER_SECOND", "nan", "rate_limit_per_second: Input should be a finite number"),
        ("RATE_LIMIT_PER_SECOND", "inf", "rate_limit_per_second: Input should be a finite number"),
        ("RATE_LIMIT_PER_SECOND", "-Infinity", "rate_limit_per_second: Input should be a finite number"),
        ("RATE_LIMIT_PER_SECOND", "-5", "rate_limit_per_second: Input should be greater than 0"),
        ("RATE_LIMIT_PER_SECOND", "0", "rate_limit_per_second: Input should be greater than 0"),
        ("RATE_LIMIT_BURST", "1e3", "rate_limit_burst: Input should be a valid integer"),
        ("DATABASE_URL", "mysql://u:hunter2@db/w", "database_url: the wallet runs on sqlite or postgresql"),
        ("DATABASE_URL", "no url at all", "database_url: must be an SQLAlchemy URL"),
        ("KMS_KEY_ID", "my-key", "kms_key_id: must be a KMS key id"),
        ("AWS_REGION", "moon-1", "aws_region: must be an AWS region name"),
        ("HOME", " ", "home: must be a directory path"),
        ("KEY_FILE", "  ", "key_file: must be a file path"),
    ],
)
def test_bad_environment(name, value, message):
    with pytest.raises(ConfigError, match=message) as caught:
        Config.load({f"WALLET_{name}": value})
    assert "\n" not in str(caught.value)
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    "value",
    [
        "1234abcd-12ab-34cd-56ef-1234567890ab",
        "alias/wallet-kek",
        "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "mrk-1234567890abcdef1234567890abcdef",
    ],
)
def test_kms_key_forms(value):
    assert Config.load({"WALLET_KMS_KEY_ID": value, "WALLET_AWS_REGION": "us-gov-west-1"}).kms_key_id == value


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        Config.load({"WALLET_CONFIG": str(tmp_path / "absent.yaml")})


def test_cli_refuses_nan_rate_limit_in_one_line(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "WALLET_HOME": str(tmp_path), "WALLET_RATE_LIMIT_PER_SECOND": "nan"}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "wallet"), "db", "upgrade"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr == "wallet: error: setting rate_limit_per_second: Input should be a finite number\n"
    assert not (tmp_path / "wallet.db").exists()
