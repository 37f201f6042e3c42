"""Uploads read as they stream in: the multipart body's edges, answered with problems."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from httpx import Response

from web_fixtures import DATA, Site

CUBE = (DATA / "20mm-xyz-cube.stl").read_bytes()
URL = "/api/v1/shops/acme/models"
LIMIT = 2 * 1024 * 1024  # make_site's upload limit


def _multipart(*parts: tuple[str, str | None, bytes], boundary: str = "b0undary") -> bytes:
    body = b""
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        body += (f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
                 + content + b"\r\n")
    return body + f"--{boundary}--\r\n".encode()


def _post(site: Site, body: bytes | Iterator[bytes], boundary: str = "b0undary") -> Response:
    return site.client.post(URL, content=body,
                            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})


def test_the_units_field_may_follow_the_file_and_other_fields_are_ignored(site: Site) -> None:
    answer = _post(site, _multipart(("note", None, b"hello"), ("file", "cube.stl", CUBE),
                                    ("units", None, b"inch")))
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["units"] == "inch"
    assert body["sha256"] == hashlib.sha256(CUBE).hexdigest()
    assert body["size"] == len(CUBE)
    assert body["filename"] == "cube.stl"
    # 20 mm read as 20 inch.
    assert abs(body["analysis"]["bbox_mm"][0] - 508.0) < 1e-3


def test_a_file_sent_in_small_chunks_arrives_whole(site: Site) -> None:
    body = _multipart(("file", "cube.stl", CUBE))
    answer = _post(site, iter([body[i:i + 997] for i in range(0, len(body), 997)]))
    assert answer.status_code == 201, answer.text
    assert answer.json()["sha256"] == hashlib.sha256(CUBE).hexdigest()


def test_the_limit_is_checked_while_the_file_arrives(site: Site) -> None:
    chunk = b"\x00" * (256 * 1024)

    def body() -> Iterator[bytes]:
        yield b'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="x.stl"\r\n\r\n'
        for _ in range(LIMIT // len(chunk) + 1):
            yield chunk
        yield b"\r\n--b0undary--\r\n"

    answer = _post(site, body())
    assert answer.status_code == 413
    assert answer.json()["type"] == "urn:fabcore:problem:too-large"
    assert "2 MB" in answer.json()["detail"]


def test_malformed_bodies_are_refused_with_a_reason(site: Site) -> None:
    not_multipart = site.client.post(URL, content=CUBE,
                                     headers={"Content-Type": "application/octet-stream"})
    assert not_multipart.status_code == 415
    assert "multipart/form-data" in not_multipart.json()["detail"]
    no_boundary = site.client.post(URL, content=b"x",
                                   headers={"Content-Type": "multipart/form-data"})
    assert no_boundary.status_code == 415
    cut = _multipart(("file", "cube.stl", CUBE))[:-40]
    truncated = _post(site, cut)
    assert truncated.status_code == 400
    assert "malformed" in truncated.json()["detail"]
    garbage = _post(site, b"this is not a multipart body at all")
    assert garbage.status_code == 400


def test_missing_doubled_and_bad_fields_name_the_field(site: Site) -> None:
    missing = _post(site, _multipart(("units", None, b"mm")))
    assert missing.status_code == 422
    assert missing.json()["errors"] == [
        {"field": "file", "message": "a file is required", "location": "body"}]
    twice = _post(site, _multipart(("file", "a.stl", CUBE), ("file", "b.stl", CUBE)))
    assert twice.status_code == 422
    assert twice.json()["errors"][0]["field"] == "file"
    furlong = _post(site, _multipart(("file", "cube.stl", CUBE), ("units", None, b"furlong")))
    assert furlong.status_code == 422
    assert furlong.json()["errors"][0]["field"] == "units"
    latin1 = _post(site, _multipart(("units", None, b"\xe9"), ("file", "cube.stl", CUBE)))
    assert latin1.status_code == 422
    assert latin1.json()["errors"][0]["message"] == "must be UTF-8 text"
    long = _post(site, _multipart(("units", None, b"m" * 5000), ("file", "cube.stl", CUBE)))
    assert long.status_code == 422
    for answer in (missing, twice, furlong, latin1, long):
        assert answer.headers["content-type"].startswith("application/problem+json")


def test_nothing_is_kept_of_a_refused_upload(site: Site) -> None:
    empty = _post(site, _multipart(("file", "empty.stl", (DATA / "empty.stl").read_bytes())))
    assert empty.status_code == 422
    assert empty.json()["reason"]
    sha = hashlib.sha256((DATA / "empty.stl").read_bytes()).hexdigest()
    assert not site.core.models.exists(sha)
