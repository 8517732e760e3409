"""A thin test client for /v1/drive, acting as one caller (one API key)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from tests.conftest import LiveApp


class DriveClient:
    def __init__(self, live: LiveApp, key: str) -> None:
        self.http = live.client
        self.headers = live.auth(key)

    async def create_share(self, name: str = "docs", owner: str = "user") -> httpx.Response:
        body = {"name": name, "owner": owner}
        return await self.http.post("/v1/drive/shares", json=body, headers=self.headers)

    async def new_share(self, name: str = "docs", owner: str = "user") -> str:
        made = await self.create_share(name, owner)
        assert made.status_code == 201, made.text
        return str(made.json()["id"])

    async def get_share(self, share_id: str) -> httpx.Response:
        return await self.http.get(f"/v1/drive/shares/{share_id}", headers=self.headers)

    async def list_shares(self) -> list[dict[str, Any]]:
        listed = await self.http.get("/v1/drive/shares", headers=self.headers)
        assert listed.status_code == 200, listed.text
        return list(listed.json())

    async def set_member(self, share_id: str, user_id: str, role: str) -> httpx.Response:
        url = f"/v1/drive/shares/{share_id}/members/{user_id}"
        return await self.http.put(url, json={"role": role}, headers=self.headers)

    async def remove_member(self, share_id: str, user_id: str) -> httpx.Response:
        url = f"/v1/drive/shares/{share_id}/members/{user_id}"
        return await self.http.delete(url, headers=self.headers)

    async def put(
        self,
        share_id: str,
        path: str,
        content: Any,
        headers: dict[str, str] | None = None,
        **params: Any,
    ) -> httpx.Response:
        return await self.http.put(
            self.file_url(share_id, path),
            content=content,
            params=params,
            headers={**self.headers, **(headers or {})},
        )

    async def get(
        self, share_id: str, path: str, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return await self.http.get(
            self.file_url(share_id, path), headers={**self.headers, **(headers or {})}
        )

    async def head(
        self, share_id: str, path: str, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return await self.http.head(
            self.file_url(share_id, path), headers={**self.headers, **(headers or {})}
        )

    async def delete(self, share_id: str, path: str) -> httpx.Response:
        return await self.http.delete(self.file_url(share_id, path), headers=self.headers)

    async def list_files(self, share_id: str, **params: Any) -> httpx.Response:
        url = f"/v1/drive/shares/{share_id}/files"
        return await self.http.get(url, params=params, headers=self.headers)

    @staticmethod
    def file_url(share_id: str, path: str) -> str:
        return f"/v1/drive/shares/{share_id}/files/{quote(path)}"
