"""Jinja2 templates that map an inbound webhook's JSON payload to a room and a cue.

Pure: no I/O, no clock. Templates are compiled when the configuration is loaded, so a syntax
error or an unknown filter stops the gateway at startup rather than at the first delivery.

- **Sandboxed.** An immutable sandbox: no ``_``-prefixed or interpreter-internal attributes, no
  mutating methods on lists and dicts. Attribute names starting with ``__`` are refused already at
  compile time. ``*`` and ``**`` refuse results too large to be useful (``"x" * 10**9``), and
  ``lipsum`` is not available.
- **Strict.** A missing variable or key is :class:`TemplateFieldMissing` naming its dotted path
  (``payload.data.object.metadata.room``), which the gateway answers with 422. Use
  ``is defined`` or ``| default(...)`` for optional fields.
- **Plain text.** No autoescaping; ``trim_blocks`` and ``lstrip_blocks`` are on; ``None`` (JSON
  ``null``) renders as the empty string rather than ``"None"``; the output is stripped.
- **JSON-friendly dots.** ``payload.items`` is the payload's ``"items"`` key when it has one,
  not the dict method of that name (plain Jinja prefers the method).
- **Bounded.** Sources over :data:`MAX_TEMPLATE_BYTES` are refused at compile time, output over
  :data:`MAX_OUTPUT_BYTES` while rendering. There is no CPU time limit: templates come from the
  operator's configuration and are trusted to be reasonable; payloads are not, hence the limits
  on output size and on ``*``/``**``.

Conditions (a hook's event filter) are single Jinja expressions, ``payload.type ==
"payment_intent.succeeded"``; a missing field anywhere in one makes the whole condition false
(even under ``not``), so an event without the field is ignored rather than refused.
"""

from __future__ import annotations

import contextvars
import functools
import json
from collections import deque
from collections.abc import Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, nodes
from jinja2.exceptions import SecurityError, TemplateRuntimeError
from jinja2.parser import Parser
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import missing

from .._errors import LivecueError

__all__ = [
    "MAX_OUTPUT_BYTES",
    "MAX_TEMPLATE_BYTES",
    "CompiledCondition",
    "CompiledTemplate",
    "TemplateError",
    "TemplateFieldMissing",
    "compile_condition",
    "compile_template",
    "render_mapping",
]

MAX_TEMPLATE_BYTES = 10 * 1024
"""Longest template (or condition) source accepted, UTF-8 encoded."""
MAX_OUTPUT_BYTES = 15 * 1024
"""Longest rendered output, UTF-8 encoded (a cue is at most 15 KiB in all)."""

_MAX_POWER_BITS = 64 * 1024
_MAX_KEY_CHARS = 64
_MAX_SEARCHED_NODES = 100_000


class TemplateError(LivecueError):
    """A template that cannot compile, or failed while rendering; ``template`` names it."""

    def __init__(self, template: str, message: str) -> None:
        super().__init__(f"template {template!r}: {message}")
        self.template = template


class TemplateFieldMissing(TemplateError):
    """A variable or key the template uses is not in the payload; ``field`` is its dotted path."""

    def __init__(self, template: str, field: str) -> None:
        super().__init__(template, f"missing field {field}")
        self.field = field


# -- strict undefined values that know where they came from -------------------------------------

# The context being rendered, so that a missing field can be named by its path from the root.
_rendering: contextvars.ContextVar[Mapping[str, Any] | None] = contextvars.ContextVar(
    "livecue_template_context", default=None
)


class _MissingField(UndefinedError):
    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


class _PathUndefined(StrictUndefined):
    """StrictUndefined whose error is :class:`_MissingField` carrying the dotted path."""

    __slots__ = ()

    def __init__(
        self,
        hint: str | None = None,
        obj: Any = missing,
        name: str | None = None,
        exc: type[TemplateRuntimeError] = UndefinedError,
    ) -> None:
        # Undefineds with a hint (sandbox refusals, loop helpers) keep their own exception.
        if hint is None and exc is UndefinedError:
            exc = _MissingField
        super().__init__(hint, obj, name, exc)

    @property
    def _undefined_message(self) -> str:
        if self._undefined_exception is _MissingField:
            return _path_of(self._undefined_obj, self._undefined_name)
        return super()._undefined_message


def _segment(key: object) -> str:
    if isinstance(key, int) and not isinstance(key, bool):
        return f"[{key}]"
    text = str(key)
    if len(text) > _MAX_KEY_CHARS:
        text = text[:_MAX_KEY_CHARS] + "…"
    return f".{text}" if text.isidentifier() else f"[{json.dumps(text, ensure_ascii=False)}]"


def _find_path(target: object) -> str | None:
    """Where ``target`` sits in the context being rendered (by identity, breadth first)."""
    root = _rendering.get()
    if root is None:
        return None
    queue: deque[tuple[object, str]] = deque((value, str(key)) for key, value in root.items())
    searched = 0
    while queue and searched < _MAX_SEARCHED_NODES:
        value, path = queue.popleft()
        searched += 1
        if value is target:
            return path
        if isinstance(value, Mapping):
            queue.extend((child, path + _segment(key)) for key, child in value.items())
        elif isinstance(value, (list, tuple)):
            queue.extend((child, f"{path}[{index}]") for index, child in enumerate(value))
    return None


def _path_of(obj: Any, name: object) -> str:
    if obj is missing:  # a top-level variable
        return str(name)
    # Small ints, bools and None are shared objects, so their identity says nothing about where
    # they came from; containers and strings are located by identity.
    parent = _find_path(obj) if isinstance(obj, (Mapping, list, tuple, str)) else None
    if parent is None:
        return _segment(name).lstrip(".")
    return parent + _segment(name)


# -- the environment ----------------------------------------------------------------------------


