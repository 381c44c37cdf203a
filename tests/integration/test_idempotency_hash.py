"""The request fingerprint: the same upload is the same request whatever its boundary and chunks."""

from __future__ import annotations

from agent_service.idempotency.middleware import BodyHasher


def scope(content_type: str, path: str = "/api/documents") -> dict:
    return {
        "method": "POST",
        "path": path,
        "query_string": b"",
        "headers": [(b"content-type", content_type.encode())],
    }


def multipart(boundary: str, content: bytes) -> bytes:
    return (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\n'
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )


def digest(content_type: str, chunks: list[bytes], path: str = "/api/documents") -> str:
    hasher = BodyHasher(scope(content_type, path))
    for chunk in chunks:
        hasher.update(chunk)
    return hasher.hexdigest()


def test_a_new_boundary_and_any_chunking_give_the_same_fingerprint() -> None:
    first = multipart("aaaa1111", b"hello world")
    retry = multipart("bbbb2222", b"hello world")
    reference = digest("multipart/form-data; boundary=aaaa1111", [first])

    for cut in range(1, len(retry)):  # the boundary split between two chunks, at every place
        chunks = [retry[:cut], retry[cut:]]
        assert digest('multipart/form-data; boundary="bbbb2222"', chunks) == reference


def test_another_file_route_or_json_body_differs() -> None:
    upload = digest("multipart/form-data; boundary=x1", [multipart("x1", b"hello world")])

    assert digest("multipart/form-data; boundary=x1", [multipart("x1", b"hello world!")]) != upload
    other_route = digest(
        "multipart/form-data; boundary=x1", [multipart("x1", b"hello world")], "/api/tasks"
    )
    assert other_route != upload
    assert digest("application/json", [b'{"a": 1}']) == digest(
        "application/json", [b'{"a"', b": 1}"]
    )
    assert digest("application/json", [b'{"a": 1}']) != digest("application/json", [b'{"a": 2}'])


def test_only_a_multipart_body_loses_its_boundary() -> None:
    # a body of another type that names a boundary keeps every byte in its fingerprint
    assert digest("text/plain; boundary=ab", [b"ab1"]) != digest("text/plain; boundary=ab", [b"1"])
    other_header = {**scope("text/plain"), "headers": [(b"x-note", b"multipart/x; boundary=ab")]}
    hashers = [BodyHasher(other_header), BodyHasher(other_header)]
    hashers[0].update(b"ab1")
    hashers[1].update(b"1")
    assert hashers[0].hexdigest() != hashers[1].hexdigest()
