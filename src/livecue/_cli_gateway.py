"""The command line through the gateway: ``send``/``broadcast``/``rooms`` with ``--gateway``
(or ``LIVECUE_GATEWAY_URL``), and ``livecue cues list|show|cancel|resend``.

Registered by ``livecue.cli``. Stdlib only at import, like the rest of ``--help``: the
client (httpx, pydantic, the gateway's schemas) and rich are imported by the commands that
use them.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, NamedTuple

from ._cli_util import (
    EXIT_FAILED,
    EXIT_OK,
    HelpFormatter,
    one_line,
    positive_float,
    positive_int,
    print_json,
    symbols,
)
from ._env import KEY_VARIABLE, URL_VARIABLE, environment
from ._errors import ConfigError, UsageError

if TYPE_CHECKING:
    from ._client import Client
    from .gateway.schemas import CueAccepted, CueStatus, CueSummary

# the gateway's vocabularies (livecue.store.CueState, Source and livecue.OutcomeStatus;
# a unit test keeps them equal), here so that --help imports neither store nor pydantic
STATES = (
    "queued",
    "sending",
    "held",
    "retrying",
    "at_agent",
    "delivered",
    "expired",
    "failed",
    "cancelled",
)
OUTCOMES = (
    "queued",
    "started",
    "applied",
    "coalesced",
    "expired",
    "duplicate",
    "skipped",
    "interrupted",
    "rejected",
)
SOURCES = ("api", "hook", "schedule", "broadcast")

# options that only LiveKit directly, or only the gateway, can honour (dest -> as typed)
_DIRECT_ONLY = {"to": "--to", "topic": "--topic", "timeout": "--timeout"}
_GATEWAY_ONLY = {
    "api_key": "--api-key",
    "idempotency_key": "--idempotency-key",
    "callback_url": "--callback-url",
}

_API_KEY_HELP = (
    "the gateway's API key (default: LIVECUE_API_KEY, which is safer: an option shows in "
    "the process list and the shell's history)"
)


class Gateway(NamedTuple):
    url: str
    key: str

    def __repr__(self) -> str:  # the key stays out of reprs
        return f"Gateway({self.url!r})"


class Explicit(argparse.Action):
    """Stores the value and remembers that it was given (for options with a default)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, values)
        given: set[str] = set(getattr(namespace, "explicit", set()))
        namespace.explicit = given | {self.dest}


# --------------------------------------------------------------------------- options


def add_route_options(parser: argparse.ArgumentParser, *, send: bool, cue: bool) -> None:
    """``--gateway``/``--livekit`` and the gateway-only options, for send, broadcast, rooms."""
    about = (
        f"With --gateway URL, or {URL_VARIABLE} set, the command goes through the livecue "
        "gateway (livecue serve) instead of to LiveKit directly: the gateway stores the "
        "cue, sends it when an agent can take it, and follows it to its end."
    )
    group = parser.add_argument_group("through the gateway", about)
    where = group.add_mutually_exclusive_group()
    where.add_argument(
        "--gateway",
        metavar="URL",
        help=f"the gateway's URL, like http://127.0.0.1:8080 (default: {URL_VARIABLE})",
    )
    where.add_argument(
        "--livekit",
        action="store_true",
        help=f"go to LiveKit directly even when {URL_VARIABLE} is set",
    )
    group.add_argument("--api-key", metavar="KEY", help=_API_KEY_HELP)
    if send:
        group.add_argument(
            "--idempotency-key",
            metavar="KEY",
            help="gateway only: sending again with the same key and cue gives the cue made "
            "the first time",
        )
    if cue:
        group.add_argument(
            "--callback-url",
            metavar="URL",
            help="gateway only: where the gateway POSTs the cue's final outcome, signed "
            "(must be on its LIVECUE_CALLBACK_ALLOW)",
        )


