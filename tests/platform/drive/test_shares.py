"""Shares and members: who sees, reads, writes and manages what (SQLite and PostgreSQL)."""

from __future__ import annotations

from tests.conftest import LiveApp
from tests.platform.drive.client import DriveClient
from tests.platform.test_auth import assert_problem
from tests.support.members import new_member_of_tenant_a


async def test_creator_owns_a_user_share_and_sees_it_listed(live: LiveApp) -> None:
    t = live.tenancy
    member = DriveClient(live, t.member_a)
    made = await member.create_share("chapters")
    assert made.status_code == 201
    share = made.json()
    assert share["owner"] == "user" and share["owner_user_id"] == t.member_a_user
    assert share["role"] == "owner" and share["tenant_id"] == t.tenant_a
    assert [s["id"] for s in await member.list_shares()] == [share["id"]]


async def test_non_member_of_same_tenant_gets_404(live: LiveApp) -> None:
    share_id = await DriveClient(live, live.tenancy.member_a).new_share()
    _, stranger_key = await new_member_of_tenant_a(live)
    stranger = DriveClient(live, stranger_key)
    assert_problem(await stranger.get_share(share_id), 404, "unknown_share")
    assert_problem(await stranger.get(share_id, "a.txt"), 404, "unknown_share")
    assert_problem(await stranger.put(share_id, "a.txt", b"x"), 404, "unknown_share")
    assert await stranger.list_shares() == []


async def test_other_tenant_gets_404_even_for_its_admin_role_peers(live: LiveApp) -> None:
    share_id = await DriveClient(live, live.tenancy.admin_a).new_share(owner="tenant")
    other = DriveClient(live, live.tenancy.member_b)
    assert_problem(await other.get_share(share_id), 404, "unknown_share")
    assert_problem(await other.list_files(share_id), 404, "unknown_share")
    assert_problem(await other.put(share_id, "x.txt", b"x"), 404, "unknown_share")
    assert_problem(await other.delete(share_id, "x.txt"), 404, "unknown_share")
    response = await other.set_member(share_id, live.tenancy.member_a_user, "write")
    assert_problem(response, 404, "unknown_share")


async def test_read_member_reads_but_cannot_write_delete_or_manage(live: LiveApp) -> None:
    owner = DriveClient(live, live.tenancy.member_a)
    share_id = await owner.new_share()
    assert (await owner.put(share_id, "notes.txt", b"hello")).status_code == 201
    reader_id, reader_key = await new_member_of_tenant_a(live)
    assert (await owner.set_member(share_id, reader_id, "read")).status_code == 200
    reader = DriveClient(live, reader_key)
    assert (await reader.get(share_id, "notes.txt")).content == b"hello"
    assert (await reader.list_files(share_id)).json()["items"][0]["path"] == "notes.txt"
    assert (await reader.get_share(share_id)).json()["role"] == "read"
    assert_problem(await reader.put(share_id, "notes.txt", b"bye"), 403, "forbidden")
    assert_problem(await reader.delete(share_id, "notes.txt"), 403, "forbidden")
    assert_problem(await reader.set_member(share_id, reader_id, "owner"), 403, "forbidden")
    assert (await owner.get(share_id, "notes.txt")).content == b"hello"


async def test_write_member_uploads_and_deletes(live: LiveApp) -> None:
    owner = DriveClient(live, live.tenancy.member_a)
    share_id = await owner.new_share()
    writer_id, writer_key = await new_member_of_tenant_a(live)
    await owner.set_member(share_id, writer_id, "write")
    writer = DriveClient(live, writer_key)
    assert (await writer.put(share_id, "take-1.wav", b"RIFF")).status_code == 201
    assert (await writer.delete(share_id, "take-1.wav")).status_code == 204
    assert_problem(
        await writer.remove_member(share_id, live.tenancy.member_a_user), 403, "forbidden"
    )


async def test_removing_a_member_revokes_access(live: LiveApp) -> None:
    owner = DriveClient(live, live.tenancy.member_a)
    share_id = await owner.new_share()
    user_id, key = await new_member_of_tenant_a(live)
    await owner.set_member(share_id, user_id, "write")
    assert (await DriveClient(live, key).get_share(share_id)).status_code == 200
    assert (await owner.remove_member(share_id, user_id)).status_code == 204
    assert_problem(await DriveClient(live, key).get_share(share_id), 404, "unknown_share")
    assert_problem(await owner.remove_member(share_id, user_id), 404, "not_found")


async def test_tenant_admin_manages_every_share_in_the_tenant(live: LiveApp) -> None:
    share_id = await DriveClient(live, live.tenancy.member_a).new_share()
    admin = DriveClient(live, live.tenancy.admin_a)
    assert (await admin.get_share(share_id)).json()["role"] == "owner"
    assert share_id in [s["id"] for s in await admin.list_shares()]
    user_id, _ = await new_member_of_tenant_a(live)
    set_role = await admin.set_member(share_id, user_id, "read")
    assert set_role.status_code == 200 and set_role.json()["role"] == "read"
    members = await live.client.get(
        f"/v1/drive/shares/{share_id}/members", headers=live.auth(live.tenancy.admin_a)
    )
    assert {m["user_id"]: m["role"] for m in members.json()} == {
        live.tenancy.member_a_user: "owner",
        user_id: "read",
    }


async def test_only_tenant_admins_create_tenant_owned_shares(live: LiveApp) -> None:
    member = DriveClient(live, live.tenancy.member_a)
    assert_problem(await member.create_share(owner="tenant"), 403, "forbidden")
    made = await DriveClient(live, live.tenancy.admin_a).create_share(owner="tenant")
    assert made.status_code == 201
    assert made.json()["owner"] == "tenant" and made.json()["owner_user_id"] is None
    assert_problem(await member.get_share(made.json()["id"]), 404, "unknown_share")


async def test_share_owner_membership_cannot_be_lowered_or_removed(live: LiveApp) -> None:
    owner_id = live.tenancy.member_a_user
    share_id = await DriveClient(live, live.tenancy.member_a).new_share()
    admin = DriveClient(live, live.tenancy.admin_a)
    assert_problem(
        await admin.set_member(share_id, owner_id, "read"), 409, "owner_membership_fixed"
    )
    assert_problem(await admin.remove_member(share_id, owner_id), 409, "owner_membership_fixed")


async def test_members_must_belong_to_the_share_tenant(live: LiveApp) -> None:
    owner = DriveClient(live, live.tenancy.member_a)
    share_id = await owner.new_share()
    b_user = (await live.client.get("/v1/auth/me", headers=live.auth(live.tenancy.member_b))).json()
    assert_problem(await owner.set_member(share_id, b_user["user_id"], "read"), 404, "not_found")
    assert_problem(await owner.set_member(share_id, "usr_nope", "read"), 404, "not_found")
