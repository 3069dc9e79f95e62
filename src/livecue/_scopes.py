"""The scopes an API key of the gateway can hold.

Stdlib only and tiny, apart from the store on purpose: ``livecue keys create``
offers these names as choices, and building the CLI's argument parser must not
import the store or the gateway (``livecue send`` would pay for it on every run).
"""

from __future__ import annotations

from typing import Literal

Scope = Literal["send", "broadcast", "read", "agent", "admin"]
SCOPES: tuple[Scope, ...] = ("send", "broadcast", "read", "agent", "admin")