def route(args: argparse.Namespace) -> Gateway | None:
    """Where the command goes: the gateway (its URL and key), or None for LiveKit directly.

    An option the chosen way cannot honour is a usage error that says what to do.
    """
    env = environment(dotenv=args.env_file)
    url = None if args.livekit else (args.gateway or env.get(URL_VARIABLE) or None)
    explicit: set[str] = getattr(args, "explicit", set())
    if url is None:
        for dest, option in _GATEWAY_ONLY.items():
            if getattr(args, dest, None) is not None:
                raise UsageError(
                    f"{option} works through the gateway only: give --gateway URL "
                    f"(or set {URL_VARIABLE})"
                )
        return None
    because = "" if args.gateway else f" ({URL_VARIABLE} is set)"
    for dest, option in {**_DIRECT_ONLY, "concurrency": "--concurrency"}.items():
        given = dest in explicit if dest == "concurrency" else getattr(args, dest, None)
        if given:
            raise UsageError(
                f"{option} applies to LiveKit directly, and this goes through the gateway"
                f"{because}, which chooses the agent and the timing itself: drop {option}, "
                "or add --livekit"
            )
    key = args.api_key or env.get(KEY_VARIABLE)
    if not key:
        raise ConfigError(
            f"no API key for the gateway at {url}: set {KEY_VARIABLE} (or give --api-key)"
        )
    return Gateway(url, key)


def _gateway_only(args: argparse.Namespace) -> Gateway:
    """The gateway for the ``cues`` commands, which have no other way."""
    env = environment(dotenv=args.env_file)
    url = args.gateway or env.get(URL_VARIABLE)
    if not url:
        raise ConfigError(f"no gateway: give --gateway URL or set {URL_VARIABLE}")
    key = args.api_key or env.get(KEY_VARIABLE)
    if not key:
        raise ConfigError(
            f"no API key for the gateway at {url}: set {KEY_VARIABLE} (or give --api-key)"
        )
    return Gateway(url, key)


def _client(gateway: Gateway) -> Client:
    from ._client import Client

    return Client(gateway.url, gateway.key)


def _cue_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The cue as the gateway takes it; unset fields get the gateway's defaults."""
    fields = {
        "kind": args.kind,
        "data": args.data,
        "policy": args.policy,
        "coalesce_key": args.coalesce_key,
        "ttl_s": args.ttl,
        "id": args.id,
        "transport": args.transport,
        "agent_name": args.agent_name,
        "callback_url": args.callback_url,
    }
    return {name: value for name, value in fields.items() if value is not None}


# --------------------------------------------------------------------------- outcomes


def _stamp(moment: datetime, *, ms: bool = False) -> str:
    text = moment.astimezone(timezone.utc).isoformat(timespec="milliseconds" if ms else "seconds")
    return text.replace("+00:00", "Z")


def _ok(status: CueStatus) -> bool:
    """Exit 0: delivered, or (when a wait ran out) in the agent's hands."""
    return status.status == "delivered" or (not status.final and status.status == "at_agent")


def _headline(status: CueStatus) -> str:
    """``✓ room: delivered (applied) (cue …)``: the state, the agent's word, and why."""
    check, cross, _ = symbols()
    mark = check if _ok(status) else cross
    line = f"{mark} {status.room}: {status.status}"
    if status.outcome and status.outcome != status.status:
        line += f" ({status.outcome})"
    reason = status.reason
    if reason and status.status != "delivered":
        prefix = f"{status.status}: "
        line += f": {reason[len(prefix) :] if reason.startswith(prefix) else reason}"
    return f"{line} (cue {status.id})"


def _print_status_line(status: CueStatus) -> None:
    print(_headline(status))
    said = status.receipt.said if status.receipt is not None else None
    if said:
        print(f"  the agent said: {one_line(said)}")


def _wait_and_report(client: Client, cue_id: str, args: argparse.Namespace) -> int:
    """Wait for the cue's end, print it; the exit code says whether it was delivered."""
    from ._errors import WaitTimeout

    try:
        status = client.wait(cue_id, timeout=args.wait)
    except WaitTimeout as exc:
        last = exc.last
        if args.json:
            print_json(last.model_dump(mode="json"))
        if last.status != "at_agent":
            raise
        if not args.json:
            _print_status_line(last)
        print(f"  not final after {args.wait:g} s: the agent is still on it", file=sys.stderr)
        return EXIT_OK
    if args.json:
        print_json(status.model_dump(mode="json"))
    else:
        _print_status_line(status)
    return EXIT_OK if _ok(status) else EXIT_FAILED


def _print_accepted(accepted: CueAccepted, args: argparse.Namespace, verb: str) -> None:
    if args.json:
        print_json(accepted.model_dump(mode="json"))
        return
    check, _, _ = symbols()
    print(f"{check} {accepted.room}: {verb}, {accepted.status} (cue {accepted.id})")


# --------------------------------------------------------------------------- send, broadcast


