"""Hook templates: rendering, strict missing fields by path, the sandbox, limits, conditions."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from livecue import LivecueError
from livecue.gateway.templates import (
    MAX_OUTPUT_BYTES,
    MAX_TEMPLATE_BYTES,
    CompiledTemplate,
    TemplateError,
    TemplateFieldMissing,
    compile_condition,
    compile_template,
    render_mapping,
)

PAYLOAD: dict[str, Any] = {
    "id": "evt_1",
    "type": "payment_intent.succeeded",
    "_id": "mongo-style",
    "data": {
        "object": {
            "amount": 1250,
            "currency": "eur",
            "metadata": {"room": "donor-42", "name": "Ada", "nickname": None},
            "items": [{"sku": "mug"}, {"sku": "hat"}],
            "a key": "spaced",
        }
    },
}


def ctx(payload: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"payload": copy.deepcopy(PAYLOAD) if payload is None else payload}


def render(source: str, context: dict[str, Any] | None = None) -> str:
    return compile_template(source, "t").render(ctx() if context is None else context)


# -- rendering -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ payload.data.object.metadata.room }}", "donor-42"),
        ("  \n{{ payload.data.object.metadata.room }}\n\n ", "donor-42"),
        ("{{ payload['data']['object']['metadata']['room'] }}", "donor-42"),
        (
            "{{ payload.data.object.amount / 100 }} {{ payload.data.object.currency|upper }}",
            "12.5 EUR",
        ),
        ("{{ payload.data.object['a key'] }}", "spaced"),
        ("{{ payload._id }}", "mongo-style"),
        # JSON keys win over dict methods of the same name.
        ("{{ payload.data.object.items[1].sku }}", "hat"),
        ("{{ payload.data.object.items|map(attribute='sku')|join(', ') }}", "mug, hat"),
        # null renders empty, not "None".
        ("[{{ payload.data.object.metadata.nickname }}]", "[]"),
        ("{{ payload.data.object.metadata.missing | default('friend') }}", "friend"),
        (
            "{% if payload.data.object.metadata.missing is defined %}yes{% else %}no{% endif %}",
            "no",
        ),
        (
            "{% if payload.data.object.amount > 1000 %}\n  Big thanks, {{ payload.data.object."
            "metadata.name }}!\n{% endif %}\n",
            "Big thanks, Ada!",
        ),
        ("{{ '★' * 3 }}{{ 2 ** 10 }}", "★★★1024"),
        ("no variables at all", "no variables at all"),
    ],
)
def test_renders(source: str, expected: str) -> None:
    assert render(source) == expected


def test_block_tags_leave_no_blank_lines() -> None:
    source = "Hello\n  {% if payload.id %}\n  Event {{ payload.id }}\n  {% endif %}\nBye"
    assert render(source) == "Hello\n  Event evt_1\nBye"


def test_lipsum_is_not_available() -> None:
    with pytest.raises(TemplateFieldMissing) as info:
        render("{{ lipsum(1000) }}")
    assert info.value.field == "lipsum"


def test_render_does_not_change_the_context() -> None:
    context = ctx()
    compile_template("{{ payload.data.object.items|list|length }}", "t").render(context)
    assert context == ctx()


def test_render_mapping() -> None:
    templates = {
        "room": compile_template("{{ payload.data.object.metadata.room }}", "room"),
        "text": compile_template("Thank {{ payload.data.object.metadata.name }}.", "text"),
    }
    assert render_mapping(templates, ctx()) == {"room": "donor-42", "text": "Thank Ada."}
    templates["coalesce_key"] = compile_template("{{ payload.data.object.group }}", "coalesce_key")
    with pytest.raises(TemplateFieldMissing) as info:
        render_mapping(templates, ctx())
    assert (info.value.template, info.value.field) == (
        "coalesce_key",
        "payload.data.object.group",
    )


# -- missing fields ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "field"),
    [
        ("{{ payload.data.object.metadata.roomz }}", "payload.data.object.metadata.roomz"),
        # The first missing step is named, not the rest of the chain.
        ("{{ payload.data.objekt.metadata.room }}", "payload.data.objekt"),
        ("{{ payload['data']['object']['nope'] }}", "payload.data.object.nope"),
        ("{{ payload.data.object.items[5].sku }}", "payload.data.object.items[5]"),
        ("{{ payload.data.object.items[0].price }}", "payload.data.object.items[0].price"),
        ("{{ payload.data.object['b key'] }}", 'payload.data.object["b key"]'),
        ("{{ paylaod.id }}", "paylaod"),
        (
            "{% set m = payload.data.object.metadata %}{{ m.email }}",
            "payload.data.object.metadata.email",
        ),
        ("{{ payload.type.subtype }}", "payload.type.subtype"),
        (
            "{{ payload.data.object.metadata.missing ~ '!' }}",
            "payload.data.object.metadata.missing",
        ),
        (
            "{% for i in payload.data.object.lines %}{{ i }}{% endfor %}",
            "payload.data.object.lines",
        ),
        ("{% if payload.data.flag %}x{% endif %}", "payload.data.flag"),
    ],
)
def test_missing_field_names_its_path(source: str, field: str) -> None:
    with pytest.raises(TemplateFieldMissing) as info:
        compile_template(source, "room").render(ctx())
    error = info.value
    assert error.field == field
    assert error.template == "room"
    assert str(error) == f"template 'room': missing field {field}"
    assert isinstance(error, TemplateError) and isinstance(error, LivecueError)


def test_missing_field_path_comes_from_the_context_being_rendered() -> None:
    template = compile_template("{{ payload.a.b }}", "t")
    with pytest.raises(TemplateFieldMissing) as first:
        template.render({"payload": {"a": {}}})
    with pytest.raises(TemplateFieldMissing) as second:
        template.render({"payload": {}})
    assert (first.value.field, second.value.field) == ("payload.a.b", "payload.a")


def test_long_keys_are_shortened_in_the_path() -> None:
    key = "k" * 500
    with pytest.raises(TemplateFieldMissing) as info:
        render("{{ payload[key].x }}", {"payload": {key: {}}, "key": key})
    assert info.value.field.endswith(".x")
    assert len(info.value.field) < 100


# -- the sandbox ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "{{ payload.__class__ }}",
        "{{ payload['__class__'] }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ payload.data.__getitem__('object') }}",
        "{% if payload.__dict__ %}x{% endif %}",
        "{{ payload.type.format.__self__ }}",
    ],
)
def test_dunder_access_is_refused_at_compile_time(source: str) -> None:
    with pytest.raises(TemplateError, match=r"^template 'text': access to attribute '__"):
        compile_template(source, "text")


@pytest.mark.parametrize(
    ("source", "extra"),
    [
        # Built at render time, so only the sandbox can stop it.
        ("{{ payload[k] }}", {"k": "__class__"}),
        ("{{ payload[k] }}", {"k": "__init__"}),
        ("{{ payload.type[k] }}", {"k": "__class__"}),
        ("{{ (payload|attr(k)) }}", {"k": "__class__"}),
        ("{{ thing._private }}", {"thing": type("T", (), {"_private": "hidden"})()}),
        # The sandbox is immutable: no changing the payload.
        ("{{ payload.data.object['items'].append(1) }}", {}),
        ("{{ payload.data.pop('object') }}", {}),
        ("{{ payload.data.update({'x': 1}) }}", {}),
        ("{% set _ = payload.data.object.metadata.clear() %}", {}),
    ],
)
def test_sandbox_refuses_at_render_time(source: str, extra: dict[str, Any]) -> None:
    template = compile_template(source, "text")
    context = {**ctx(), **extra}
    before = copy.deepcopy(context["payload"])
    with pytest.raises(TemplateError) as info:
        template.render(context)
    assert not isinstance(info.value, TemplateFieldMissing)
    assert info.value.template == "text"
    assert context["payload"] == before


@pytest.mark.parametrize(
    "source",
    [
        "{{ 'x' * 100000000 }}",
        "{{ 100000000 * 'x' }}",
        "{{ [1] * 100000000 }}",
        "{{ 10 ** 100000 }}",
        "{{ (2 ** 100) ** 1000 }}",
        "{{ '-' * payload.count }}",
    ],
)
def test_huge_results_are_refused(source: str) -> None:
    with pytest.raises(TemplateError, match="too large"):
        render(source, {"payload": {"count": 10**12}})


def test_errors_do_not_quote_payload_values() -> None:
    with pytest.raises(TemplateError) as info:
        render("{{ payload.token + 1 }}", {"payload": {"token": "hunter2"}})
    assert "hunter2" not in str(info.value)
    assert "TypeError" in str(info.value)


# -- syntax errors and limits ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ payload.room }", "template 'room': unexpected '}' (line 1)"),
        ("{% if payload.x %}open", "template 'room': Unexpected end of template"),
        ("line\n{{ payload.x | nosuchfilter }}", "template 'room': No filter named 'nosuchfilter'"),
        ("{{ }}", "template 'room': Expected an expression"),
    ],
)
def test_syntax_errors_name_the_template(source: str, message: str) -> None:
    with pytest.raises(TemplateError) as info:
        compile_template(source, "room")
    assert str(info.value).startswith(message)
    assert info.value.template == "room"


def test_template_size_limit() -> None:
    exact = "x" * MAX_TEMPLATE_BYTES
    assert compile_template(exact, "t").render({}) == exact[:MAX_OUTPUT_BYTES]
    with pytest.raises(TemplateError, match="over the 10240-byte limit"):
        compile_template(exact + "x", "t")
    # Counted in UTF-8 bytes, not characters.
    with pytest.raises(TemplateError, match="limit"):
        compile_template("é" * (MAX_TEMPLATE_BYTES // 2 + 1), "t")


def test_output_size_limit() -> None:
    payload = {"payload": {"s": "y" * 1000}}
    at_limit = compile_template(
        "{{ payload.s * 15 }}{{ 'z' * " + str(MAX_OUTPUT_BYTES - 15000) + " }}", "t"
    )
    assert len(at_limit.render(payload)) == MAX_OUTPUT_BYTES
    over = compile_template("{{ payload.s * 15 }}{{ 'z' * 361 }}", "text")
    with pytest.raises(TemplateError, match=r"^template 'text': rendered output is over"):
        over.render(payload)
    # A loop that would write far more stops at the limit instead of building it all.
    loop = compile_template("{% for i in range(100000) %}{{ payload.s }}{% endfor %}", "t")
    with pytest.raises(TemplateError, match="over the 15360-byte limit"):
        loop.render(payload)
    # Multi-byte output is counted in bytes.
    with pytest.raises(TemplateError, match="rendered output"):
        compile_template("{{ payload.s }}", "t").render({"payload": {"s": "€" * 5200}})


def test_compiled_template_keeps_name_and_source() -> None:
    template = compile_template("{{ payload.id }}", "delivery_id")
    assert isinstance(template, CompiledTemplate)
    assert (template.name, template.source) == ("delivery_id", "{{ payload.id }}")
    assert "delivery_id" in repr(template)


# -- conditions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('payload.type == "payment_intent.succeeded"', True),
        ('payload.type == "payment_intent.failed"', False),
        ('payload.type.startswith("payment_intent.")', True),
        ("payload.data.object.amount >= 1250 and payload.data.object.currency == 'eur'", True),
        ("payload.data.object.amount > 1250", False),
        ('payload.type in ["a", "payment_intent.succeeded"]', True),
        ("payload.data.object['items']|length == 2", True),
        # Missing fields make the condition false, wherever they are.
        ('payload.kind == "x"', False),
        ('payload.kind != "x"', False),
        ("not payload.kind", False),
        ("payload.data.objekt.amount > 0", False),
        ("payload.data.object.items[9].sku", False),
        # ...unless the condition asks for them explicitly.
        ("payload.kind is not defined", True),
        ('payload.kind | default("x") == "x"', True),
        ("payload.data.object.metadata.nickname is none", True),
    ],
)
def test_condition(source: str, expected: bool) -> None:
    assert compile_condition(source, "filter").matches(ctx()) is expected


@pytest.mark.parametrize(
    "source",
    ["payload.type ==", "payload.type }} {{ 1", "(payload.type", "payload.type | nosuchfilter"],
)
def test_condition_syntax_errors_name_it(source: str) -> None:
    with pytest.raises(TemplateError, match=r"^template 'filter': "):
        compile_condition(source, "filter")


def test_condition_sandbox_and_type_errors_raise() -> None:
    with pytest.raises(TemplateError, match="access to attribute '__class__'"):
        compile_condition("payload.__class__", "filter")
    dynamic = compile_condition("payload[k] == 1", "filter")
    with pytest.raises(TemplateError, match="not allowed") as info:
        dynamic.matches({**ctx(), "k": "__class__"})
    assert not isinstance(info.value, TemplateFieldMissing)
    with pytest.raises(TemplateError, match="TypeError"):
        compile_condition("payload.type > 1", "filter").matches(ctx())
    with pytest.raises(TemplateError, match="too large"):
        compile_condition("'x' * 10**9 == ''", "filter").matches(ctx())


def test_condition_size_limit() -> None:
    source = "payload.type == '" + "x" * MAX_TEMPLATE_BYTES + "'"
    with pytest.raises(TemplateError, match="limit"):
        compile_condition(source, "filter")
