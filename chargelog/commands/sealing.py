"""The sealed journal's commands: `chargelog seal`, `chargelog export`, `chargelog verify`.

Each stops with one line naming the segment and its day when it meets a damaged segment
(journal.segments.SegmentDamaged): a damaged block is never read as data.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from typing import IO, TYPE_CHECKING, Any

from chargelog.commands.options import add_wait_option, parse_date
from journal.config import Config

if TYPE_CHECKING:
    from journal.export import Lines
    from journal.sealing import SealReport
    from journal.storage import Store


def _days(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} days: give 0 or more")
    return value


def register(commands: argparse._SubParsersAction) -> None:
    sub = commands.add_parser(
        "seal", help="move closed, projected days of the journal into compressed segments"
    )
    sub.add_argument(
        "--dry-run", action="store_true", help="say what would be sealed, change nothing"
    )
    sub.add_argument(
        "--older-than",
        type=_days,
        metavar="DAYS",
        help="seal whole UTC days received at least DAYS days ago "
        "(default: [journal] seal_after_days)",
    )
    add_wait_option(sub)
    sub.set_defaults(handler=cmd_seal)

    sub = commands.add_parser(
        "export", help="write journal messages as mosquitto_sub lines `chargelog import` reads"
    )
    sub.add_argument(
        "--from",
        dest="date_from",
        type=parse_date,
        metavar="DATE",
        help="first local day (YYYY-MM-DD, [site] timezone)",
    )
    sub.add_argument(
        "--to", dest="date_to", type=parse_date, metavar="DATE", help="last local day, inclusive"
    )
    sub.add_argument("--charger", metavar="NAME", help="only this charger (its MQTT base topic)")
    sub.add_argument(
        "--format",
        choices=("text", "hex"),
        default="text",
        help="text: mosquitto_sub -F '%%U %%t %%p'; hex: -F '%%U %%r %%q %%t %%x', which keeps "
        "qos, retained and any payload bytes (default text)",
    )
    sub.add_argument("file", metavar="FILE", help="where to write the lines; - for stdout")
    sub.set_defaults(handler=cmd_export)

    sub = commands.add_parser("verify", help="decode every sealed segment and check its checksum")
    sub.set_defaults(handler=cmd_verify)


def _bar(total: int, desc: str, unit: str) -> Any:
    """A tqdm bar on a terminal only."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, unit_scale=True, disable=not sys.stderr.isatty())


def cmd_seal(args: argparse.Namespace, cfg: Config) -> int:
    from journal.migrate import ensure_schema
    from journal.sealing import SealCheckFailed
    from journal.segments import SegmentDamaged
    from journal.storage import open_store
    from projector.catchup import LockHeld, projector_lock

    days = cfg.journal.seal_after_days if args.older_than is None else args.older_than
    if args.older_than is None and days == 0:
        print(
            "sealing is off ([journal] seal_after_days = 0); "
            "`chargelog seal --older-than DAYS` seals anyway"
        )
        return 0
    with open_store(cfg.database.url) as store:
        ensure_schema(store, cfg.database.auto_migrate)
        try:
            with projector_lock(store, args.wait):
                report = _seal(store, days, args.dry_run)
        except LockHeld as exc:
            print(f"chargelog: {exc}", file=sys.stderr)
            return 1
        except (SegmentDamaged, SealCheckFailed) as exc:
            print(f"chargelog: {exc}", file=sys.stderr)
            return 1
    if report is None:
        print("nothing sealed: the projector has passed no message yet (run `chargelog project`)")
        return 0
    print(report.summary())
    return 0


def _seal(store: Store, days: int, dry_run: bool) -> SealReport | None:
    """The seal under the projector lock, up to the projector's checkpoint (None: there is none,
    so nothing may be sealed: a sealed message must already be projected)."""
    from journal import sealing
    from projector.readings import PROJECTED_KEYS
    from projector.runner import LIVE
    from projector.tables import read_checkpoint

    checkpoint = read_checkpoint(store, LIVE)
    store.rollback()
    if checkpoint is None:
        return None
    before = sealing.cutoff(int(time.time() * 1_000_000), days)
    with _bar(checkpoint.position, "sealing", " positions") as bar:
        return sealing.seal(
            store,
            position=checkpoint.position,
            before_us=before,
            dry_run=dry_run,
            progress=bar.update,
            replayed_keys=PROJECTED_KEYS,
        )


def cmd_export(args: argparse.Namespace, cfg: Config) -> int:
    from journal.config import site_zone
    from journal.export import Lines, local_days_us
    from journal.migrate import ensure_schema
    from journal.segments import SegmentDamaged
    from journal.storage import open_store

    since, until = local_days_us(args.date_from, args.date_to, site_zone(cfg.site.timezone))
    groups = None if args.charger is None else [args.charger]
    counts = Lines()
    to_stdout = args.file == "-"
    with open_store(cfg.database.url) as store:
        ensure_schema(store, cfg.database.auto_migrate)
        try:
            if to_stdout:
                try:
                    _write(store, sys.stdout.buffer, args.format, counts, groups, since, until)
                except BrokenPipeError:
                    # `chargelog export - | head`: the reader has had enough. Nothing more can be
                    # said on stdout, and its final flush must not raise again at exit.
                    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                    return 1
            else:
                _write_file(store, args.file, args.format, counts, groups, since, until)
        except SegmentDamaged as exc:
            print(f"chargelog: {exc}", file=sys.stderr)
            return 1
    said = sys.stderr if to_stdout else sys.stdout
    where = "standard output" if to_stdout else args.file
    print(f"exported {counts.messages} message(s) to {where} ({args.format})", file=said)
    if counts.unreadable:
        print(
            f"chargelog export: warning: {counts.unreadable} message(s) have a newline in the "
            "payload: their text lines cannot be read back as they were; --format hex keeps "
            "them",
            file=sys.stderr,
        )
    return 0


def _write_file(store: Store, path: str, *args: Any) -> None:
    """Written under a temporary name and renamed once complete: an export that stops (a
    damaged segment, the database gone) leaves no FILE that looks whole."""
    partial = f"{path}.partial"
    try:
        with open(partial, "wb") as out:
            _write(store, out, *args)
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(partial)
        raise


def _write(
    store: Store,
    out: IO[bytes],
    fmt: str,
    counts: Lines,
    groups: list[str] | None,
    since: int | None,
    until: int | None,
) -> None:
    """The journal's messages (sealed and live, in seq order) from one consistent view."""
    from journal import reader
    from journal.export import export_lines

    with store.snapshot():
        messages = reader.messages(store, groups=groups, since_us=since, until_us=until)
        out.writelines(export_lines(messages, fmt, counts))
    out.flush()


def cmd_verify(args: argparse.Namespace, cfg: Config) -> int:
    from journal import segments
    from journal.migrate import ensure_schema
    from journal.storage import open_store

    damaged: list[str] = []
    checked = 0
    with open_store(cfg.database.url) as store:
        ensure_schema(store, cfg.database.auto_migrate)
        with store.snapshot():
            infos = segments.every(store)
            with _bar(len(infos), "verifying", " segments") as bar:
                for info in infos:
                    try:
                        checked += segments.verify(store, info)
                    except segments.SegmentDamaged as exc:
                        damaged.append(str(exc))
                    bar.update(1)
    for line in damaged:
        print(line)
    good = len(infos) - len(damaged)
    summary = f"{len(infos)} segment(s) verified: {good} OK holding {checked} message(s)"
    print(summary + (f", {len(damaged)} damaged" if damaged else ""))
    return 1 if damaged else 0