def send(args: argparse.Namespace, gateway: Gateway) -> int:
    with _client(gateway) as client:
        accepted = client.send(
            args.room,
            args.text,
            idempotency_key=args.idempotency_key,
            **_cue_fields(args),
        )
        if args.wait is None:
            _print_accepted(accepted, args, "accepted")
            return EXIT_OK
        return _wait_and_report(client, accepted.id, args)


def broadcast(args: argparse.Namespace, gateway: Gateway) -> int:
    from ._errors import WaitTimeout

    with _client(gateway) as client:
        accepted = client.broadcast(
            args.text, rooms=args.rooms, prefix=args.prefix, all=args.all, **_cue_fields(args)
        )
        if not accepted.cues:
            if args.json:
                print_json(accepted.model_dump(mode="json"))
            else:
                print("no live rooms to send to", file=sys.stderr)
            return EXIT_OK
        if args.wait is None:
            if args.json:
                print_json(accepted.model_dump(mode="json"))
                return EXIT_OK
            _table(("room", "cue", "state"), [(c.room, c.id, c.status) for c in accepted.cues])
            noun = "room" if len(accepted.cues) == 1 else "rooms"
            print(f"{len(accepted.cues)} {noun}: accepted (broadcast {accepted.broadcast_id})")
            return EXIT_OK
        # one deadline for all: a cue that is not final by then is asked about once more
        deadline = time.monotonic() + args.wait
        statuses: list[CueStatus] = []
        for cue in accepted.cues:
            try:
                statuses.append(client.wait(cue.id, timeout=max(0.0, deadline - time.monotonic())))
            except WaitTimeout as exc:
                statuses.append(exc.last)
    ok = sum(1 for s in statuses if _ok(s))
    if args.json:
        print_json(
            {
                "broadcast_id": accepted.broadcast_id,
                "rooms": len(statuses),
                "delivered": ok,
                "failed": len(statuses) - ok,
                "cues": [s.model_dump(mode="json") for s in statuses],
            }
        )
    else:
        _print_outcomes(statuses)
        noun = "room" if len(statuses) == 1 else "rooms"
        print(f"{len(statuses)} {noun}: {ok} delivered, {len(statuses) - ok} failed")
    return EXIT_OK if ok == len(statuses) else EXIT_FAILED


def _print_outcomes(statuses: list[CueStatus]) -> None:
    rows = []
    for s in statuses:
        said = s.receipt.said if s.receipt is not None else None
        result = s.status + (f" ({s.outcome})" if s.outcome and s.outcome != s.status else "")
        if not s.final:
            result += ", not final"
        detail = said if said else (s.reason or "") if not _ok(s) else ""
        rows.append((s.room, result, one_line(detail or "")))
    _table(("room", "result", "the agent said, or why not"), rows)


def rooms(args: argparse.Namespace, gateway: Gateway) -> list[tuple[str, int, list[str]]]:
    """Live rooms as the gateway sees them: (name, participants, agents)."""
    with _client(gateway) as client:
        return [(r.name, r.num_participants, list(r.agents)) for r in client.rooms()]


# --------------------------------------------------------------------------- cues


