"""Fixtures for the console's browser tests: one real livekit-server, one real `livecue
serve` (the example donations hook and a schedule configured) and one Chromium per module.

Playwright drives Debian's Chromium (/usr/bin/chromium, installed by ``make setup``); its own
browser download is never used. Without that binary the tests fail, saying how to get it.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "gateway"))  # gwkit

from consolekit import CHROMIUM, CHROMIUM_ARGS, OUT, Console
from gwkit import DONATION_SECRET, EXAMPLES, Stack, make_stack
from playwright.async_api import Browser, async_playwright

SCHEDULES = """
schedules:
  opening-hours:
    cron: "0 9 * * 1-5"
    timezone: Europe/Berlin
    target: {prefix: "support-"}
    cue:
      kind: say
      text: "Good morning: we are open."
"""


@pytest.fixture(scope="session", autouse=True)
def fresh_screenshots() -> None:
    """This run's screenshots only: the folder is emptied once, before the first test."""
    for old in OUT.glob("*.png") if OUT.exists() else []:
        old.unlink()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    config = tmp_path_factory.mktemp("console") / "livecue.yaml"
    config.write_text((EXAMPLES / "donations.yaml").read_text() + SCHEDULES)
    s = make_stack(config=config, env={"DONATION_WEBHOOK_SECRET": DONATION_SECRET})
    try:
        yield s
    finally:
        s.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the console's tests drive Debian's Chromium. "
            "Run `make setup` (scripts/install-chromium.sh) or `apt-get install chromium`."
        )
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest_asyncio.fixture(loop_scope="module")
async def console(browser: Browser, stack: Stack) -> AsyncIterator[Console]:
    """A fresh browser context (no cookies); the test fails if any page it opened logged a
    JavaScript error or threw."""
    opened = await Console.open_in(browser, stack.url)
    try:
        yield opened
    finally:
        await opened.close()
    assert opened.problems == [], "errors in the browser console:\n" + "\n".join(opened.problems)
    assert opened.dialogs == [], f"a page opened dialogs (script ran?): {opened.dialogs}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    shots = sorted(OUT.glob("*.png")) if OUT.exists() else []
    if shots:
        terminalreporter.write_line(f"console screenshots ({len(shots)}): {OUT}")
