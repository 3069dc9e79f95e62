"""/healthz is the process; /readyz also needs LiveKit, and follows it."""

from __future__ import annotations

import httpx
import pytest
from gwkit import running_stack, until

pytestmark = pytest.mark.e2e


async def test_readyz_is_503_while_livekit_is_unreachable_and_200_once_it_is_up() -> None:
    with running_stack(start_livekit=False) as stack:
        async with httpx.AsyncClient(base_url=stack.url, timeout=10) as c:
            health = await c.get("/healthz")
            assert (health.status_code, health.json()) == (200, {"status": "ok"})
            down = await c.get("/readyz")
            assert down.status_code == 503
            body = down.json()
            assert body["ready"] is False
            assert body["checks"]["database"] == "ok"
            assert body["checks"]["livekit"] == "unavailable (LiveKitUnreachable)"  # no URL: public

            stack.livekit.start()

            async def ready() -> httpx.Response | None:
                r = await c.get("/readyz")
                return r if r.status_code == 200 else None

            up = await until(ready, timeout=10, interval=0.2, what="/readyz to answer 200")
            assert up.json() == {"ready": True, "checks": {"database": "ok", "livekit": "ok"}}
            assert (await c.get("/healthz")).status_code == 200

            stack.livekit.stop()

            async def unready() -> httpx.Response | None:
                r = await c.get("/readyz")
                return r if r.status_code == 503 else None

            again = await until(unready, timeout=10, interval=0.2, what="/readyz to answer 503")
            assert again.json()["checks"]["livekit"].startswith("unavailable")
