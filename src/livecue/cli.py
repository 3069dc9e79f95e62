"""The ``livecue`` command: send a cue, broadcast one, list live rooms, and the gateway's.

A thin layer over :class:`livecue.CueSender` and :func:`livecue.new_cue` (to LiveKit
directly), and over :class:`livecue.Client` (through the gateway, with ``--gateway`` or
``LIVECUE_GATEWAY_URL``: ``livecue._cli_gateway``); nothing imports this module.
Exit codes::

    0    delivered (every room, for broadcast)
    1    delivery failed (any DeliveryError, including a cue the agent refused)
    2    usage error: bad arguments, missing credentials, an invalid or too large cue
         (also when the gateway says so: 400, 413, 422)
    130  interrupted

Errors are one line on stderr (``error: ...``), never a traceback (set
``LIVECUE_DEBUG=1`` to see one for an unexpected failure). asyncio and the sender
are imported by the commands that send, the gateway's client (httpx, pydantic) by
those that go through the gateway, and rich only by those that draw tables or a
progress bar, so ``--help`` stays quick to start.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from livecue._cli_util import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    HelpFormatter,
)
from livecue._cli_util import error as _error
from livecue._cli_util import one_line as _one_line
from livecue._cli_util import positive_float as _positive_float
from livecue._cli_util import positive_int as _positive_int
from livecue._cli_util import print_json as _print_json
from livecue._cli_util import short_id as _short_id
from livecue._cli_util import symbols as _symbols

if TYPE_CHECKING:
    from livecue import Credentials, Cue, CueSender, LivecueError, Outcome, SendResult

_KINDS_NEEDING_TEXT = ("reply", "say", "context")
DEFAULT_TTL_S = 60.0  # livecue._cue.DEFAULT_TTL_S, without importing the envelope


class UsageError(Exception):
    """What was asked cannot be done as asked (exit 2)."""


# --------------------------------------------------------------------------- helpers


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object, like '{\"amount\": 100}'")
    return value


def _room_list(text: str) -> list[str]:
    rooms = [r.strip() for r in text.split(",") if r.strip()]
    if not rooms:
        raise argparse.ArgumentTypeError("give at least one room name")
    return rooms


def _error_json(error: LivecueError) -> dict[str, Any]:
    return {"type": type(error).__name__, "message": str(error), "retryable": error.retryable}


def _outcome_json(outcome: Outcome) -> dict[str, Any]:
    """Every field, null when not set: a stable shape for scripts."""
    fields = outcome.to_dict()
    names = ("status", "reason", "said", "speech_started_at", "speech_ended_at", "merged_into")
    return {name: fields.get(name) for name in names}


def _result_json(result: SendResult) -> dict[str, Any]:
    o = result.outcome
    return {
        "room": result.room,
        "cue_id": result.cue_id,
        "transport": result.transport,
        "attempts": result.attempts,
        "identity": result.identity,
        "outcome": None if o is None else _outcome_json(o),
        "error": None if result.error is None else _error_json(result.error),
    }


def _build_cue(args: argparse.Namespace) -> Cue:
    """The cue the arguments describe; an invalid or too large cue is a usage error."""
    from livecue import CueDecodeError, encode_cue, new_cue

    kind: str = args.kind
    if kind in _KINDS_NEEDING_TEXT and not (args.text and args.text.strip()):
        raise UsageError(f"a {kind!r} cue needs TEXT (only --kind interrupt goes without)")
    try:
        cue = new_cue(
            kind,
            args.text,
            data=args.data,
            policy=args.policy,
            coalesce_key=args.coalesce_key,
            ttl=args.ttl if args.ttl is not None else DEFAULT_TTL_S,
            id=args.id,
        )
    except CueDecodeError as exc:
        if exc.reason.startswith("invalid cue (kind:"):
            raise UsageError(
                f"{kind!r} is not a cue kind: use reply, say, context, interrupt, or a custom "
                "name of lowercase letters, digits, '_', '.' and '-'"
            ) from None
        raise
    encode_cue(cue)  # CueTooLarge now, before credentials or the network are involved
    return cue


def _credentials(args: argparse.Namespace) -> Credentials:
    from livecue import Credentials

    return Credentials.from_env(dotenv=args.env_file)


def _sender(args: argparse.Namespace, credentials: Credentials, **options: Any) -> CueSender:
    """A sender signing with LIVECUE_SECRET if set (environment or .env), else with the key
    derived from the LiveKit API secret."""
    from livecue import CueSender
    from livecue._env import environment

    secret = environment(dotenv=args.env_file).get("LIVECUE_SECRET") or None
    return CueSender(credentials, secret=secret, **options)


def _check_transport_options(args: argparse.Namespace) -> None:
    """An option the chosen transport cannot honour is a usage error, never ignored."""
    args.transport = args.transport or "rpc"
    if args.transport == "rpc" and args.topic is not None:
        raise UsageError("--topic applies to --transport data only (rpc calls a method)")
    if args.transport == "data" and args.timeout is not None:
        raise UsageError(
            "--timeout applies to --transport rpc only (data is not answered; use --wait)"
        )
    args.topic = args.topic or "livecue"
    args.timeout = args.timeout or 5.0


# --------------------------------------------------------------------------- send


def _cmd_send(args: argparse.Namespace) -> int:
    from livecue._cli_gateway import route

    gateway = route(args)
    if gateway is not None:
        from livecue._cli_gateway import send

        _build_cue(args)  # an invalid cue is refused here, as without the gateway
        return send(args, gateway)
    _check_transport_options(args)
    cue = _build_cue(args)
    credentials = _credentials(args)
    import asyncio

    return asyncio.run(_send(args, cue, credentials))


async def _send(args: argparse.Namespace, cue: Cue, credentials: Credentials) -> int:
    from livecue import DeliveryError

    sender = _sender(
        args,
        credentials,
        transport=args.transport,
        topic=args.topic,
        agent_name=args.agent_name,
        rpc_timeout_s=args.timeout,
    )
    try:
        result = await sender.send(args.room, cue, to=args.to, wait=args.wait)
    except DeliveryError as exc:
        if args.json:
            _print_json(
                {
                    "room": args.room,
                    "cue_id": cue.id,
                    "transport": args.transport,
                    "attempts": None,
                    "outcome": None,
                    "error": _error_json(exc),
                }
            )
        raise
    finally:
        await sender.aclose()

    if args.json:
        _print_json(_result_json(result))
        return EXIT_OK
    check, _, ellipsis = _symbols()
    if result.outcome is None:
        target = f" to {result.identity}" if result.identity else ""
        print(
            f"{check} {result.room}: sent{target} on topic {args.topic} "
            "(no receipt on the data transport without --wait)"
        )
        return EXIT_OK
    outcome = result.outcome
    reason = f": {outcome.reason}" if outcome.reason else ""
    short = _short_id(result.cue_id, ellipsis)
    print(f"{check} {result.room}: {outcome.status}{reason} (cue {short})")
    if outcome.said:
        print(f"  the agent said: {outcome.said}")
    if args.wait and not outcome.final:
        print(f"  not final after {args.wait:g} s: the agent is still on it", file=sys.stderr)
    return EXIT_OK


# --------------------------------------------------------------------------- broadcast


def _cmd_broadcast(args: argparse.Namespace) -> int:
    from livecue._cli_gateway import broadcast, route

    gateway = route(args)
    if gateway is not None:
        _build_cue(args)
        return broadcast(args, gateway)
    if args.wait is not None:
        raise UsageError(
            "--wait on a broadcast works through the gateway only: give --gateway URL "
            "(or set LIVECUE_GATEWAY_URL)"
        )
    _check_transport_options(args)
    cue = _build_cue(args)
    credentials = _credentials(args)
    import asyncio

    return asyncio.run(_broadcast(args, cue, credentials))


async def _broadcast(args: argparse.Namespace, cue: Cue, credentials: Credentials) -> int:
    sender = _sender(
        args,
        credentials,
        transport=args.transport,
        topic=args.topic,
        agent_name=args.agent_name,
        rpc_timeout_s=args.timeout,
        concurrency=args.concurrency,
    )
    try:
        rooms = await sender.resolve_rooms(rooms=args.rooms, room_prefix=args.prefix)
        if not rooms:
            if args.json:
                _print_json(_broadcast_json(cue, args.transport, []))
            else:
                print("no live rooms to send to", file=sys.stderr)
            return EXIT_OK
        show_progress = not args.json and sys.stderr.isatty()
        if show_progress:
            results = await _broadcast_with_progress(sender, cue, rooms)
        else:
            results = await sender.broadcast(cue, rooms=rooms)
    finally:
        await sender.aclose()

    failed = sum(1 for r in results if not r.ok)
    if args.json:
        _print_json(_broadcast_json(cue, args.transport, results))
    else:
        _print_broadcast_table(results)
        delivered = len(results) - failed
        noun = "room" if len(results) == 1 else "rooms"
        print(f"{len(results)} {noun}: {delivered} delivered, {failed} failed")
    return EXIT_FAILED if failed else EXIT_OK


async def _broadcast_with_progress(
    sender: CueSender, cue: Cue, rooms: list[str]
) -> list[SendResult]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(
        TextColumn("broadcast"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task = progress.add_task("broadcast", total=len(rooms))

    def advance(_: SendResult) -> None:
        progress.advance(task)

    with progress:
        return await sender.broadcast(cue, rooms=rooms, on_result=advance)


def _broadcast_json(cue: Cue, transport: str, results: list[SendResult]) -> dict[str, Any]:
    failed = sum(1 for r in results if not r.ok)
    return {
        "cue_id": cue.id,
        "transport": transport,
        "rooms": len(results),
        "delivered": len(results) - failed,
        "failed": failed,
        "results": [_result_json(r) for r in results],
    }


def _print_broadcast_table(results: list[SendResult]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text  # plain Text: room names and messages are not markup

    check, cross, _ = _symbols()
    table = Table(box=None, pad_edge=False)
    table.add_column("room", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("error")
    for r in results:
        if r.error is not None:
            result = Text(f"{cross} failed", style="red")
        elif r.outcome is None:
            result = Text(f"{check} sent", style="green")
        else:
            reason = f": {r.outcome.reason}" if r.outcome.reason else ""
            result = Text(f"{check} {r.outcome.status}{reason}", style="green")
        error = "" if r.error is None else _one_line(str(r.error))
        table.add_row(Text(r.room), result, Text(error))
    Console(highlight=False).print(table)


# --------------------------------------------------------------------------- rooms


def _cmd_rooms(args: argparse.Namespace) -> int:
    from livecue._cli_gateway import rooms, route

    gateway = route(args)
    if gateway is not None:
        return _print_rooms(args, rooms(args, gateway))
    credentials = _credentials(args)
    import asyncio

    return asyncio.run(_rooms(args, credentials))


async def _rooms(args: argparse.Namespace, credentials: Credentials) -> int:
    async with _sender(args, credentials) as sender:
        found = await sender.rooms()
    return _print_rooms(args, [(r.name, r.num_participants, list(r.agents)) for r in found])


def _print_rooms(args: argparse.Namespace, found: list[tuple[str, int, list[str]]]) -> int:
    """(name, participants, agents) of each live room, sorted by name."""
    rooms = sorted(found)
    if args.json:
        _print_json(
            [
                {"name": name, "participants": participants, "agents": agents}
                for name, participants, agents in rooms
            ]
        )
        return EXIT_OK
    if not rooms:
        print("no live rooms")
        return EXIT_OK

    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False)
    table.add_column("room", no_wrap=True)
    table.add_column("participants", justify="right")
    table.add_column("agents")
    for name, participants, agents in rooms:
        shown = Text(", ".join(agents)) if agents else Text("none", style="yellow")
        table.add_row(Text(name), str(participants), shown)
    Console(highlight=False).print(table)
    return EXIT_OK


# --------------------------------------------------------------------------- parser


def _connection_options() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--env-file",
        default=".env",
        metavar="PATH",
        help="read LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET (and "
        "LIVECUE_GATEWAY_URL, LIVECUE_API_KEY) from this file too; the environment wins "
        "(default: .env in the working directory)",
    )
    parent.add_argument(
        "--json", action="store_true", help="print one JSON object (machine-readable) instead"
    )
    return parent


def _cue_options() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    cue = parent.add_argument_group("the cue")
    cue.add_argument(
        "--kind",
        default="reply",
        metavar="KIND",
        help="reply (the agent answers in its own words), say (speaks TEXT verbatim), "
        "context (notes TEXT silently), interrupt (stops the current speech), "
        "or a custom kind name for the agent's own handlers (default: reply)",
    )
    cue.add_argument(
        "--policy",
        default="queue",
        choices=("interrupt", "queue", "skip_if_busy"),
        help="when the agent acts: interrupt now, queue until it is idle, or skip if busy "
        "(default: queue)",
    )
    cue.add_argument(
        "--ttl",
        type=_positive_float,
        metavar="SECONDS",
        help="drop the cue as expired if the agent has not acted on it by then "
        "(default: 60; through the gateway, its LIVECUE_DEFAULT_TTL_S)",
    )
    cue.add_argument(
        "--coalesce-key",
        metavar="KEY",
        help="queued cues with the same key merge into one agent turn",
    )
    cue.add_argument(
        "--data",
        type=_json_object,
        metavar="JSON",
        help="structured payload for custom handlers, a JSON object",
    )
    cue.add_argument(
        "--id",
        metavar="CUE_ID",
        help="the cue's id (default: a fresh one); reuse it to retry safely, "
        "the agent acts at most once per id",
    )
    delivery = parent.add_argument_group("delivery")
    delivery.add_argument(
        "--transport",
        choices=("rpc", "data"),
        help="rpc calls the agent and reports what it did; data publishes to the room, "
        "with no receipt (default: rpc; through the gateway, its LIVECUE_TRANSPORT)",
    )
    delivery.add_argument(
        "--agent-name",
        metavar="NAME",
        help="send to the agent with this agent name only, on either transport "
        "(default: rpc to the room's agent, data to every agent in the room)",
    )
    delivery.add_argument(
        "--topic",
        help="LiveKit directly, data only: the data packet topic (default: livecue)",
    )
    delivery.add_argument(
        "--timeout",
        type=_positive_float,
        metavar="SECONDS",
        help="LiveKit directly, rpc only: how long the agent may take to answer, per "
        "attempt (default: 5)",
    )
    return parent


def build_parser() -> argparse.ArgumentParser:
    from livecue import __version__

    parser = argparse.ArgumentParser(
        prog="livecue",
        description="Carry cues from the outside world to live LiveKit voice agents. "
        "Credentials come from LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET, "
        "in the environment or a .env file; through the gateway (livecue serve), from "
        "LIVECUE_GATEWAY_URL and LIVECUE_API_KEY.",
        epilog="exit codes: 0 delivered, 1 delivery failed, 2 usage error",
    )
    parser.add_argument("--version", action="version", version=f"livecue {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    connection, cue = _connection_options(), _cue_options()

    from livecue._cli_gateway import Explicit, add_cues_commands, add_route_options

    send = commands.add_parser(
        "send",
        parents=[cue, connection],
        formatter_class=HelpFormatter,
        help="send a cue to the agent in one room",
        description="Send a cue to the agent in ROOM and report what it did. Through the "
        "gateway, print the accepted cue's id and state, or with --wait its final outcome.",
        epilog="examples:\n"
        '  livecue send room-1 "A donation of $100 just arrived" --policy interrupt\n'
        '  livecue send room-1 "Order 881 has shipped" --gateway http://127.0.0.1:8080 '
        "--wait 15",
    )
    send.add_argument("room", metavar="ROOM", help="the LiveKit room name")
    send.add_argument(
        "text", metavar="TEXT", nargs="?", help="what the cue says (not needed for interrupt)"
    )
    send.add_argument(
        "--to",
        metavar="IDENTITY",
        help="LiveKit directly only: deliver to this participant identity only "
        "(rpc: skips finding the agent)",
    )
    send.add_argument(
        "--wait",
        type=_positive_float,
        metavar="SECONDS",
        help="wait up to SECONDS for the final outcome (the agent acted, and what it said), "
        "asking the agent, or the gateway; works on both transports",
    )
    add_route_options(send, send=True, cue=True)
    send.set_defaults(run=_cmd_send)

    broadcast = commands.add_parser(
        "broadcast",
        parents=[cue, connection],
        formatter_class=HelpFormatter,
        help="send one cue to many rooms at once",
        description="Send one cue to several rooms at once and summarise the result per room. "
        "Exits 0 only if every room got it. Through the gateway, list the accepted cues, or "
        "with --wait each room's final outcome.",
        epilog="examples:\n"
        '  livecue broadcast --all "We close in ten minutes" --kind say\n'
        '  livecue broadcast --prefix support- "We close soon" --gateway http://127.0.0.1:8080 '
        "--wait 30",
    )
    broadcast.add_argument("text", metavar="TEXT", nargs="?", help="what the cue says")
    targets = broadcast.add_mutually_exclusive_group(required=True)
    targets.add_argument(
        "--rooms", type=_room_list, metavar="A,B,C", help="these rooms, comma-separated"
    )
    targets.add_argument("--prefix", metavar="P", help="every live room whose name starts with P")
    targets.add_argument("--all", action="store_true", help="every live room")
    broadcast.add_argument(
        "--concurrency",
        type=_positive_int,
        default=64,  # livecue.sender.DEFAULT_CONCURRENCY, without importing the sender
        action=Explicit,
        metavar="N",
        help="LiveKit directly only: at most N rooms in flight at once (default: 64)",
    )
    broadcast.add_argument(
        "--wait",
        type=_positive_float,
        metavar="SECONDS",
        help="gateway only: wait up to SECONDS in all for every room's final outcome",
    )
    add_route_options(broadcast, send=False, cue=True)
    broadcast.set_defaults(run=_cmd_broadcast)

    rooms = commands.add_parser(
        "rooms",
        parents=[connection],
        formatter_class=HelpFormatter,
        help="list live rooms and the agents in them",
        description="List the live rooms on the LiveKit server, with participant counts "
        "and the agents present (asked of LiveKit, or through the gateway).",
        epilog="example: livecue rooms --json",
    )
    add_route_options(rooms, send=False, cue=False)
    rooms.set_defaults(run=_cmd_rooms)

    add_cues_commands(commands, connection)  # cues list, show, cancel, resend

    from livecue.gateway.commands import add_commands

    add_commands(commands)  # serve, keys
    return parser


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 on usage errors, 0 for --help and --version
    run: Callable[[argparse.Namespace], int] | None = getattr(args, "run", None)
    if run is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE

    from livecue import (
        ConfigError,
        CueError,
        InvalidRequest,
        LivecueError,
        PayloadTooLarge,
    )
    from livecue import UsageError as OptionError

    # PyJWT warns on every token signed with a short secret (LiveKit's dev keys are);
    # the credentials are the server's, and the warning would break the one-line output.
    warnings.filterwarnings("ignore", message="The HMAC key is .* bytes long")
    try:
        return run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except UsageError as exc:
        _error(str(exc))
        return EXIT_USAGE
    except (ConfigError, CueError, OptionError, InvalidRequest, PayloadTooLarge) as exc:
        _error(str(exc))  # the gateway's 400, 413 and 422 are usage errors too
        return EXIT_USAGE
    except LivecueError as exc:
        _error(str(exc))
        return EXIT_FAILED
    except Exception as exc:
        if os.environ.get("LIVECUE_DEBUG"):
            raise
        _error(f"unexpected {type(exc).__name__}: {exc} (set LIVECUE_DEBUG=1 to see the traceback)")
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
