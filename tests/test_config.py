"""Configuration: defaults, the INI file, systemd credentials, environment overrides, and errors
that name the key and where the bad value came from."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from journal.config import ConfigError, load_config


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.ini"
    path.write_text(text)
    return str(path)


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = load_config(None, env={})
    assert cfg.source == "built-in defaults"
    assert (cfg.mqtt.host, cfg.mqtt.port, cfg.mqtt.client_id) == (
        "127.0.0.1",
        1883,
        "chargelog-recorder",
    )
    assert cfg.mqtt.topics == ("openevse/#",)
    assert cfg.mqtt.protocol == "3.1.1" and cfg.mqtt.tls is False
    assert cfg.database.url == "sqlite:///chargelog.db"
    assert cfg.web.host == "127.0.0.1"
    assert cfg.journal.seal_after_days == 2


def test_config_ini_in_working_directory_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "[mqtt]\nport = 1884\n")
    cfg = load_config(None, env={})
    assert cfg.mqtt.port == 1884 and cfg.source == "config.ini"


def test_file_values(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "[mqtt]\nhost = broker.lan\ntopics = openevse/#, openevse-ab12/# ,openevse/announce/#\n"
        "protocol = 5\ntls = yes\nusername = evse\npassword = s%cret;x\n"
        "[database]\nurl = mysql://chargelog:pw@db.lan:3307/emoncms\n",
    )
    cfg = load_config(path, env={})
    assert cfg.mqtt.host == "broker.lan"
    assert cfg.mqtt.topics == ("openevse/#", "openevse-ab12/#", "openevse/announce/#")
    assert cfg.mqtt.protocol == "5" and cfg.mqtt.tls is True
    assert cfg.mqtt.password == "s%cret;x"  # no interpolation, no comment stripping inside values
    assert cfg.database.url.startswith("mysql://")


def test_environment_overrides_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[mqtt]\nport = 1884\npassword = from-file\n")
    env = {"CHARGELOG_MQTT_PORT": "1885", "CHARGELOG_DATABASE_URL": "sqlite:///other.db"}
    cfg = load_config(path, env=env)
    assert cfg.mqtt.port == 1885
    assert cfg.mqtt.password == "from-file"
    assert cfg.database.url == "sqlite:///other.db"


def test_seal_after_days_from_the_file_and_the_environment(tmp_path: Path) -> None:
    """0 is a value (automatic sealing off), not a missing one; the environment wins."""
    path = write(tmp_path, "[journal]\nseal_after_days = 0\n")
    assert load_config(path, env={}).journal.seal_after_days == 0
    env = {"CHARGELOG_JOURNAL_SEAL_AFTER_DAYS": "7"}
    assert load_config(path, env=env).journal.seal_after_days == 7


def test_systemd_credentials(tmp_path: Path) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "mqtt_password").write_text("from-credential\n")
    (creds / "database_url").write_text("mysql://rec:pw@127.0.0.1/chargelog")
    cfg = load_config(None, env={"CREDENTIALS_DIRECTORY": str(creds)})
    assert cfg.mqtt.password == "from-credential"
    assert cfg.database.url == "mysql://rec:pw@127.0.0.1/chargelog"
    # the environment still wins over a credential
    cfg = load_config(
        None, env={"CREDENTIALS_DIRECTORY": str(creds), "CHARGELOG_MQTT_PASSWORD": "env"}
    )
    assert cfg.mqtt.password == "env"


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("[mqtt]\nport = abc\n", {}, "[mqtt] port: 'abc' is not a whole number"),
        ("[mqtt]\nport = 70000\n", {}, "[mqtt] port: 70000 is outside 1..65535"),
        ("[mqtt]\nprotocol = 4\n", {}, "[mqtt] protocol"),
        ("[mqtt]\ntls = maybe\n", {}, "[mqtt] tls: 'maybe' is not a boolean"),
        ("[mqtt]\ntopics = openevse/#/x\n", {}, "[mqtt] topics"),
        ("[mqtt]\nhots = x\n", {}, "unknown key [mqtt] hots"),
        ("[mqqt]\nhost = x\n", {}, "unknown section [mqqt]"),
        ("[database]\nurl = postgres://x/y\n", {}, "[database] url"),
        ("[database]\nurl = mysql://u:secret@h/\n", {}, "names no database"),
        (
            "[recorder]\n",
            {"CHARGELOG_RECORDER_BATCH_SIZE": "0"},
            "environment CHARGELOG_RECORDER_BATCH_SIZE",
        ),
        (
            "[journal]\nseal_after_days = -1\n",
            {},
            "[journal] seal_after_days: -1 is outside 0..36500",
        ),
        (
            "[journal]\nseal_after_days = 1.5\n",
            {},
            "[journal] seal_after_days: '1.5' is not a whole number",
        ),
        (
            "[journal]\n",
            {"CHARGELOG_JOURNAL_SEAL_AFTER_DAYS": "soon"},
            "environment CHARGELOG_JOURNAL_SEAL_AFTER_DAYS: [journal] seal_after_days",
        ),
    ],
)
def test_bad_values_name_the_key_and_the_source(
    tmp_path: Path, text: str, env: dict, expected: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, env=env)
    assert expected in str(info.value)
    if not env:
        assert str(info.value).startswith(path)


def test_password_is_never_echoed_in_a_url_error(tmp_path: Path) -> None:
    path = write(tmp_path, "[database]\nurl = mysql://u:topsecret@h/\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert "topsecret" not in str(info.value)


def test_missing_explicit_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_config(str(tmp_path / "nope.ini"), env={})


def test_cli_bad_config_prints_one_line_and_exits_2(tmp_path: Path) -> None:
    path = write(tmp_path, "[mqtt]\nkeepalive = soon\n")
    result = subprocess.run(
        [sys.executable, "-m", "chargelog.cli", "--config", path, "migrate"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert path in lines[0] and "[mqtt] keepalive" in lines[0]


def test_example_file_documents_every_key_with_its_default(tmp_path: Path) -> None:
    """config.ini.example is the reference users copy: it must parse, name every key, and show
    the built-in defaults."""
    from journal.config import _PARSERS, Config

    example = Path(__file__).resolve().parent.parent / "config.ini.example"
    cfg = load_config(str(example), env={})
    assert cfg == Config(source=str(example))
    text = example.read_text()
    for section, keys in _PARSERS.items():
        assert f"[{section}]" in text
        for key in keys:
            assert f"\n{key} =" in text, f"[{section}] {key} is not documented"


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("a directory", "is a directory, not a configuration file"),
        ("an empty file", "the configuration file is empty"),
        ("/dev/null", "the configuration file is empty"),
        ("comments only", "the configuration file is empty"),
    ],
)
def test_a_path_that_is_no_configuration_says_what_it_is(
    tmp_path: Path, name: str, said: str
) -> None:
    """Not "file not found" for a file that is there: running on defaults from /dev/null would
    look like working (a SQLite file in the working directory) and log nothing."""
    paths = {
        "a directory": str(tmp_path),
        "an empty file": write(tmp_path, ""),
        "/dev/null": "/dev/null",
        "comments only": str(tmp_path / "comments.ini"),
    }
    (tmp_path / "comments.ini").write_text("# [mqtt]\n# port = 1884\n")
    with pytest.raises(ConfigError, match="^" + paths[name].replace(".", r"\.") + ": " + said):
        load_config(paths[name], env={})


def test_a_mistyped_variable_is_warned_about_with_the_nearest_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    env = {
        "CHARGELOG_MQTT_PORTT": "1884",
        "CHARGELOG_DATABSE_URL": "sqlite:///x.db",
        "CHARGELOG_NOTHING_LIKE_IT": "1",
        "CHARGELOG_LEGACY_PASSWORD": "read by import-legacy",
        "CHARGELOG_TEST_MYSQL": "read by the tests",
        "CHARGELOG_MQTT_PORT": "1885",
    }
    with caplog.at_level("WARNING", logger="journal.config"):
        cfg = load_config(write(tmp_path, "[mqtt]\nhost = broker\n"), env=env)
    assert cfg.mqtt.port == 1885  # the right name still works
    lines = sorted(r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    assert lines == [
        "environment CHARGELOG_DATABSE_URL is not a chargelog setting and is ignored "
        "(did you mean CHARGELOG_DATABASE_URL, [database] url?)",
        "environment CHARGELOG_MQTT_PORTT is not a chargelog setting and is ignored "
        "(did you mean CHARGELOG_MQTT_PORT, [mqtt] port?)",
        "environment CHARGELOG_NOTHING_LIKE_IT is not a chargelog setting and is ignored",
    ]
