"""Database URLs: `sqlite:///path.db` (embedded default) or `mysql://user:pw@host:port/db`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit


@dataclass(frozen=True)
class DatabaseTarget:
    """Where the store lives; `path` for SQLite, the rest for MariaDB/MySQL."""

    dialect: str
    path: str = ""
    host: str = "127.0.0.1"
    port: int = 3306
    user: str = ""
    password: str = ""
    database: str = ""
    options: tuple[tuple[str, str], ...] = ()

    def connect_args(self, *, with_database: bool = True) -> dict[str, Any]:
        """mysql.connector.connect()'s keyword arguments for this server (and its URL options:
        socket, TLS, charset), for every direct connection; without the database for the
        administrative ones that create or drop it."""
        args: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            **dict(self.options),
        }
        if with_database:
            args["database"] = self.database
        return args

    def redacted(self) -> str:
        """A printable form that never shows the password."""
        if self.dialect == "sqlite":
            return f"sqlite:///{self.path}"
        return f"mysql://{self.user}@{self.host}:{self.port}/{self.database}"


MYSQL_OPTIONS = {"unix_socket", "ssl_ca", "ssl_cert", "ssl_key", "charset"}


def parse_database_url(url: str) -> DatabaseTarget:
    """Parse and validate; raises ValueError with a reason a user can act on."""
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
        if not path:
            raise ValueError(f"{url!r} names no file (sqlite:///chargelog.db)")
        return DatabaseTarget(dialect="sqlite", path=path)
    parts = urlsplit(url)
    if parts.scheme in ("mysql", "mariadb", "mysql+mysqlconnector"):
        database = parts.path.lstrip("/")
        if not database or "/" in database:
            raise ValueError(
                f"{redact_url(url)!r} names no database (mysql://user:pw@host:3306/dbname)"
            )
        try:
            port = parts.port or 3306
        except ValueError:
            raise ValueError(f"{redact_url(url)!r} has an invalid port") from None
        options = tuple(parse_qsl(parts.query))
        for name, _ in options:
            if name not in MYSQL_OPTIONS:
                raise ValueError(
                    f"unknown option {name!r} (known: {', '.join(sorted(MYSQL_OPTIONS))})"
                )
        return DatabaseTarget(
            dialect="mysql",
            host=parts.hostname or "127.0.0.1",
            port=port,
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            database=unquote(database),
            options=options,
        )
    raise ValueError(
        f"{redact_url(url)!r} is not sqlite:///FILE or mysql://USER:PASSWORD@HOST:PORT/DB"
    )


def redact_url(url: str) -> str:
    """The URL as it may be printed: its password replaced by ***."""
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@", 1)
    return url
