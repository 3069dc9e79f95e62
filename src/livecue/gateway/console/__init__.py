"""The operator console at ``/console``: server-rendered pages over the gateway's services.

Sign-in with an admin API key opens a signed session cookie (``session``, ``auth``); pages
read (``pages``), forms change (``actions``, each with a CSRF token), and open pages follow
changes through server-sent events (``live``).
"""

from __future__ import annotations

from .app import create_console

__all__ = ["create_console"]
