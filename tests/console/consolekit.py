"""Helpers for the console's browser tests: Debian's Chromium driven by Playwright, every
JavaScript error it meets collected, and a screenshot of each page kept for people to look at.

Imported by the test modules of this directory (pytest puts the directory on ``sys.path``).
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page, Response

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
"""Debian's Chromium (``make setup`` installs it: scripts/install-chromium.sh)."""
OUT = ROOT / ".cache" / "test-output" / "console"
"""Where the screenshots go (git-ignored)."""
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

# Chromium reports a page that answers 4xx as "Failed to load resource" on its console: for a
# page that is itself the refusal a test asked for, that is the answer, not a script's error.
_DOCUMENT_STATUS = re.compile(
    r"Failed to load resource: the server responded with a status of (\d+)"
)


class Console:
    """One browser context on the console (its own cookies), collecting what went wrong in
    every page it opens: console errors and uncaught exceptions."""

    def __init__(self, context: BrowserContext, base_url: str) -> None:
        self.context = context
        self.base_url = base_url
        self.problems: list[str] = []
        self.dialogs: list[str] = []
        self._documents: dict[str, int] = {}

    @classmethod
    async def open_in(cls, browser: Browser, base_url: str, *, phone: bool = False) -> Console:
        viewport = PHONE if phone else LAPTOP
        context = await browser.new_context(
            base_url=base_url,
            viewport=viewport,  # type: ignore[arg-type]
            is_mobile=phone,
            has_touch=phone,
            device_scale_factor=2 if phone else 1,
        )
        return cls(context, base_url)

    async def page(self) -> Page:
        page = await self.context.new_page()
        page.on("console", self._on_console)
        page.on("pageerror", lambda exc: self.problems.append(f"{page.url}: uncaught {exc}"))
        page.on("response", self._on_response)
        page.on("dialog", self._on_dialog)
        return page

    def _on_response(self, response: Response) -> None:
        if response.request.resource_type == "document":
            self._documents[response.url] = response.status

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        refused = _DOCUMENT_STATUS.match(message.text)
        url = message.location.get("url", "")
        if refused and self._documents.get(url) == int(refused.group(1)):
            return
        self.problems.append(f"{url}: {message.text}")

    async def _on_dialog(self, dialog: object) -> None:
        self.dialogs.append(getattr(dialog, "message", "?"))
        await dialog.dismiss()  # type: ignore[attr-defined]

    async def sign_in(self, key: str, path: str = "/console/") -> Page:
        """A new page, signed in with ``key`` through the sign-in form, at ``path``."""
        page = await self.page()
        await page.goto(path)
        assert "/console/sign-in" in page.url, page.url
        await page.get_by_label("Admin API key").fill(key)
        await page.get_by_role("button", name="Sign in").click()
        await page.wait_for_url(lambda url: "/sign-in" not in url)
        return page

    async def close(self) -> None:
        await self.context.close()


async def shoot(page: Page, name: str) -> Path:
    """Save a full-page screenshot of ``page`` as ``OUT/name.png``."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


_WIDE = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [...document.querySelectorAll("body *")].filter(
    (el) => el.getBoundingClientRect().right > width + 1
      && (!el.closest(".scroll *") || getComputedStyle(el).position === "absolute"));
  return {
    overflow: document.documentElement.scrollWidth - width,
    wide: wide.slice(0, 5).map((el) => el.tagName.toLowerCase() + "." + el.className),
  };
}"""


async def sideways(page: Page) -> str | None:
    """None if the page fits its viewport's width; else by how much it does not, and which
    elements stick out (a table scrolling inside its own box does not count)."""
    found = await page.evaluate(_WIDE)
    if found["overflow"] <= 0:
        return None
    return f"{page.url} is {found['overflow']} px too wide: {found['wide']}"


async def signed_in(client: httpx.AsyncClient, key: str) -> str:
    """Sign ``client`` in with ``key``; returns the session's CSRF token, read off a form."""
    r = await client.post("/console/sign-in", data={"key": key, "next": "/console/rooms"})
    assert r.status_code == 303, r.text
    page = await client.get("/console/rooms")
    assert page.status_code == 200, page.text
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, "no CSRF token in the rooms page"
    return found.group(1)
