"""Documents' files in storage follow their rows: deleting a document or its user removes them."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import STORAGE_BACKENDS, MakeUser, StoredFiles, UploadFile
from tests.factories import TestUser


@pytest.fixture(params=STORAGE_BACKENDS)
def storage_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_deleting_a_user_removes_its_stored_files_and_no_one_elses(
    client: httpx.AsyncClient,
    upload_file: UploadFile,
    stored_files: StoredFiles,
    make_user: MakeUser,
    admin: TestUser,
) -> None:
    leaving, staying = await make_user(), await make_user()
    uploaded = [await upload_file(owner, b"Some notes.\n") for owner in (leaving, leaving, staying)]
    assert [r.status_code for r in uploaded] == [202, 202, 202]
    assert len(await stored_files()) == 3

    r = await client.delete(f"/api/users/{leaving.id}", headers=admin.headers)

    assert r.status_code == 204
    assert await stored_files() == [uploaded[2].json()["id"].replace("-", "")]
