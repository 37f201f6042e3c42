"""Twenty hostile uploads at once against a real server, while a customer asks for prices.

Analysis runs in one worker process with a 2 s limit per file: every hostile
file is refused (413 over the size limit, 422 with a reason) or, when the
queue is full, 503; the price requests asked meanwhile are all answered,
and the server analyses a good file afterwards.
"""

from __future__ import annotations

import io
import struct
import threading
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from http_server import LiveServer, start_server

DATA = Path(__file__).resolve().parents[1] / "data"
MiB = 1024 * 1024


def _component_chain(depth: int) -> bytes:
    """A 3MF whose objects each contain the previous one, ``depth`` deep."""
    objects = ['<object id="1" type="model"><mesh><vertices>'
               '<vertex x="0" y="0" z="0"/><vertex x="1" y="0" z="0"/>'
               '<vertex x="0" y="1" z="0"/><vertex x="0" y="0" z="1"/></vertices><triangles>'
               '<triangle v1="0" v2="2" v3="1"/><triangle v1="0" v2="1" v3="3"/>'
               '<triangle v1="0" v2="3" v3="2"/><triangle v1="1" v2="2" v3="3"/>'
               '</triangles></mesh></object>']
    objects += [f'<object id="{i}" type="model"><components><component objectid="{i - 1}"/>'
                '</components></object>' for i in range(2, depth + 1)]
    model = ('<?xml version="1.0" encoding="UTF-8"?><model unit="millimeter" '
             'xmlns="http://schemas.microsoft.com/3dmanufacturing/core/2015/02">'
             f'<resources>{"".join(objects)}</resources>'
             f'<build><item objectid="{depth}"/></build></model>')
    return _zip({"3D/3dmodel.model": model.encode()})


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def _zero_bomb(megabytes: int) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive, \
            archive.open("3D/3dmodel.model", "w", force_zip64=True) as member:
        chunk = b"\x00" * MiB
        for _ in range(megabytes):
            member.write(chunk)
    return out.getvalue()


def _hostile() -> list[tuple[str, bytes]]:
    lying = b"\x00" * 80 + struct.pack("<I", 10_000_000) + b"\x00" * 500
    nan = (b"\x00" * 80 + struct.pack("<I", 1)
           + struct.pack("<12f", *([float("nan")] * 12)) + b"\x00\x00")
    files = [
        ("oversize.stl", b"\x00" * (5 * MiB)),
        ("garbage.stl", bytes(range(256)) * 64),
        ("lying.stl", lying),
        ("nan.stl", nan),
        ("empty.stl", (DATA / "empty.stl").read_bytes()),
        ("chain.3mf", _component_chain(1500)),
        ("bomb.3mf", _zero_bomb(300)),
        ("notazip.3mf", b"PK\x03\x04 not really a zip"),
        ("text.obj", b"v 1 2\nf 1 2 3 4 5\n" * 100),
        ("renamed.stp", _component_chain(3)),
    ]
    return [files[i % len(files)] for i in range(20)]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = start_server(tmp_path / "server", extra_env={
        "FABCORE_ANALYSIS_WORKERS": "1", "FABCORE_ANALYSIS_TIMEOUT_S": "2",
        "FABCORE_MAX_UPLOAD_MB": "4", "FABCORE_ANALYSIS_MEMORY_MB": "2048"})
    try:
        yield live
    finally:
        live.stop()


def test_hostile_uploads_are_refused_while_prices_are_served(server: LiveServer) -> None:
    client = server.client()
    good = client.post("/api/v1/shops/acme/models",
                       files={"file": ("cube.stl", (DATA / "20mm-xyz-cube.stl").read_bytes())})
    assert good.status_code == 201, good.text
    options = f"/api/v1/shops/acme/models/{good.json()['sha256']}/options?quantity=5"

    uploads_done = threading.Event()
    prices: list[int] = []

    def ask_prices() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as browser:
            while not uploads_done.is_set() or not prices:
                prices.append(browser.get(options).status_code)

    def upload(item: tuple[str, bytes]) -> tuple[str, int, str]:
        name, data = item
        with httpx.Client(base_url=server.url, timeout=120) as uploader:
            answer = uploader.post("/api/v1/shops/acme/models", files={"file": (name, data)})
        return name, answer.status_code, answer.text

    asker = threading.Thread(target=ask_prices)
    asker.start()
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(upload, _hostile()))
    uploads_done.set()
    asker.join(60)

    for name, status, text in results:
        assert status in (413, 422, 503), (name, status, text)
        assert "Traceback" not in text
        if status == 422:
            assert '"reason"' in text, (name, text)
    assert {status for name, status, _ in results if name == "oversize.stl"} == {413}
    assert prices
    assert set(prices) == {200}

    assert client.get("/healthz").text == "ok"
    again = client.post("/api/v1/shops/acme/models",
                        files={"file": ("sphere.stl", (DATA / "unit_sphere.STL").read_bytes())})
    assert again.status_code == 201, again.text
