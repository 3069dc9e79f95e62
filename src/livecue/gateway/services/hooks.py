"""Inbound webhooks: verify, filter, map the payload to a room and a cue, dedup deliveries."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

from ..._errors import (
    AuthenticationFailed,
    ConfigError,
    CueDecodeError,
    InvalidRequest,
    LivecueError,
    NotFound,
)
from ..._hook_signatures import HookVerificationError, verify
from ...store import CueRecord, Store
from ...store import HookResult as LoggedResult
from ..config import HookConfig, VerifyConfig
from ..templates import TemplateError, TemplateFieldMissing, compile_condition
from .cue_templates import CueRenderer
from .intake import Intake, Origin
from .metrics import Metrics

logger = logging.getLogger("livecue.gateway.hooks")


MAX_LOGGED_BODY = 64 * 1024
MAX_DELIVERY_ID = 256
_VERDICTS: dict[str, LoggedResult] = {
    "accepted": "accepted",
    "duplicate": "replay",
    "ignored": "filtered",
}


@dataclass(frozen=True)
class HookResult:
    status: Literal["accepted", "duplicate", "ignored"]
    record: CueRecord | None = None
    delivery_id: str | None = None


class _Hook:
    def __init__(self, name: str, config: HookConfig, renderer: CueRenderer) -> None:
        self.name = name
        self.config = config
        self.secrets = config.verify.resolved_secrets()
        try:
            self.condition = (
                compile_condition(config.filter, f"hooks.{name}.filter") if config.filter else None
            )
            renderer.compile(config.cue, f"hooks.{name}")
            renderer.compile_text(f"hooks.{name}.room", config.room)
            if config.delivery_id:
                renderer.compile_text(f"hooks.{name}.delivery_id", config.delivery_id)
        except TemplateError as exc:
            raise ConfigError(str(exc)) from None


class HookProcessor:
    def __init__(
        self,
        hooks: Mapping[str, HookConfig],
        store: Store,
        intake: Intake,
        renderer: CueRenderer,
        metrics: Metrics,
        *,
        default_ttl_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._renderer = renderer
        self._hooks = {name: _Hook(name, cfg, renderer) for name, cfg in hooks.items()}
        self._store = store
        self._intake = intake
        self._metrics = metrics
        self._default_ttl_s = default_ttl_s
        self._clock = clock

    def configured(self) -> dict[str, HookConfig]:
        """The configured hooks, by name."""
        return {name: hook.config for name, hook in sorted(self._hooks.items())}

    async def handle(self, name: str, body: bytes, headers: Mapping[str, str]) -> HookResult:
        """Verify a delivery and turn it into a cue; whatever the verdict, it is logged
        (with the body, shown only to an operator who asks) for the hook's delivery list."""
        hook = self._hooks.get(name)
        if hook is None:  # not logged: anyone could fill the log under made-up names
            raise NotFound(f"no hook named {name!r} is configured")
        try:
            result = await self._handle(hook, body, headers)
        except HookVerificationError as exc:
            self._metrics.webhook_verifications.labels(name, "rejected").inc()
            logger.warning("hook delivery refused", extra={"hook": name, "reason": exc.reason})
            await self._log(name, "stale" if exc.stale else "bad_signature", exc.reason, body)
            raise AuthenticationFailed(f"webhook verification failed: {exc.reason}") from None
        except _TemplateFailed as exc:
            await self._log(name, "template_error", str(exc.error), body)
            raise exc.error from None
        except LivecueError as exc:
            await self._log(name, "invalid", str(exc), body)
            raise
        record = result.record
        await self._log(
            name,
            _VERDICTS[result.status],
            None,
            body,
            delivery_id=result.delivery_id,
            cue_id=record.id if record else None,
        )
        return result

    async def _log(
        self,
        hook: str,
        result: LoggedResult,
        reason: str | None,
        body: bytes,
        *,
        delivery_id: str | None = None,
        cue_id: str | None = None,
    ) -> None:
        try:
            await self._store.log_hook(
                hook,
                result,
                now=self._clock(),
                reason=_text(reason),
                delivery_id=_text(delivery_id),
                cue_id=cue_id,
                body=_text(body[:MAX_LOGGED_BODY].decode("utf-8", "replace")),
            )
        except LivecueError as exc:  # the answer to the sender matters more than the log
            logger.warning("hook delivery not logged: %s", exc)

    async def _handle(self, hook: _Hook, body: bytes, headers: Mapping[str, str]) -> HookResult:
        name = hook.name
        verify_cfg = hook.config.verify
        now = self._clock()
        verified = verify(
            verify_cfg.scheme, body, headers, hook.secrets, now, **_options(verify_cfg)
        )
        self._metrics.webhook_verifications.labels(name, "ok").inc()

        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            raise InvalidRequest(
                "the webhook body is not JSON (or is invalid UTF-8, nested too deeply, "
                "or holds a number too large)"
            ) from None
        context = {"payload": payload, "hook": name}

        delivery_id = _delivery_key(verify_cfg.scheme, verified.delivery_id, body)
        if hook.config.delivery_id:  # from the signed payload: preferred over any header
            delivery_id = self._render(hook, "delivery_id", hook.config.delivery_id, context)
            if len(delivery_id) > MAX_DELIVERY_ID or not delivery_id.isprintable():
                raise _TemplateFailed(
                    InvalidRequest(
                        f"hooks.{name}.delivery_id rendered a value that is not a delivery id "
                        f"(printable, at most {MAX_DELIVERY_ID} characters)"
                    )
                )
        if delivery_id:
            existing = await self._store.hook_delivery(name, delivery_id)
            if existing is not None:
                return HookResult("duplicate", await self._store.get_cue(existing), delivery_id)

        with _payload_errors():
            if hook.condition is not None and not hook.condition.matches(context):
                return HookResult("ignored", None, delivery_id)

        room = self._render(hook, "room", hook.config.room, context)
        if not room:
            raise _TemplateFailed(InvalidRequest(f"hooks.{name}.room rendered empty"))
        try:
            with _payload_errors():
                cue = self._renderer.render(
                    hook.config.cue,
                    context,
                    now=datetime.fromtimestamp(now, tz=timezone.utc),
                    default_ttl_s=self._default_ttl_s,
                    owner=f"hooks.{name}",
                )
        except CueDecodeError as exc:
            raise _TemplateFailed(
                InvalidRequest(f"hook {name!r} made an invalid cue: {exc.reason}")
            ) from None
        record, created = await self._intake.accept(
            room,
            cue,
            origin=Origin(
                source=f"hook:{name}",
                hook_delivery=(name, delivery_id) if delivery_id else None,
                callback_url=hook.config.callback_url,
            ),
            transport=hook.config.transport,
        )
        return HookResult("accepted" if created else "duplicate", record, delivery_id)

    def _render(self, hook: _Hook, field: str, source: str, context: Mapping[str, Any]) -> str:
        with _payload_errors():
            return self._renderer.render_text(f"hooks.{hook.name}.{field}", source, context)


