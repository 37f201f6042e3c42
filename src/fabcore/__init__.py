"""fabcore: open core for instant quoting and order management in manufacturing.

>>> import fabcore
>>> app = fabcore.connect("memory://")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from fabcore.app.facade import Fabcore


def connect(database: str = "memory://", **settings: Any) -> Fabcore:
    """Wire an application (see :func:`fabcore.app.bootstrap.bootstrap` for the settings)."""
    from fabcore.app.bootstrap import bootstrap

    return bootstrap(database, **settings)


__all__ = ["__version__", "connect"]