def add_cues_commands(commands: Any, connection: argparse.ArgumentParser) -> None:
    """``livecue cues list|show|cancel|resend``; ``connection`` gives --env-file and --json."""
    options = argparse.ArgumentParser(add_help=False, parents=[connection])
    group = options.add_argument_group("the gateway")
    group.add_argument(
        "--gateway", metavar="URL", help=f"the gateway's URL (default: {URL_VARIABLE})"
    )
    group.add_argument("--api-key", metavar="KEY", help=_API_KEY_HELP)

    cues = commands.add_parser(
        "cues",
        formatter_class=HelpFormatter,
        epilog="examples:\n"
        "  livecue cues list --state held\n"
        "  livecue cues show 3f9c2a1b0d4e4f6a8b7c6d5e4f3a2b1c --json",
        help="the gateway's cues: list, show, cancel, resend",
        description="Look at the cues the gateway holds and act on them. Needs the gateway's "
        f"URL ({URL_VARIABLE} or --gateway) and an API key ({KEY_VARIABLE}): read scope to "
        "look, send scope to cancel or resend.",
    )
    cue_commands = cues.add_subparsers(dest="cues_command", metavar="COMMAND", required=True)

    listing = cue_commands.add_parser(
        "list",
        parents=[options],
        formatter_class=HelpFormatter,
        help="list cues, newest first",
        description="List cues, newest first, narrowed by any of the filters.",
        epilog="examples:\n"
        "  livecue cues list --room support-7 --state held\n"
        "  livecue cues list --outcome rejected --after 1h --limit 100\n"
        "  livecue cues list --source hook --hook donations --json",
    )
    listing.add_argument("--room", metavar="ROOM", help="cues for this room")
    listing.add_argument(
        "--state", choices=STATES, metavar="STATE", help="cues in this state: " + ", ".join(STATES)
    )
    listing.add_argument(
        "--outcome",
        choices=OUTCOMES,
        metavar="OUTCOME",
        help="cues whose agent's latest word is this: " + ", ".join(OUTCOMES),
    )
    listing.add_argument(
        "--source",
        choices=SOURCES,
        metavar="SOURCE",
        help="cues made by API calls, webhooks, schedules or broadcasts: " + ", ".join(SOURCES),
    )
    listing.add_argument("--hook", metavar="NAME", help="cues made by this webhook")
    listing.add_argument(
        "--after",
        type=_moment,
        metavar="TIME",
        help="cues made at or after TIME: 2026-12-02T10:00:00Z (an offset, or local time "
        "without one), or a time ago: 30s, 15m, 2h, 1d",
    )
    listing.add_argument(
        "--before", type=_moment, metavar="TIME", help="cues made before TIME (as --after)"
    )
    listing.add_argument(
        "--limit",
        type=positive_int,
        default=20,
        metavar="N",
        help="at most N cues (default: 20); pages are fetched as needed",
    )
    listing.set_defaults(run=_cues_list)

    show = cue_commands.add_parser(
        "show",
        parents=[options],
        formatter_class=HelpFormatter,
        help="a cue's state, outcome, what the agent said, history and callbacks",
        description="Show one cue: its state and the agent's outcome, what the agent said, "
        "its history (every state, with the time and the reason), and its status callbacks "
        "with every attempt.",
        epilog="example: livecue cues show 3f9c2a1b0d4e4f6a8b7c6d5e4f3a2b1c",
    )
    show.add_argument("cue_id", metavar="ID", help="the cue's id")
    show.set_defaults(run=_cues_show)

    cancel = cue_commands.add_parser(
        "cancel",
        parents=[options],
        formatter_class=HelpFormatter,
        help="cancel a cue that no agent has yet",
        description="Cancel a cue that has not reached an agent (queued, held or retrying). "
        "A cue an agent has already, or a final one, cannot be cancelled (exit 1, saying why).",
        epilog="example: livecue cues cancel 3f9c2a1b0d4e4f6a8b7c6d5e4f3a2b1c",
    )
    cancel.add_argument("cue_id", metavar="ID", help="the cue's id")
    cancel.set_defaults(run=_cues_cancel)

    resend = cue_commands.add_parser(
        "resend",
        parents=[options],
        formatter_class=HelpFormatter,
        help="send a cue again, as a new cue linked to the first",
        description="Send a new cue with the same content to the same room, with a fresh id "
        "and lifetime, linked to the original (resent_from).",
        epilog="example: livecue cues resend 3f9c2a1b0d4e4f6a8b7c6d5e4f3a2b1c --wait 15",
    )
    resend.add_argument("cue_id", metavar="ID", help="the id of the cue to send again")
    resend.add_argument(
        "--wait",
        type=positive_float,
        metavar="SECONDS",
        help="wait up to SECONDS for the new cue's final outcome and what the agent said",
    )
    resend.set_defaults(run=_cues_resend)


_AGO = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _moment(text: str, *, now: datetime | None = None) -> datetime:
    """An ISO 8601 time (local time when it has no offset), or a time ago: 15m, 2h, 1d."""
    ago = _AGO.match(text.strip())
    if ago:
        now = now or datetime.now(timezone.utc)
        return now - timedelta(seconds=float(ago.group(1)) * _UNITS[ago.group(2)])
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time: give 2026-12-02T10:00:00Z, or a time ago like 15m"
        ) from None
    return moment if moment.tzinfo is not None else moment.astimezone()


def _matching(args: argparse.Namespace, client: Client) -> Iterator[CueSummary]:
    filters = {
        "room": args.room,
        "state": args.state,
        "outcome": args.outcome,
        "source": args.source,
        "hook": args.hook,
        "created_after": args.after,
        "created_before": args.before,
    }
    given: Any = {name: value for name, value in filters.items() if value is not None}
    return client.list(page_size=min(args.limit, 500), **given)