def _text(value: str | None) -> str | None:
    """Text a database column takes: PostgreSQL refuses NUL characters in text."""
    return None if value is None else value.replace("\x00", "\ufffd")


class _TemplateFailed(Exception):
    """A hook's templates could not make a cue of this payload (logged as a template error)."""

    def __init__(self, error: InvalidRequest) -> None:
        self.error = error


@contextmanager
def _payload_errors() -> Iterator[None]:
    """A template that fails on the payload is the sender's 422, not the gateway's 500."""
    try:
        yield
    except TemplateFieldMissing as exc:
        raise _TemplateFailed(InvalidRequest(f"the payload has no field {exc.field!r}")) from None
    except TemplateError as exc:  # output over the limit, an operation failing on its values
        raise _TemplateFailed(InvalidRequest(str(exc))) from None


def _options(cfg: VerifyConfig) -> dict[str, Any]:
    """The options each scheme's verifier takes (an unexpected one is a TypeError)."""
    options: dict[str, Any] = {"tolerance_s": cfg.tolerance_s}
    if cfg.scheme == "hmac_sha256":
        if cfg.header:
            options["signature_header"] = cfg.header
        options["timestamp_header"] = cfg.timestamp_header
        options["delivery_id_header"] = cfg.delivery_id_header
    elif cfg.scheme == "bearer":
        options["delivery_id_header"] = cfg.delivery_id_header
    return options


def _delivery_key(scheme: str, delivery_id: str | None, body: bytes) -> str | None:
    """What repeated deliveries are recognised by.

    Standard Webhooks signs its id. GitHub's delivery header and a plain HMAC's id
    header are not signed, so a captured request could be replayed under a new id:
    those are recognised by a hash of the (signed) body instead.
    """
    if scheme in ("github", "hmac_sha256"):
        return "sha256:" + hashlib.sha256(body).hexdigest()
    return delivery_id


def describe(result: HookResult) -> dict[str, Any]:
    record = result.record
    return {
        "status": result.status,
        "id": record.id if record else None,
        "room": record.room if record else None,
    }
