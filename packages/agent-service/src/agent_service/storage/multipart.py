"""The multipart uploads a failed put leaves on an S3-compatible store, found and aborted later.

obstore aborts the multipart upload of a put that fails, but when the store itself is what failed
the abort fails too, and obstore does not say which upload it was. Its parts stay (and are billed)
until the bucket's lifecycle rule for incomplete uploads ends them, if the bucket has one. Once the
store answers again, `abort_uploads` lists the incomplete uploads of the key and aborts them: two
S3 calls obstore does not offer, signed here (AWS Signature Version 4, static keys only).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote
from xml.etree import ElementTree

import httpx

from agent_service.storage.base import StorageError, StorageUnavailable

logger = logging.getLogger("agent_service.storage")

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
TIMEOUT = httpx.Timeout(10.0, connect=5.0)


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None


@dataclass(frozen=True)
class Bucket:
    """Where the bucket's objects are reached: `base` + `path` + the key."""

    base: str  # scheme and host
    path: str  # "/bucket/" (path style) or "/" (virtual-hosted style)
    region: str
    credentials: Credentials | None  # None: requests are sent unsigned (`skip_signature`)
    verify: bool = True  # False with the client option `allow_invalid_certificates`


def bucket_of(config: dict[str, Any], client: dict[str, Any] | None = None) -> Bucket:
    """The bucket of an obstore S3 configuration (and client options), completed from the `AWS_*`
    variables as obstore does; `StorageError` when its credentials are not static keys (an
    instance role...)."""

    def setting(name: str, *variables: str) -> str | None:
        value = config.get(name)
        return str(value) if value else next(filter(None, map(os.environ.get, variables)), None)

    region = setting("region", "AWS_REGION", "AWS_DEFAULT_REGION") or "us-east-1"
    endpoint = setting("endpoint", "AWS_ENDPOINT_URL", "AWS_ENDPOINT")
    bucket = str(config["bucket"])
    verify = str((client or {}).get("allow_invalid_certificates", "")).lower() != "true"
    if str(config.get("virtual_hosted_style_request", "")).lower() == "true":
        base, path = endpoint or f"https://{bucket}.s3.{region}.amazonaws.com", "/"
    else:
        base, path = endpoint or f"https://s3.{region}.amazonaws.com", f"/{bucket}/"
    if str(config.get("skip_signature", "")).lower() == "true":
        return Bucket(base.rstrip("/"), path, region, None, verify)
    key_id = setting("access_key_id", "AWS_ACCESS_KEY_ID")
    secret = setting("secret_access_key", "AWS_SECRET_ACCESS_KEY")
    if not key_id or not secret:
        raise StorageError(
            "Incomplete multipart uploads can be aborted only with static access keys "
            "(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY); give the bucket a lifecycle rule "
            "that aborts incomplete multipart uploads instead."
        )
    token = setting("session_token", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
    return Bucket(base.rstrip("/"), path, region, Credentials(key_id, secret, token), verify)


def _encode(text: str) -> str:
    return quote(text, safe="-_.~")


def canonical_query(params: list[tuple[str, str]]) -> str:
    return "&".join(f"{k}={v}" for k, v in sorted((_encode(k), _encode(v)) for k, v in params))


def sign(
    method: str,
    url: httpx.URL,
    headers: dict[str, str],
    *,
    credentials: Credentials,
    region: str,
    now: datetime,
    payload_hash: str = EMPTY_SHA256,
) -> dict[str, str]:
    """`headers` with the ones Signature Version 4 adds (for service `s3`) to this request."""
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    signed = {k.lower(): v.strip() for k, v in headers.items()}
    signed |= {"host": url.netloc.decode(), "x-amz-content-sha256": payload_hash}
    signed["x-amz-date"] = stamp
    if credentials.session_token:
        signed["x-amz-security-token"] = credentials.session_token
    names = sorted(signed)
    query = canonical_query(httpx.QueryParams(url.query.decode()).multi_items())
    request = "\n".join(
        [
            method,
            url.raw_path.decode().partition("?")[0],
            query,
            "".join(f"{name}:{signed[name]}\n" for name in names),
            ";".join(names),
            payload_hash,
        ]
    )
    scope = f"{stamp[:8]}/{region}/s3/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(request.encode()).hexdigest()]
    )
    key = f"AWS4{credentials.secret_access_key}".encode()
    for part in (stamp[:8], region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    signed["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={credentials.access_key_id}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return signed


async def abort_uploads(bucket: Bucket, path: str) -> int:
    """Abort every incomplete multipart upload of the object at `path` (its full name in the
    bucket); the number aborted. `StorageUnavailable` while the store does not answer."""
    async with httpx.AsyncClient(timeout=TIMEOUT, verify=bucket.verify) as http:
        listed = await _call(http, bucket, "GET", "", [("prefix", path), ("uploads", "")])
        aborted = 0
        for upload in ElementTree.fromstring(listed.content).iterfind("{*}Upload"):  # noqa: S314 - our store's answer
            if upload.findtext("{*}Key") != path:
                continue  # another object whose name starts with this one's
            upload_id = upload.findtext("{*}UploadId") or ""
            await _call(http, bucket, "DELETE", path, [("uploadId", upload_id)])
            aborted += 1
    if aborted:
        logger.info("object storage: aborted %d incomplete upload(s) of %r", aborted, path)
    return aborted


async def _call(
    http: httpx.AsyncClient, bucket: Bucket, method: str, path: str, params: list[tuple[str, str]]
) -> httpx.Response:
    url = httpx.URL(
        f"{bucket.base}{bucket.path}{quote(path, safe='/-_.~')}?{canonical_query(params)}"
    )
    headers: dict[str, str] = {}
    if bucket.credentials is not None:
        headers = sign(
            method, url, {}, credentials=bucket.credentials, region=bucket.region, now=_now()
        )
    try:
        response = await http.request(method, url, headers=headers)
    except httpx.TransportError as exc:
        raise StorageUnavailable("abort") from exc
    if response.status_code >= 500:
        raise StorageUnavailable("abort")
    if response.status_code >= 400 and not _no_such_upload(response):
        raise StorageError(
            f"The object store refused to {'list' if method == 'GET' else 'abort'} incomplete "
            f"uploads: HTTP {response.status_code} {response.text[:300]}"
        )
    return response


def _no_such_upload(response: httpx.Response) -> bool:
    """An abort of an upload already ended (by obstore's own abort, or a lifecycle rule)."""
    return response.status_code == 404 and b"NoSuchUpload" in response.content


def _now() -> datetime:
    return datetime.now(UTC)