def _cues_list(args: argparse.Namespace) -> int:
    import itertools

    with _client(_gateway_only(args)) as client:
        cues = list(itertools.islice(_matching(args, client), args.limit))
    if args.json:
        print_json([c.model_dump(mode="json") for c in cues])
        return EXIT_OK
    if not cues:
        print("no cues match")
        return EXIT_OK
    rows = []
    for c in cues:
        outcome = c.outcome or ""
        words = c.said if c.said else (c.reason if c.final and c.status != "delivered" else None)
        rows.append(
            (
                c.id,
                _stamp(c.created_at),
                c.room,
                c.kind,
                c.status,
                outcome,
                one_line(words or c.text or ""),
            )
        )
    _table(("id", "created", "room", "kind", "state", "outcome", "said, reason or text"), rows)
    return EXIT_OK


def _cues_show(args: argparse.Namespace) -> int:
    with _client(_gateway_only(args)) as client:
        status = client.get(args.cue_id)
    if args.json:
        print_json(status.model_dump(mode="json"))
        return EXIT_OK
    _print_status(status)
    return EXIT_OK


def _print_status(s: CueStatus) -> None:
    final = "final" if s.final else "not final"
    rows: list[tuple[str, str]] = [
        ("cue", s.id),
        ("room", s.room),
        ("state", f"{s.status} ({final})"),
        ("outcome", s.outcome or "none yet"),
    ]
    if s.reason:
        rows.append(("reason", s.reason))
    if s.agent:
        rows.append(("agent", s.agent))
    text = s.cue.get("text")
    rows.append(("kind", str(s.cue.get("kind", "")) + (f": {text}" if text else "")))
    rows.append(("source", f"{s.source}, {s.transport}, {s.attempts} attempt(s)"))
    rows.append(("created", _stamp(s.created_at, ms=True)))
    rows.append(("expires", _stamp(s.expires_at, ms=True)))
    if s.delivered_at:
        rows.append(("delivered", _stamp(s.delivered_at, ms=True)))
    if s.resent_from:
        rows.append(("resent from", s.resent_from))
    if s.callback_url:
        rows.append(("callback", s.callback_url))
    for name, value in rows:
        print(f"{name:<12}{one_line(value)}")
    if s.receipt is not None:
        if s.receipt.said:
            print(f"the agent said: {one_line(s.receipt.said)}")
        if s.receipt.merged_into:
            print(f"merged into cue {s.receipt.merged_into}")
    print("history")
    for h in s.history:
        step = f"  {_stamp(h.at, ms=True)}  {h.state:<10}"
        if h.outcome:
            step += f" {h.outcome}"
        if h.reason:
            step += f" {one_line(h.reason)}"
        print(step.rstrip())
    if s.callbacks:
        print("callbacks")
    for cb in s.callbacks:
        print(f"  {cb.event} to {cb.url}: {cb.state}, {cb.attempts} attempt(s)")
        for a in cb.history:
            answer = str(a.status) if a.status is not None else "no answer"
            error = f" {one_line(a.error)}" if a.error else ""
            print(f"    {_stamp(a.at, ms=True)}  {answer}  {a.duration_ms:.0f} ms{error}")


def _cues_cancel(args: argparse.Namespace) -> int:
    with _client(_gateway_only(args)) as client:
        status = client.cancel(args.cue_id)
    if args.json:
        print_json(status.model_dump(mode="json"))
        return EXIT_OK
    check, _, _ = symbols()
    print(f"{check} {status.room}: {status.status} (cue {status.id})")
    return EXIT_OK


def _cues_resend(args: argparse.Namespace) -> int:
    with _client(_gateway_only(args)) as client:
        accepted = client.resend(args.cue_id)
        if args.wait is None:
            _print_accepted(accepted, args, f"resent cue {args.cue_id}")
            return EXIT_OK
        return _wait_and_report(client, accepted.id, args)


# --------------------------------------------------------------------------- tables


def _table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A plain table: fitted to a terminal (ids fold rather than lose characters), one
    line per row when piped (for grep and cut)."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text  # plain Text: room names and cue texts are not markup

    table = Table(box=None, pad_edge=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    if sys.stdout.isatty():
        Console(highlight=False).print(table)
        return
    import io

    buffer = io.StringIO()
    Console(file=buffer, highlight=False, width=100_000, color_system=None).print(table)
    for line in buffer.getvalue().splitlines():
        print(line.rstrip())
