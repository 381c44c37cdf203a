"""The S3 calls that abort incomplete multipart uploads: signed as AWS documents it (its own example
request, and as botocore signs the two calls we make), sent to the bucket obstore is configured for."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from agent_service.storage import StorageError
from agent_service.storage.multipart import (
    EMPTY_SHA256,
    Bucket,
    Credentials,
    bucket_of,
    canonical_query,
    sign,
)

EXAMPLE = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")


def test_the_signature_of_the_aws_documentation_example() -> None:
    """docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html, "GET Object"."""
    headers = sign(
        "GET",
        httpx.URL("https://examplebucket.s3.amazonaws.com/test.txt"),
        {"Range": "bytes=0-9"},
        credentials=EXAMPLE,
        region="us-east-1",
        now=datetime(2013, 5, 24, tzinfo=UTC),
    )

    assert headers["authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )
    assert headers["x-amz-date"] == "20130524T000000Z"
    assert headers["x-amz-content-sha256"] == EMPTY_SHA256
    assert headers["host"] == "examplebucket.s3.amazonaws.com"


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("GET", "http://127.0.0.1:9000/bucket/?prefix=files%2Fdocuments%2Fab12&uploads="),
        ("DELETE", "https://s3.eu-west-3.amazonaws.com/b/files/documents/ab12?uploadId=2~x.Y-z_"),
    ],
    ids=["list", "abort"],
)
@pytest.mark.parametrize("token", [None, "session-token"])
def test_the_two_calls_are_signed_as_botocore_signs_them(
    method: str, url: str, token: str | None
) -> None:
    theirs = AWSRequest(method=method, url=url, headers={"X-Amz-Content-SHA256": EMPTY_SHA256})
    S3SigV4Auth(BotoCredentials("key-id", "secret", token), "s3", "eu-west-3").add_auth(theirs)
    when = datetime.strptime(theirs.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)

    ours = sign(
        method,
        httpx.URL(url),
        {},
        credentials=Credentials("key-id", "secret", token),
        region="eu-west-3",
        now=when,
    )

    assert ours["authorization"] == theirs.headers["Authorization"]
    assert ours.get("x-amz-security-token") == token


def test_the_query_is_sorted_and_encoded_once() -> None:
    assert canonical_query([("uploads", ""), ("prefix", "a b/c~d")]) == (
        "prefix=a%20b%2Fc~d&uploads="
    )


def test_the_bucket_path_style_from_the_storage_url() -> None:
    config = {
        "bucket": "files",
        "endpoint": "http://minio:9000/",
        "region": "eu-west-3",
        "access_key_id": "key-id",
        "secret_access_key": "secret",
    }
    assert bucket_of(config) == Bucket(
        "http://minio:9000", "/files/", "eu-west-3", Credentials("key-id", "secret")
    )
    assert not bucket_of(config, {"allow_invalid_certificates": "true"}).verify


def test_the_bucket_from_the_environment_as_obstore_reads_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "env-key",
        "AWS_SECRET_ACCESS_KEY": "env-secret",
        "AWS_SESSION_TOKEN": "env-token",
        "AWS_DEFAULT_REGION": "ap-south-1",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)

    assert bucket_of({"bucket": "files"}) == Bucket(
        "https://s3.ap-south-1.amazonaws.com",
        "/files/",
        "ap-south-1",
        Credentials("env-key", "env-secret", "env-token"),
    )
    virtual = bucket_of({"bucket": "files", "virtual_hosted_style_request": "true"})
    assert (virtual.base, virtual.path) == ("https://files.s3.ap-south-1.amazonaws.com", "/")
    assert bucket_of({"bucket": "files", "skip_signature": "true"}).credentials is None


def test_without_static_keys_the_bucket_says_to_use_a_lifecycle_rule(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)

    with pytest.raises(StorageError) as refused:
        bucket_of({"bucket": "files", "access_key_id": "key-id"})
    assert "lifecycle rule" in str(refused.value)
