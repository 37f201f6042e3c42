"""Small generated parts for demos and examples (no files needed)."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np
import trimesh

from fabcore.app.catalogs import load_sample_catalog
from fabcore.domain.customer import Address
from fabcore.domain.money import Money
from fabcore.domain.review import ReviewMode, ReviewPolicy
from fabcore.domain.shop import BankAccount, Shop, ShopSettings

if TYPE_CHECKING:
    from fabcore.app.facade import Fabcore

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


def sample_settings() -> ShopSettings:
    """The demo shop's settings: semi-manual review, and what its invoices need."""
    return ShopSettings(
        notify_emails=("orders@acme-prototyping.example",),
        sender_email="no-reply@acme-prototyping.example",
        review=ReviewPolicy(
            mode=ReviewMode.SEMI_MANUAL,
            max_order_total=Money("2500.00", "EUR"),
            max_quantity=500,
            dfm_warnings_require_review=True,
        ),
        legal_name="Acme Prototyping GmbH",
        address=Address("Acme Prototyping GmbH", "Werkstraße 12", "70565", "Stuttgart", "DE"),
        tax_id="DE123456789",
        bank=BankAccount("Acme Prototyping GmbH", "DE89 3704 0044 0532 0130 00",
                         bic="COBADEFFXXX", bank_name="Commerzbank"),
    )


def sample_shop(shop_id: str = "acme") -> Shop:
    """A demo shop that bills in the sample catalog's currency (EUR)."""
    return Shop(id=shop_id, name="Acme Prototyping", settings=sample_settings())


def create_sample_shop(app: Fabcore, shop_id: str = "acme") -> Shop:
    """Set up the demo shop in ``app``, with the sample catalog."""
    shop = sample_shop(shop_id)
    return app.create_shop(shop.id, name=shop.name, catalog=load_sample_catalog(),
                           settings=shop.settings)
