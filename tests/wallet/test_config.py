import pytest

from wallet.config import Config, ConfigError


def test_defaults_and_env(tmp_path):
    cfg = Config.load({"WALLET_HOME": str(tmp_path), "WALLET_TOKEN_TTL": "300"})
    assert cfg.token_ttl == 300
    assert cfg.db_url == f"sqlite:///{tmp_path / 'wallet.db'}"
    assert cfg.key_path == tmp_path / "kek.key"


def test_file_then_env_overrides(tmp_path):
    path = tmp_path / "wallet.yaml"
    path.write_text("issuer: from-file\ntoken_ttl: 600\nkey_file: /tmp/k\n")
    cfg = Config.load({"WALLET_CONFIG": str(path), "WALLET_TOKEN_TTL": "120"})
    assert (cfg.issuer, cfg.token_ttl, str(cfg.key_path)) == ("from-file", 120, "/tmp/k")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("- a list", "mapping"),
        ("a: [", "not valid YAML"),
        ("colour: blue", "unknown setting"),
        ("token_ttl: soon", "not a valid int"),
        ("token_ttl: 3600", "between 1 and 900"),
        ("rate_limit_burst: 0", "positive"),
        ("max_body_bytes: 10", "at least 1024"),
    ],
)
def test_bad_file(tmp_path, content, message):
    path = tmp_path / "wallet.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        Config.load({"WALLET_CONFIG": str(path)})


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        Config.load({"WALLET_CONFIG": str(tmp_path / "absent.yaml")})
