"""Turn a configured cue template (hooks, schedules) into a cue, given the event."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..._cue import Cue, new_cue
from ..config import CueTemplate
from ..templates import CompiledTemplate, compile_template


class CueRenderer:
    """Compiles each template's text fields once, then renders cues from event contexts."""

    def __init__(self) -> None:
        self._compiled: dict[tuple[str, str], CompiledTemplate] = {}

    def compile(self, template: CueTemplate, owner: str) -> None:
        """Compile now, so a syntax error stops the gateway at start, naming ``owner``."""
        for field, source in (("text", template.text), ("coalesce_key", template.coalesce_key)):
            if source is not None:
                self._template(f"{owner}.cue.{field}", source)
        for path, source in _strings(template.data or {}, f"{owner}.cue.data"):
            self._template(path, source)

    def compile_text(self, name: str, source: str) -> None:
        """Compile one more template (a hook's room, say) ahead of use."""
        self._template(name, source)

    def _template(self, name: str, source: str) -> CompiledTemplate:
        key = (name, source)
        if key not in self._compiled:
            self._compiled[key] = compile_template(source, name)
        return self._compiled[key]

    def render_text(self, name: str, source: str, context: Mapping[str, Any]) -> str:
        return self._template(name, source).render(context)

    def render(
        self,
        template: CueTemplate,
        context: Mapping[str, Any],
        *,
        now: datetime,
        default_ttl_s: float,
        owner: str = "cue",
    ) -> Cue:
        """Raises the templates module's TemplateFieldMissing naming a missing field."""
        text = (
            self.render_text(f"{owner}.cue.text", template.text, context)
            if template.text is not None
            else None
        )
        key = (
            self.render_text(f"{owner}.cue.coalesce_key", template.coalesce_key, context)
            if template.coalesce_key is not None
            else None
        )
        data = _render_data(self, template.data, context, f"{owner}.cue.data")
        return new_cue(
            template.kind,
            text,
            data=data,
            policy=template.policy,
            coalesce_key=key or None,
            ttl=template.ttl_s or default_ttl_s,
            allow_interruptions=template.allow_interruptions,
            now=now,
        )


def _strings(value: Any, path: str) -> list[tuple[str, str]]:
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _strings(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [s for i, v in enumerate(value) for s in _strings(v, f"{path}[{i}]")]
    return []


def _render_data(renderer: CueRenderer, value: Any, context: Mapping[str, Any], path: str) -> Any:
    if isinstance(value, str):
        return renderer.render_text(path, value, context)
    if isinstance(value, dict):
        return {k: _render_data(renderer, v, context, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_render_data(renderer, v, context, f"{path}[{i}]") for i, v in enumerate(value)]
    return value
