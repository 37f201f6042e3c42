"""What the web front is configured with, from arguments or ``FABCORE_*`` environment variables."""

from __future__ import annotations

import os
from typing import Any, cast

import attrs

from fabcore.entrypoints.environment import env_float, env_int

MiB = 1024 * 1024


@attrs.frozen
class WebSettings:
    """How the HTTP front behaves.

    ``secure_cookies`` marks the session cookie ``Secure`` (turn it off only
    for plain http on localhost). ``max_upload_bytes`` is the largest model
    file accepted (413 above). Analysis runs in ``analysis_workers``
    processes, each limited to ``analysis_memory_mb`` of address space and
    ``analysis_timeout_s`` seconds per file; at most ``analysis_queue``
    uploads wait for a worker (503 beyond, so the server keeps answering).
    Where background workers run (``FABCORE_JOBS=queue``), a file of
    ``defer_analysis_bytes`` or more is analysed by one of them instead.
    """

    secure_cookies: bool = True
    max_upload_bytes: int = 200 * MiB
    analysis_workers: int = 2
    analysis_memory_mb: int = 4096
    analysis_timeout_s: float = 60.0
    analysis_queue: int = 32
    defer_analysis_bytes: int = 20 * MiB
    session_cookie: str = "fabcore_session"
    csrf_cookie: str = "fabcore_csrf"

    @classmethod
    def from_environment(cls, **overrides: object) -> WebSettings:
        """Settings from ``FABCORE_SECURE_COOKIES``, ``FABCORE_MAX_UPLOAD_MB``, ... or arguments."""
        secure = os.environ.get("FABCORE_SECURE_COOKIES", "1").strip().lower()
        values: dict[str, object] = {
            "secure_cookies": secure not in ("0", "false", "no", "off"),
            "max_upload_bytes": env_int("FABCORE_MAX_UPLOAD_MB", 200) * MiB,
            "analysis_workers": env_int("FABCORE_ANALYSIS_WORKERS", 2),
            "analysis_memory_mb": env_int("FABCORE_ANALYSIS_MEMORY_MB", 4096),
            "analysis_timeout_s": float(env_int("FABCORE_ANALYSIS_TIMEOUT_S", 60)),
            "defer_analysis_bytes": round(env_float("FABCORE_DEFER_ANALYSIS_MB", 20) * MiB),
        }
        values.update(overrides)
        return cls(**cast(dict[str, Any], values))
