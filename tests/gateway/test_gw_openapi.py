"""Schemathesis against the served OpenAPI document: no generated request gets a 5xx.

schemathesis 4.32's pytest integration (``schemathesis.pytest.from_fixture``) fails on pytest 9
(``'Function' object has no attribute '_nodeid'``), and ``openapi.from_url`` at import time would
need the gateway running during collection. So the schema is loaded from the running gateway in a
fixture and each operation's Hypothesis strategy is driven here, valid and invalid inputs alike.
"""

from __future__ import annotations

from collections import Counter

import httpx
import pytest
import schemathesis
from gwkit import Stack
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

pytestmark = pytest.mark.e2e

OPERATIONS = [
    ("POST", "/v1/rooms/{room}/cues"),
    ("POST", "/v1/broadcasts"),
    ("GET", "/v1/cues/{cue_id}"),
    ("GET", "/v1/cues"),
    ("DELETE", "/v1/cues/{cue_id}"),
    ("POST", "/v1/cues/{cue_id}/resend"),
    ("POST", "/v1/cues/{cue_id}/outcome"),
    ("GET", "/v1/rooms/{room}/pending"),
    ("GET", "/v1/rooms"),
    ("POST", "/hooks/{name}"),
    ("GET", "/v1/hooks"),
    ("GET", "/v1/hooks/{name}/deliveries"),
    ("GET", "/v1/schedules"),
    ("GET", "/v1/keys"),
    ("POST", "/v1/keys"),
    ("DELETE", "/v1/keys/{key_id}"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
]


@pytest.fixture(scope="module")
def openapi_schema(api_stack: Stack) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{api_stack.url}/openapi.json")


def test_the_document_has_every_public_route_and_nothing_else(
    openapi_schema: schemathesis.BaseSchema, api_stack: Stack
) -> None:
    served = {(op.ok().method.upper(), op.ok().path) for op in openapi_schema.get_all_operations()}
    assert served == set(OPERATIONS)
    assert httpx.get(f"{api_stack.url}/metrics", timeout=10).status_code == 200  # not documented


WITHOUT_INPUTS = {
    ("GET", "/v1/rooms"),
    ("GET", "/v1/hooks"),
    ("GET", "/v1/schedules"),
    ("GET", "/v1/keys"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
}
"""No parameters or body: there is no invalid request to generate for these."""


CASES = [(m, p, GenerationMode.POSITIVE, None) for m, p in OPERATIONS] + [
    (m, p, GenerationMode.NEGATIVE, None) for m, p in OPERATIONS if (m, p) not in WITHOUT_INPUTS
]
# random hook names are all 404: also throw generated bodies at the configured hook
CASES += [("POST", "/hooks/{name}", mode, "donations") for mode in GenerationMode]


@pytest.mark.parametrize(
    ("method", "path", "mode", "hook"),
    CASES,
    ids=lambda v: v.value if isinstance(v, GenerationMode) else str(v),
)
def test_no_generated_request_gets_a_server_error(
    openapi_schema: schemathesis.BaseSchema,
    api_stack: Stack,
    method: str,
    path: str,
    mode: GenerationMode,
    hook: str | None,
) -> None:
    operation = openapi_schema[path][method]
    answers: Counter[int] = Counter()
    strategy = operation.as_strategy(mode)
    if hook is not None:
        strategy = strategy.map(lambda case: _with_path(case, name=hook))

    @given(case=strategy)
    @settings(
        max_examples=30,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def run(case: schemathesis.Case) -> None:
        response = case.call(headers=api_stack.headers(), timeout=10)
        answers[response.status_code] += 1
        assert response.status_code < 500, (
            f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
        )

    run()
    assert sum(answers.values()) > 0
    print(f"{method} {path} {hook or ''} [{mode.value}]: {dict(sorted(answers.items()))}")


def _with_path(case: schemathesis.Case, **values: str) -> schemathesis.Case:
    case.path_parameters = {**(case.path_parameters or {}), **values}
    return case