class _Environment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for sequence, count in ((left, right), (right, left)):
                if (
                    isinstance(sequence, (str, list, tuple))
                    and isinstance(count, int)
                    and len(sequence) * count > MAX_OUTPUT_BYTES
                ):
                    raise SecurityError("the result of '*' would be too large")
        elif (
            operator == "**"
            and isinstance(left, int)
            and isinstance(right, int)
            and right * max(abs(left).bit_length(), 1) > _MAX_POWER_BITS
        ):
            raise SecurityError("the result of '**' would be too large")
        return super().call_binop(context, operator, left, right)

    def getattr(self, obj: Any, attribute: str) -> Any:
        # JSON data first: payload.items is the "items" key, not dict.items.
        if isinstance(obj, Mapping) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)


def _finalize(value: Any) -> Any:
    return "" if value is None else value


@functools.cache
def _environment() -> _Environment:
    env = _Environment(
        undefined=_PathUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_finalize,
    )
    env.globals.pop("lipsum", None)
    return env


def _check_source(source: str, name: str) -> None:
    if not isinstance(source, str):
        raise TemplateError(name, "is not a string")
    size = len(source.encode("utf-8", "surrogatepass"))
    if size > MAX_TEMPLATE_BYTES:
        raise TemplateError(name, f"is {size} bytes, over the {MAX_TEMPLATE_BYTES}-byte limit")


def _refuse_dunders(tree: nodes.Node, name: str) -> None:
    for node in (tree, *tree.find_all((nodes.Getattr, nodes.Getitem))):
        attribute = node.attr if isinstance(node, nodes.Getattr) else None
        if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            attribute = node.arg.value if isinstance(node.arg.value, str) else None
        if attribute is not None and attribute.startswith("__"):
            raise TemplateError(name, f"access to attribute {attribute!r} is not allowed")


def _syntax_message(error: TemplateSyntaxError) -> str:
    return f"{error.message or 'syntax error'} (line {error.lineno})"


def _runtime_error(name: str, error: Exception) -> TemplateError:
    if isinstance(error, _MissingField):
        return TemplateFieldMissing(name, error.path)
    if isinstance(error, SecurityError):
        return TemplateError(name, f"not allowed: {error.message}")
    if isinstance(error, UndefinedError):  # a hinted undefined: loop.nextitem and the like
        return TemplateError(name, error.message or "undefined value")
    # Other errors (TypeError, ZeroDivisionError...) can quote payload values: name the type only.
    return TemplateError(name, f"rendering failed ({type(error).__name__})")


# -- templates ----------------------------------------------------------------------------------


class CompiledTemplate:
    """A template ready to render; build with :func:`compile_template`."""

    __slots__ = ("_template", "name", "source")

    def __init__(self, name: str, source: str) -> None:
        _check_source(source, name)
        env = _environment()
        try:
            tree = env.parse(source)
            _refuse_dunders(tree, name)
            self._template = env.from_string(tree)
        except TemplateSyntaxError as error:
            raise TemplateError(name, _syntax_message(error)) from None
        self.name = name
        self.source = source

    def render(self, context: Mapping[str, Any]) -> str:
        """Render over ``context`` (for a hook: ``{"payload": ..., ...}``), stripped."""
        token = _rendering.set(context)
        chunks = self._template.generate(dict(context))
        try:
            pieces: list[str] = []
            size = 0
            for chunk in chunks:
                size += len(chunk.encode("utf-8", "surrogatepass"))
                if size > MAX_OUTPUT_BYTES:
                    raise TemplateError(
                        self.name, f"rendered output is over the {MAX_OUTPUT_BYTES}-byte limit"
                    )
                pieces.append(chunk)
        except TemplateError:
            raise
        except Exception as error:
            raise _runtime_error(self.name, error) from error
        finally:
            close = getattr(chunks, "close", None)  # a generator: finish it now, not at GC
            if close is not None:
                close()
            _rendering.reset(token)
        return "".join(pieces).strip()

    def __repr__(self) -> str:
        return f"CompiledTemplate({self.name!r})"


def compile_template(source: str, name: str) -> CompiledTemplate:
    """Compile ``source``; :class:`TemplateError` (naming ``name``) if it is unusable."""
    return CompiledTemplate(name, source)


def render_mapping(
    templates: Mapping[str, CompiledTemplate], context: Mapping[str, Any]
) -> dict[str, str]:
    """Render each template over the same context; the first failure raises."""
    return {key: template.render(context) for key, template in templates.items()}


# -- conditions ---------------------------------------------------------------------------------


class CompiledCondition:
    """A Jinja expression used as an event filter; build with :func:`compile_condition`."""

    __slots__ = ("_expression", "name", "source")

    def __init__(self, name: str, source: str) -> None:
        _check_source(source, name)
        env = _environment()
        try:
            parser = Parser(env, source, state="variable")
            _refuse_dunders(parser.parse_expression(), name)
            self._expression = env.compile_expression(source, undefined_to_none=False)
        except TemplateSyntaxError as error:
            raise TemplateError(name, _syntax_message(error)) from None
        self.name = name
        self.source = source

    def matches(self, context: Mapping[str, Any]) -> bool:
        """Whether the condition holds; a missing field makes it false, other failures raise."""
        token = _rendering.set(context)
        try:
            return bool(self._expression(dict(context)))
        except _MissingField:
            return False
        except Exception as error:
            raise _runtime_error(self.name, error) from error
        finally:
            _rendering.reset(token)

    def __repr__(self) -> str:
        return f"CompiledCondition({self.name!r})"


def compile_condition(source: str, name: str) -> CompiledCondition:
    """Compile a filter expression; :class:`TemplateError` (naming ``name``) if it is unusable."""
    return CompiledCondition(name, source)
