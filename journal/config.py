"""Configuration: defaults, then the INI file, then systemd credentials, then the environment.

Parsed once into frozen dataclasses and passed explicitly, so nothing reads globals at import time.
A bad value raises ConfigError naming the key and where the value came from.
"""

from __future__ import annotations

import configparser
import difflib
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from journal.amount_text import parse_currency, parse_price
from journal.storage.url import parse_database_url

DEFAULT_CONFIG_FILE = "config.ini"
ENV_PREFIX = "CHARGELOG_"
# CHARGELOG_ variables that are not settings: read by one command, or by the tests and CI.
_OTHER_VARIABLES = ("CHARGELOG_LEGACY_PASSWORD",)
_OTHER_PREFIXES = ("CHARGELOG_TEST_", "CHARGELOG_CI_")

log = logging.getLogger(__name__)


class ConfigError(Exception):
    """A configuration value is missing, malformed or unknown; the message names the key."""


def _parse_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{text!r} is not a boolean (true/false)")


def _parse_int(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a whole number") from None


def _parse_float(text: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{text!r} is not a finite number")
    return value


def _parse_topics(text: str) -> tuple[str, ...]:
    topics = tuple(t.strip() for t in text.split(",") if t.strip())
    if not topics:
        raise ValueError("needs at least one topic filter")
    for topic in topics:
        if "#" in topic[:-1] or (topic.endswith("#") and len(topic) > 1 and topic[-2] != "/"):
            raise ValueError(f"{topic!r} is not a valid MQTT topic filter")
    return topics


def _parse_protocol(text: str) -> str:
    value = text.strip()
    if value in ("3.1.1", "311", "v311"):
        return "3.1.1"
    if value in ("5", "5.0", "v5"):
        return "5"
    raise ValueError(f"{text!r} is not a supported MQTT protocol (3.1.1 or 5)")


def _range(parse: Callable[[str], Any], low: float, high: float) -> Callable[[str], Any]:
    def checked(text: str) -> Any:
        value = parse(text)
        if not low <= value <= high:
            raise ValueError(f"{value} is outside {low:g}..{high:g}")
        return value

    return checked


def _parse_str(text: str) -> str:
    return text.strip()


def _parse_timezone(text: str) -> str:
    name = text.strip()
    if name:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{name!r} is not an IANA time zone (e.g. Europe/Paris)") from None
    return name


def site_zone(name: str) -> tzinfo:
    """The configured zone, or the machine's own (with its DST rules, not a fixed offset)."""
    if name:
        return ZoneInfo(name)
    import tzlocal

    return tzlocal.get_localzone()


def _parse_optional_price(text: str) -> Decimal | None:
    return parse_price(text) if text.strip() else None


def _parse_optional_date(text: str) -> date | None:
    if not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text.strip()!r} is not a date (YYYY-MM-DD)") from None


def _parse_database_url(text: str) -> str:
    url = text.strip()
    parse_database_url(url)
    return url


@dataclass(frozen=True)
class MqttConfig:
    host: str = "127.0.0.1"
    port: int = 1883
    username: str = ""
    password: str = ""
    tls: bool = False
    ca_file: str = ""
    client_id: str = "chargelog-recorder"
    topics: tuple[str, ...] = ("openevse/#",)
    protocol: str = "3.1.1"
    keepalive: int = 60
    session_expiry: int = 7 * 24 * 3600
    receive_maximum: int = 1000


@dataclass(frozen=True)
class DatabaseConfig:
    url: str = "sqlite:///chargelog.db"
    auto_migrate: bool = True


@dataclass(frozen=True)
class RecorderConfig:
    batch_size: int = 1000
    flush_interval: float = 0.1
    spool_path: str = ""
    max_queue: int = 200_000
    stall_timeout: float = 3600.0


@dataclass(frozen=True)
class JournalConfig:
    """How long the journal keeps messages as rows before the projector service seals them into
    compressed segments (whole UTC days this many days old; 0: never by itself, only when
    `chargelog seal --older-than` is run)."""

    seal_after_days: int = 2


@dataclass(frozen=True)
class ProjectorConfig:
    interval: float = 10.0


@dataclass(frozen=True)
class SiteConfig:
    timezone: str = ""


@dataclass(frozen=True)
class TariffConfig:
    """The single-price case without `chargelog tariff add`: a price per kWh for every charger,
    from `valid_from` (None: from the first session on). Tariffs in the database take over from
    their own dates on, and on the same date."""

    price: Decimal | None = None
    currency: str = "EUR"
    valid_from: date | None = None


@dataclass(frozen=True)
class WebConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    password_hash: str = ""
    secret_key: str = ""
    session_hours: float = 12.0  # a login lasts this long, whatever the cookie says
    secure_cookies: bool = False  # the login cookie only over HTTPS (behind a TLS proxy)


@dataclass(frozen=True)
class ChargersConfig:
    """[chargers]: a display name per charger and the base topics it published under, so a
    charger renamed by its owner or upgraded (2.x `openevse` -> 5.x `openevse-ab12`) stays one
    charger: `garage = openevse, openevse-ab12`. Bases not listed are their own name."""

    names: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def display_names(self) -> dict[str, str]:
        """Base topic -> display name."""
        return {base: name for name, bases in self.names for base in bases}

    def bases_of(self, name: str) -> tuple[str, ...]:
        """The base topics a display name published under (a base not listed: itself)."""
        return dict(self.names).get(name, (name,))


@dataclass(frozen=True)
class Config:
    mqtt: MqttConfig = MqttConfig()
    database: DatabaseConfig = DatabaseConfig()
    recorder: RecorderConfig = RecorderConfig()
    journal: JournalConfig = JournalConfig()
    projector: ProjectorConfig = ProjectorConfig()
    site: SiteConfig = SiteConfig()
    tariff: TariffConfig = TariffConfig()
    web: WebConfig = WebConfig()
    chargers: ChargersConfig = ChargersConfig()
    source: str = "built-in defaults"


_PARSERS: dict[str, dict[str, Callable[[str], Any]]] = {
    "mqtt": {
        "host": _parse_str,
        "port": _range(_parse_int, 1, 65535),
        "username": _parse_str,
        "password": str,
        "tls": _parse_bool,
        "ca_file": _parse_str,
        "client_id": _parse_str,
        "topics": _parse_topics,
        "protocol": _parse_protocol,
        "keepalive": _range(_parse_int, 5, 65535),
        "session_expiry": _range(_parse_int, 1, 4294967295),
        "receive_maximum": _range(_parse_int, 1, 65535),
    },
    "database": {"url": _parse_database_url, "auto_migrate": _parse_bool},
    "recorder": {
        "batch_size": _range(_parse_int, 1, 100_000),
        "flush_interval": _range(_parse_float, 0.0, 60.0),
        "spool_path": _parse_str,
        "max_queue": _range(_parse_int, 100, 10_000_000),
        "stall_timeout": _range(_parse_float, 0.0, 30 * 86400.0),
    },
    "journal": {"seal_after_days": _range(_parse_int, 0, 36_500)},
    "projector": {"interval": _range(_parse_float, 0.5, 86400.0)},
    "site": {"timezone": _parse_timezone},
    "tariff": {
        "price": _parse_optional_price,
        "currency": parse_currency,
        "valid_from": _parse_optional_date,
    },
    "web": {
        "host": _parse_str,
        "port": _range(_parse_int, 1, 65535),
        "password_hash": _parse_str,
        "secret_key": str,
        "session_hours": _range(_parse_float, 0.01, 8760),
        "secure_cookies": _parse_bool,
    },
}

_REQUIRED_NON_EMPTY = {("mqtt", "host"), ("mqtt", "client_id"), ("database", "url")}


def _apply(
    values: dict[str, dict[str, Any]], section: str, key: str, text: str, where: str
) -> None:
    parsers = _PARSERS.get(section)
    if parsers is None:
        raise ConfigError(f"{where}: unknown section [{section}]")
    parse = parsers.get(key)
    if parse is None:
        known = ", ".join(sorted(parsers))
        raise ConfigError(f"{where}: unknown key [{section}] {key} (known: {known})")
    try:
        value = parse(text)
    except ValueError as exc:
        raise ConfigError(f"{where}: [{section}] {key}: {exc}") from None
    if (section, key) in _REQUIRED_NON_EMPTY and not value:
        raise ConfigError(f"{where}: [{section}] {key} must not be empty")
    values.setdefault(section, {})[key] = value


def _parse_bases(text: str) -> tuple[str, ...]:
    bases = tuple(b.strip() for b in text.split(",") if b.strip())
    if not bases:
        raise ValueError("needs at least one base topic (comma-separated)")
    for base in bases:
        if any(c in base for c in "+#") or base.endswith("/") or base.startswith("/"):
            raise ValueError(
                f"{base!r} is not a charger's base topic (no wildcards, no / at an end)"
            )
    return bases


def _read_chargers(parser: configparser.ConfigParser, where: str) -> ChargersConfig:
    """[chargers] keys are display names, kept as written (other keys are case-insensitive);
    each base topic belongs to one name only."""
    if not parser.has_section("chargers"):
        return ChargersConfig()
    names: list[tuple[str, tuple[str, ...]]] = []
    owner: dict[str, str] = {}
    for name, text in parser.items("chargers"):
        try:
            bases = _parse_bases(text)
        except ValueError as exc:
            raise ConfigError(f"{where}: [chargers] {name}: {exc}") from None
        for base in bases:
            if base in owner and owner[base] != name:
                raise ConfigError(
                    f"{where}: [chargers] {name}: base topic {base!r} is already "
                    f"[chargers] {owner[base]}'s"
                )
            owner[base] = name
        names.append((name, bases))
    return ChargersConfig(tuple(names))


def _read_file(path: Path, values: dict[str, dict[str, Any]]) -> ChargersConfig:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # display names keep case
    try:
        with path.open(encoding="utf-8") as handle:
            parser.read_file(handle)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read configuration file: {exc.strerror}") from None
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not a valid INI file: {exc}") from None
    if not parser.sections():
        # /dev/null or a file truncated by mistake: running on defaults (a SQLite file in the
        # working directory, a broker on localhost) would look like working and log nothing.
        raise ConfigError(
            f"{path}: the configuration file is empty (no [section] in it); "
            "leave out --config to run on the built-in defaults"
        )
    for section in parser.sections():
        if section == "chargers":
            continue
        for key, text in parser.items(section):
            _apply(values, section, key.lower(), text, str(path))
    return _read_chargers(parser, str(path))


def _read_credentials(directory: str, values: dict[str, dict[str, Any]]) -> None:
    """systemd LoadCredential= files named <section>_<key> (e.g. mqtt_password, database_url)."""
    for section, parsers in _PARSERS.items():
        for key in parsers:
            path = Path(directory) / f"{section}_{key}"
            if path.is_file():
                text = path.read_text(encoding="utf-8").rstrip("\r\n")
                _apply(values, section, key, text, f"credential {path}")


def _read_environment(env: Mapping[str, str], values: dict[str, dict[str, Any]]) -> None:
    known = {}
    for section, parsers in _PARSERS.items():
        for key in parsers:
            name = f"{ENV_PREFIX}{section.upper()}_{key.upper()}"
            known[name] = (section, key)
            if name in env:
                _apply(values, section, key, env[name], f"environment {name}")
    for name in sorted(env):
        if name.startswith(ENV_PREFIX) and name not in known:
            _warn_unknown_variable(name, known)


def _warn_unknown_variable(name: str, known: Mapping[str, tuple[str, str]]) -> None:
    """A mistyped variable (CHARGELOG_MQTT_PORTT) would otherwise be ignored in silence, and the
    service would run on the default it was meant to override."""
    if name in _OTHER_VARIABLES or name.startswith(_OTHER_PREFIXES):
        return
    # Compared without the prefix every name shares, which would make anything look close.
    size = len(ENV_PREFIX)
    nearest = difflib.get_close_matches(name[size:], [k[size:] for k in known], n=1, cutoff=0.6)
    hint = ""
    if nearest:
        closest = ENV_PREFIX + nearest[0]
        section, key = known[closest]
        hint = f" (did you mean {closest}, [{section}] {key}?)"
    log.warning("environment %s is not a chargelog setting and is ignored%s", name, hint)


def load_config(path: str | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Build the configuration; `path` None means ./config.ini when it exists, else defaults."""
    env = os.environ if env is None else env
    values: dict[str, dict[str, Any]] = {}
    chargers = ChargersConfig()
    source = "built-in defaults"
    if path is not None:
        file_path = Path(path)
        if file_path.is_dir():
            raise ConfigError(f"{path}: is a directory, not a configuration file")
        if not file_path.exists():
            raise ConfigError(f"{path}: configuration file not found")
        chargers = _read_file(file_path, values)
        source = str(file_path)
    elif Path(DEFAULT_CONFIG_FILE).is_file():
        chargers = _read_file(Path(DEFAULT_CONFIG_FILE), values)
        source = DEFAULT_CONFIG_FILE
    credentials = env.get("CREDENTIALS_DIRECTORY")
    if credentials:
        _read_credentials(credentials, values)
    _read_environment(env, values)
    defaults = Config()
    sections = {name: type(getattr(defaults, name))(**values.get(name, {})) for name in _PARSERS}
    return Config(**sections, chargers=chargers, source=source)
