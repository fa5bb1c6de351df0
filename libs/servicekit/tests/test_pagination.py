"""Cursor pages: cursors round-trip, a cursor we did not issue is a 422 problem, the page size is bounded."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from servicekit.pagination import PageSize, decode_cursor, encode_cursor, page_of
from servicekit.problems import install_problem_handlers

IDS = sorted(uuid.uuid4() for _ in range(5))


def listing_app() -> FastAPI:
    """Ids in order, after the cursor's id: the shape every list endpoint of the services has."""
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/items")
    async def items(cursor: str | None = None, limit: PageSize = 2) -> dict[str, object]:
        after = decode_cursor(cursor) if cursor else None
        rows = [item for item in IDS if after is None or item > after][:limit + 1]
        page, next_cursor = page_of(rows, limit, lambda item: item)
        return {"items": [str(item) for item in page], "next_cursor": next_cursor}

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(listing_app()), base_url="http://list") as client:
        yield client


def test_a_cursor_is_url_safe_and_gives_its_id_back() -> None:
    for _ in range(200):
        last_id = uuid.uuid4()
        cursor = encode_cursor(last_id)
        assert "=" not in cursor
        assert httpx.QueryParams({"cursor": cursor}).get("cursor") == cursor
        assert decode_cursor(cursor) == last_id


def test_the_last_page_has_no_cursor() -> None:
    assert page_of(IDS[:2], 2, lambda item: item) == (IDS[:2], None)
    assert page_of(IDS[:3], 2, lambda item: item) == (IDS[:2], encode_cursor(IDS[1]))
    assert page_of([], 2, lambda item: item) == ([], None)


async def test_pages_follow_each_other_without_overlap(client: httpx.AsyncClient) -> None:
    seen: list[str] = []
    cursor: str | None = None
    while True:
        body = (await client.get("/items", params={"cursor": cursor} if cursor else {})).json()
        seen += body["items"]
        if not (cursor := body["next_cursor"]):
            break
    assert seen == [str(item) for item in IDS]


@pytest.mark.parametrize("cursor", ["!!", "%%%", "not a cursor!", encode_cursor(IDS[0])[:-2], "AAAA"])
async def test_a_cursor_not_issued_here_is_a_validation_problem(client: httpx.AsyncClient, cursor: str) -> None:
    response = await client.get("/items", params={"cursor": cursor})

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/validation-error"
    assert response.json()["errors"] == [
        {"field": "query.cursor", "message": "Not a cursor this service issued", "code": "cursor_invalid"}]


@pytest.mark.parametrize(("limit", "status"), [(0, 422), (1, 200), (100, 200), (101, 422)])
async def test_the_page_size_is_one_to_a_hundred(client: httpx.AsyncClient, limit: int, status: int) -> None:
    response = await client.get("/items", params={"limit": limit})

    assert response.status_code == status
    if status == 422:
        assert response.json()["errors"][0]["field"] == "query.limit"
