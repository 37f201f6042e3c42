"""Small generated parts for demos and examples (no files needed)."""

from __future__ import annotations

import io

import numpy as np
import trimesh

from fabcore.app.catalogs import load_sample_catalog
from fabcore.domain.money import Money
from fabcore.domain.review import ReviewMode, ReviewPolicy
from fabcore.domain.shop import Shop, ShopSettings

# L-shaped profile in the XZ plane (mm), counter-clockwise; star-shaped
# around its first corner, so a fan from it triangulates the caps.
_PROFILE = np.array([(0, 0), (60, 0), (60, 6), (6, 6), (6, 30), (0, 30)], dtype=np.float64)


def bracket_mesh(depth_mm: float = 40.0) -> trimesh.Trimesh:
    """An L-shaped bracket, 60 x 40 x 30 mm: one closed, consistently wound body."""
    n = len(_PROFILE)
    front = np.column_stack([_PROFILE[:, 0], np.zeros(n), _PROFILE[:, 1]])
    back = front + np.array([0.0, depth_mm, 0.0])
    vertices = np.vstack([front, back])
    faces: list[tuple[int, int, int]] = []
    for i in range(1, n - 1):
        faces.append((0, i, i + 1))  # front cap, normal -y
        faces.append((n, n + i + 1, n + i))  # back cap, normal +y
    for i in range(n):
        j = (i + 1) % n
        faces.append((i, n + i, j))
        faces.append((j, n + i, n + j))
    mesh = trimesh.Trimesh(vertices=vertices, faces=np.array(faces), process=True)
    if mesh.volume < 0:
        mesh.invert()
    return mesh


def bracket_stl() -> bytes:
    """The bracket as binary STL bytes."""
    buf = io.BytesIO()
    bracket_mesh().export(buf, file_type="stl")
    return buf.getvalue()


def sample_shop(shop_id: str = "acme") -> Shop:
    """A demo shop that bills in the sample catalog's currency.

    Orders over 2,500.00 of that currency (gross) or 500 parts, or with a
    model that has a DFM warning, go to review; others may be placed at once.
    """
    currency = load_sample_catalog().currency
    review = ReviewPolicy(
        mode=ReviewMode.SEMI_MANUAL,
        max_order_total=Money("2500.00", currency),
        max_quantity=500,
        dfm_warnings_require_review=True,
    )
    return Shop(
        id=shop_id,
        name="Acme Prototyping",
        settings=ShopSettings(
            currency=currency,
            notify_emails=("orders@acme-prototyping.example",),
            sender_email="no-reply@acme-prototyping.example",
            review=review,
        ),
    )
