"""Gateway settings: ``LIVECUE_*`` environment variables and a YAML file of hooks and schedules."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from .._cue import Policy
from .._errors import ConfigError
from .._hook_signatures import Scheme


class Settings(BaseSettings):
    """Process settings, from ``LIVECUE_*`` variables (or a ``.env`` file)."""

    model_config = SettingsConfigDict(
        env_prefix="LIVECUE_", env_file=".env", extra="ignore", frozen=True
    )

    host: str = "127.0.0.1"
    port: int = 8080
    db: str = "livecue.db"
    config: str | None = None
    """YAML file with hooks and schedules."""
    transport: Literal["rpc", "data"] = "rpc"
    default_ttl_s: float = Field(60.0, gt=0)
    rpc_timeout_s: float = Field(5.0, gt=0)
    dispatch_concurrency: int = Field(32, ge=1)
    retry_base_s: float = Field(0.5, gt=0)
    retry_cap_s: float = Field(30.0, gt=0)
    held_check_s: float = Field(5.0, gt=0)
    """How often held rooms are checked with ListParticipants (webhooks are the fast path)."""
    max_body_bytes: int = Field(64 * 1024, ge=1024)
    rate_per_key: float = Field(200.0, gt=0)
    """Requests per second per API key (burst: 2 s worth)."""
    rate_per_room: float = Field(50.0, gt=0)
    """Cues per second per room (burst: 2 s worth)."""
    shutdown_grace_s: float = Field(10.0, ge=0)
    retention_s: float = Field(7 * 24 * 3600.0, gt=0)
    """Finished cues (and their history) older than this are deleted."""
    secret: SecretStr | None = None
    """``LIVECUE_SECRET``: signs cues instead of the key derived from LIVEKIT_API_SECRET."""
    callback_allow: str | None = None
    """``LIVECUE_CALLBACK_ALLOW``: URL prefixes callbacks may go to (comma-separated);
    unset, callbacks are off."""
    callback_secret: SecretStr | None = None
    """``LIVECUE_CALLBACK_SECRET``: signs callbacks (Standard Webhooks, ``whsec_...``)."""
    callback_retry_s: str = "5,30,120,600,1800,3600"
    """The waits before each callback retry, in seconds; after the last, it has failed."""
    callback_timeout_s: float = Field(10.0, gt=0)
    console_session_s: float = Field(8 * 3600.0, gt=0)
    """How long a console sign-in lasts."""


class VerifyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scheme: Scheme
    secrets: list[str] = Field(default_factory=list)
    secrets_env: list[str] = Field(default_factory=list)
    """Names of environment variables holding secrets (kept out of the file)."""
    tolerance_s: float = 300.0
    header: str | None = None
    timestamp_header: str | None = None
    delivery_id_header: str | None = None

    @model_validator(mode="after")
    def _options_fit_the_scheme(self) -> VerifyConfig:
        if self.scheme != "hmac_sha256" and (self.header or self.timestamp_header):
            raise ValueError("header and timestamp_header apply to the hmac_sha256 scheme only")
        if self.delivery_id_header and self.scheme not in ("hmac_sha256", "bearer"):
            raise ValueError("delivery_id_header applies to hmac_sha256 and bearer only")
        return self

    def resolved_secrets(self) -> list[str]:
        found = list(self.secrets)
        for name in self.secrets_env:
            value = os.environ.get(name)
            if not value:
                raise ConfigError(f"environment variable {name} (a hook secret) is not set")
            found.append(value)
        if not found:
            raise ConfigError("a hook needs at least one secret (secrets or secrets_env)")
        return found


class CueTemplate(BaseModel):
    """A cue whose text fields are Jinja2 templates over the event."""

    model_config = ConfigDict(extra="forbid")

    kind: str = "reply"
    text: str | None = None
    policy: Policy = "queue"
    coalesce_key: str | None = None
    ttl_s: float | None = Field(None, gt=0)
    allow_interruptions: bool | None = None
    data: dict[str, Any] | None = None


class HookConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verify: VerifyConfig
    filter: str | None = None
    """A Jinja2 expression over ``payload``; events for which it is false are ignored (2xx)."""
    delivery_id: str | None = None
    """A template for the delivery id when the scheme has no delivery header (e.g. Stripe)."""
    room: str
    cue: CueTemplate
    transport: Literal["rpc", "data"] | None = None
    callback_url: str | None = None
    """Where the final outcome of this hook's cues is POSTed (on the callback allow-list)."""


class Target(BaseModel):
    model_config = ConfigDict(extra="forbid")

    room: str | None = None
    prefix: str | None = None
    all: bool = False

    @model_validator(mode="after")
    def _exactly_one(self) -> Target:
        chosen = sum([self.room is not None, self.prefix is not None, self.all])
        if chosen != 1:
            raise ValueError("a target is exactly one of room, prefix or all: true")
        return self


class ScheduleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cron: str
    timezone: str = "UTC"
    target: Target
    cue: CueTemplate

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value


class GatewayConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hooks: dict[str, HookConfig] = Field(default_factory=dict)
    schedules: dict[str, ScheduleConfig] = Field(default_factory=dict)


def load_config(path: str | Path | None) -> GatewayConfig:
    """Read the YAML file; a missing or invalid file is a ConfigError naming the problem."""
    if path is None:
        return GatewayConfig()
    try:
        raw = yaml.safe_load(Path(path).read_text()) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
    try:
        return GatewayConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"config file {path}: {where}: {first['msg']}") from None
