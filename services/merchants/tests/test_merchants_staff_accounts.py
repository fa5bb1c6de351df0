"""Staff sign-in beyond a password (issue 14 item 4): lockout, TOTP, password rules, forced setup, and the staff
administrator, through the real gateway's password grant wherever a token is the point."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from merchants_testkit import INTERNAL_TOKEN, VERIFY, internal_headers
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from test_merchants_through_gateway import serve, stand_in_mediation

from gateway.main import create_app as create_gateway
from gateway.settings import GatewaySettings
from merchants.credentials import passwords, totp
from merchants.credentials import service as credentials_service
from servicekit.auth import Audience, Role
from servicekit.testing.plugin import Tokens

STAFF = "/v1/regulator/staff"
GOOD_PASSWORD = "Kunlun-road-28"


@pytest.fixture
async def gateway(app: FastAPI, token_signing_key: str) -> AsyncIterator[httpx.AsyncClient]:
    merchants_server, merchants_task, merchants_url = await serve(app)
    others_server, others_task, others_url = await serve(stand_in_mediation())
    settings = GatewaySettings(environment="test", merchants_url=merchants_url, mediation_url=others_url,
                               complaints_url=others_url, jwt_private_key=token_signing_key,
                               internal_token=INTERNAL_TOKEN, otp_secret="test-otp-secret", auth_rate_burst=1000,
                               log_json=False, log_level="WARNING")
    edge = create_gateway(settings)
    try:
        async with LifespanManager(edge), httpx.AsyncClient(transport=httpx.ASGITransport(edge),
                                                            base_url="http://gateway") as client:
            yield client
    finally:
        for server, task in ((merchants_server, merchants_task), (others_server, others_task)):
            server.should_exit = True
            await task


def rfc6238(secret_base32: str, unix_time: float) -> str:
    """The code an authenticator app shows, computed here independently of the service (RFC 6238 / 4226)."""
    key = base64.b32decode(secret_base32 + "=" * (-len(secret_base32) % 8))
    digest = hmac.new(key, struct.pack(">Q", int(unix_time) // 30), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return f"{(struct.unpack('>I', digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


async def make_account(sessionmaker: async_sessionmaker[AsyncSession], *, region: str = "632801",
                       staff_admin: bool = False, password: str = GOOD_PASSWORD) -> str:
    username = unique("admin" if staff_admin else "staff")
    async with sessionmaker() as session:
        await credentials_service.upsert_staff_account(
            session, username=username, password=password, role="regulator", region_code=region,
            display_name="测试科室", staff_admin=staff_admin)
    return username


def admin_token(tokens: Tokens, username: str, region: str) -> dict[str, str]:
    token = tokens.issuer.issue(sub=username, aud=Audience.REGULATOR, roles=[Role.REGULATOR, Role.STAFF_ADMIN],
                                region=region)
    return {"Authorization": f"Bearer {token}"}


async def password_grant(gateway: httpx.AsyncClient, username: str, password: str,
                         code: str | None = None) -> httpx.Response:
    form = {"grant_type": "password", "username": username, "password": password}
    return await gateway.post("/auth/token", data=form | ({"totp": code} if code else {}))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def audit_actions(sessionmaker: async_sessionmaker[AsyncSession], username: str) -> list[str]:
    async with sessionmaker() as session:
        rows = await session.execute(text(
            "SELECT a.action FROM staff_audit a JOIN staff_account s ON s.id = a.account_id"
            " WHERE s.username = :u ORDER BY a.at, a.id"), {"u": username})
        return [row.action for row in rows]


# --- rules ---


def test_the_totp_codes_are_rfc_6238() -> None:
    # RFC 6238 appendix B, SHA-1 key, T = 59 s: 94287082 in 8 digits, so 287082 in 6.
    assert totp.code_for_step(b"12345678901234567890", 59 // 30) == "287082"
    secret = totp.new_secret()
    now = time.time()
    assert totp.code_for_step(secret, totp.step_at(now)) == rfc6238(totp.base32(secret), now)
    uri = totp.provisioning_uri(secret, "zhang.wei")
    assert uri.startswith("otpauth://totp/ODR%2012315:zhang.wei?")
    assert f"secret={totp.base32(secret)}" in uri


@pytest.mark.parametrize(("password", "broken"), [
    ("Short-1a", {"password_too_short"}),
    ("kunlun-road-zhang.wei-28", {"password_contains_username"}),
    ("Password1234", {"password_common"}),
    ("onlylowercaseletters", {"password_too_few_classes"}),
    ("lowercase-and-dashes", {"password_too_few_classes"}),
    ("Kunlun-road-28", set()),
    ("昆仑路28号Kunlun", set()),
])
def test_password_rules(password: str, broken: set[str]) -> None:
    errors = passwords.rule_errors(password, username="zhang.wei", field="body.new_password")
    assert {error["code"] for error in errors} == broken


def test_temporary_passwords_meet_the_rules_and_differ() -> None:
    issued = {passwords.temporary_password() for _ in range(20)}
    assert len(issued) == 20
    assert all(not passwords.rule_errors(password, username="", field="") for password in issued)


# --- lockout ---


async def test_five_failures_lock_the_account_and_the_answer_reveals_nothing(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    username = await make_account(sessionmaker)
    grant = {"grant_type": "password", "username": username, "password": GOOD_PASSWORD}
    for _ in range(5):
        wrong = await client.post(VERIFY, json={**grant, "password": "Wrong-password-1"}, headers=internal_headers())
        assert wrong.status_code == 401
    locked = await client.post(VERIFY, json=grant, headers=internal_headers())
    unknown = await client.post(VERIFY, json={**grant, "username": unique("nobody")}, headers=internal_headers())
    assert locked.status_code == unknown.status_code == 401
    assert {**locked.json(), "instance": None} == {**unknown.json(), "instance": None}
    assert await audit_actions(sessionmaker, username) == ["locked"]

    # A quarter of an hour later (moved back in the database, where the lock is kept for every process):
    async with sessionmaker() as session, session.begin():
        await session.execute(text("UPDATE staff_account SET locked_until = now() - interval '1 second'"
                                   " WHERE username = :u"), {"u": username})
    assert (await client.post(VERIFY, json=grant, headers=internal_headers())).status_code == 200


async def test_failures_count_only_within_the_window_and_a_success_clears_them(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    username = await make_account(sessionmaker)
    grant = {"grant_type": "password", "username": username, "password": GOOD_PASSWORD}
    wrong = {**grant, "password": "Wrong-password-1"}
    for _ in range(4):
        assert (await client.post(VERIFY, json=wrong, headers=internal_headers())).status_code == 401
    async with sessionmaker() as session, session.begin():
        await session.execute(text("UPDATE staff_account SET failure_window_started_at = now() - interval '16 min'"
                                   " WHERE username = :u"), {"u": username})
    assert (await client.post(VERIFY, json=wrong, headers=internal_headers())).status_code == 401
    assert (await client.post(VERIFY, json=grant, headers=internal_headers())).status_code == 200
    for _ in range(4):
        assert (await client.post(VERIFY, json=wrong, headers=internal_headers())).status_code == 401
    assert (await client.post(VERIFY, json=grant, headers=internal_headers())).status_code == 200
    async with sessionmaker() as session:
        attempts = await session.scalar(text("SELECT failed_attempts FROM staff_account WHERE username = :u"),
                                        {"u": username})
    assert attempts == 0


# --- TOTP through the gateway ---


async def enrol(gateway: httpx.AsyncClient, token: str, at: float | None = None) -> str:
    """Enrols and confirms with the code of the step holding `at` (now by default)."""
    started = await gateway.post(f"{STAFF}/me/totp", headers=bearer(token))
    assert started.status_code == 201, started.text
    secret: str = started.json()["secret"]
    confirmed = await gateway.post(f"{STAFF}/me/totp/confirm", headers=bearer(token),
                                   json={"code": rfc6238(secret, time.time() if at is None else at)})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["totp_enabled"] is True
    return secret


async def test_once_enrolled_the_password_grant_needs_the_code_and_a_code_is_never_used_twice(
    gateway: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    username = await make_account(sessionmaker)
    signed_in = await password_grant(gateway, username, GOOD_PASSWORD)
    assert signed_in.status_code == 200, signed_in.text
    token = signed_in.json()["access_token"]
    wrong_first = await gateway.post(f"{STAFF}/me/totp/confirm", headers=bearer(token), json={"code": "123456"})
    assert wrong_first.status_code == 409
    # The confirming code's step is fixed up front: a step boundary crossed mid-test must not make "spent" a new code.
    confirmed_at = time.time()
    secret = await enrol(gateway, token, at=confirmed_at)
    assert (await gateway.post(f"{STAFF}/me/totp", headers=bearer(token))).status_code == 409
    async with sessionmaker() as session:
        stored = await session.scalar(text("SELECT totp_secret_enc FROM staff_account WHERE username = :u"),
                                      {"u": username})
    assert stored is not None
    assert secret.encode() not in stored
    assert base64.b32decode(secret + "=" * (-len(secret) % 8)).hex().encode() not in stored

    without = await password_grant(gateway, username, GOOD_PASSWORD)
    assert without.status_code == 403
    assert without.json()["type"] == "/problems/mfa-required"
    assert "access_token" not in without.json()
    # The code just used to confirm is spent; the next step's code (one step of drift is allowed) works once.
    spent = await password_grant(gateway, username, GOOD_PASSWORD, rfc6238(secret, confirmed_at))
    assert spent.status_code == 400
    assert spent.json()["error"] == "invalid_grant"
    following = rfc6238(secret, time.time() + 30)
    assert (await password_grant(gateway, username, GOOD_PASSWORD, following)).status_code == 200
    replayed = await password_grant(gateway, username, GOOD_PASSWORD, following)
    assert replayed.status_code == 400
    wrong_password = await password_grant(gateway, username, "Wrong-password-1", rfc6238(secret, time.time() + 30))
    assert wrong_password.status_code == 400


async def test_a_region_requiring_totp_makes_its_accounts_enrol_at_sign_in(
    gateway: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], tokens: Tokens
) -> None:
    # Dulan (632822) below Haixi: a region of its own, so the other tests' accounts are not affected.
    admin = await make_account(sessionmaker, region="632800", staff_admin=True)
    username = await make_account(sessionmaker, region="632822")
    assert (await password_grant(gateway, username, GOOD_PASSWORD)).status_code == 200
    policy = await gateway.put("/v1/regulator/staff-policies/632800", json={"totp_required": True},
                               headers=admin_token(tokens, admin, "632800"))
    try:
        assert policy.status_code == 200, policy.text
        below = await gateway.get("/v1/regulator/staff-policies/632822", headers=admin_token(tokens, admin, "632800"))
        assert below.json() == {"region_code": "632822", "totp_required": False, "effective_totp_required": True,
                                "required_by": "632800"}

        setup = await password_grant(gateway, username, GOOD_PASSWORD)
        assert setup.status_code == 403
        problem = setup.json()
        assert problem["type"] == "/problems/account-setup-required"
        assert problem["setup_required"] == ["totp_enrolment"]
        setup_token = problem["setup_token"]
        # The setup token opens nothing but the account's own setup.
        for method, path in (("GET", STAFF), ("GET", "/v1/regulator/stations"), ("GET", "/v1/merchant/cases")):
            refused = await gateway.request(method, path, headers=bearer(setup_token))
            assert refused.status_code == 403, path
        me = await gateway.get(f"{STAFF}/me", headers=bearer(setup_token))
        assert me.json()["setup_required"] == ["totp_enrolment"]
        secret = await enrol(gateway, setup_token)
        done = await password_grant(gateway, username, GOOD_PASSWORD, rfc6238(secret, time.time() + 30))
        assert done.status_code == 200, done.text
        assert await audit_actions(sessionmaker, username) == ["totp_enrolled"]
    finally:
        await gateway.put("/v1/regulator/staff-policies/632800", json={"totp_required": False},
                          headers=admin_token(tokens, admin, "632800"))


# --- the administrator ---


async def test_an_administrator_creates_an_account_that_must_change_its_password(
    gateway: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], tokens: Tokens
) -> None:
    admin = await make_account(sessionmaker, region="632801", staff_admin=True)
    username = unique("zhang.wei")
    created = await gateway.post(STAFF, headers=admin_token(tokens, admin, "632801"), json={
        "username": username, "display_name": "张伟", "role": "mediator", "region_code": "632801"})
    assert created.status_code == 201, created.text
    assert created.headers["cache-control"] == "no-store"
    account, temporary = created.json()["account"], created.json()["temporary_password"]
    assert (account["display_name"], account["must_change_password"], account["totp_enabled"]) == ("张伟", True, False)
    async with sessionmaker() as session:
        clear_name = await session.scalar(text("SELECT display_name FROM staff_account WHERE username = :u"),
                                          {"u": username})
    assert clear_name == "张*"
    assert (await gateway.post(STAFF, headers=admin_token(tokens, admin, "632801"), json={
        "username": username, "display_name": "张伟", "role": "mediator", "region_code": "632801"})).status_code == 409

    setup = await password_grant(gateway, username, temporary)
    assert setup.status_code == 403
    assert setup.json()["setup_required"] == ["password_change"]
    setup_token = setup.json()["setup_token"]
    change = f"{STAFF}/me/password"
    weak = await gateway.post(change, headers=bearer(setup_token),
                              json={"current_password": temporary, "new_password": f"{username}-Aa1"})
    assert weak.status_code == 422
    assert "password_contains_username" in {error["code"] for error in weak.json()["errors"]}
    not_me = await gateway.post(change, headers=bearer(setup_token),
                                json={"current_password": "Wrong-password-1", "new_password": GOOD_PASSWORD})
    assert not_me.status_code == 403
    assert (await gateway.post(change, headers=bearer(setup_token),
                               json={"current_password": temporary, "new_password": GOOD_PASSWORD})).status_code == 204
    assert (await password_grant(gateway, username, temporary)).status_code == 400
    signed_in = await password_grant(gateway, username, GOOD_PASSWORD)
    assert signed_in.status_code == 200, signed_in.text
    assert await audit_actions(sessionmaker, username) == ["created", "password_changed"]


async def test_an_administrator_acts_only_on_its_regions(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], tokens: Tokens
) -> None:
    golmud_admin = await make_account(sessionmaker, region="632801", staff_admin=True)
    delingha_account = await make_account(sessionmaker, region="632802")
    golmud = admin_token(tokens, golmud_admin, "632801")
    body: dict[str, Any] = {"username": unique("li.na"), "display_name": "李娜", "role": "regulator",
                            "region_code": "632802"}
    assert (await client.post(STAFF, headers=golmud, json=body)).status_code == 403
    async with sessionmaker() as session:
        foreign_id = await session.scalar(text("SELECT id FROM staff_account WHERE username = :u"),
                                          {"u": delingha_account})
    for path in (f"{STAFF}/{foreign_id}", f"{STAFF}/{foreign_id}/reset"):
        answer = await (client.get(path, headers=golmud) if path.endswith(str(foreign_id))
                        else client.post(path, headers=golmud))
        assert answer.status_code == 404
    assert (await client.post(f"{STAFF}/{foreign_id}/disable", headers=golmud, json={})).status_code == 404
    assert (await client.get(STAFF, params={"region": "632800"}, headers=golmud)).status_code == 404
    assert (await client.get("/v1/regulator/staff-policies/632802", headers=golmud)).status_code == 404
    listed = (await client.get(STAFF, headers=golmud, params={"limit": 100})).json()
    assert all(item["region_code"].startswith("632801") for item in listed["items"])

    plain_regulator = {"Authorization": f"Bearer {tokens.regulator('632801', sub=delingha_account)}"}
    assert (await client.get(STAFF, headers=plain_regulator)).status_code == 403
    # A token claiming the role for an account that is not (or no longer) an administrator acts no more.
    assert (await client.get(STAFF, headers=admin_token(tokens, delingha_account, "632802"))).status_code == 403
    admin_body = {**body, "region_code": "632801", "role": "mediator", "staff_admin": True}
    assert (await client.post(STAFF, headers=golmud, json=admin_body)).status_code == 422
    async with sessionmaker() as session:
        own_id = await session.scalar(text("SELECT id FROM staff_account WHERE username = :u"), {"u": golmud_admin})
    assert (await client.post(f"{STAFF}/{own_id}/disable", headers=golmud, json={})).status_code == 409


async def test_a_disabled_account_is_refused_and_a_reset_starts_it_afresh(
    gateway: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], tokens: Tokens
) -> None:
    admin = await make_account(sessionmaker, region="632800", staff_admin=True)
    headers = admin_token(tokens, admin, "632800")
    username = await make_account(sessionmaker, region="632802")
    token = (await password_grant(gateway, username, GOOD_PASSWORD)).json()["access_token"]
    secret = await enrol(gateway, token)
    async with sessionmaker() as session:
        account_id = await session.scalar(text("SELECT id FROM staff_account WHERE username = :u"), {"u": username})

    disabled = await gateway.post(f"{STAFF}/{account_id}/disable", headers=headers, json={"reason": "调离"})
    assert disabled.status_code == 200
    assert disabled.json()["disabled"] is True
    assert (await gateway.post(f"{STAFF}/{account_id}/disable", headers=headers, json={})).status_code == 409
    refused = await password_grant(gateway, username, GOOD_PASSWORD, rfc6238(secret, time.time() + 30))
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"
    assert (await gateway.post(f"{STAFF}/{account_id}/enable", headers=headers)).json()["disabled"] is False
    assert (await password_grant(gateway, username, GOOD_PASSWORD,
                                 rfc6238(secret, time.time() + 30))).status_code == 200

    reset = await gateway.post(f"{STAFF}/{account_id}/reset", headers=headers)
    assert reset.status_code == 200
    assert (reset.json()["account"]["totp_enabled"], reset.json()["account"]["must_change_password"]) == (False, True)
    assert (await password_grant(gateway, username, GOOD_PASSWORD)).status_code == 400
    again = await password_grant(gateway, username, reset.json()["temporary_password"])
    assert again.status_code == 403
    assert again.json()["setup_required"] == ["password_change"]
    assert await audit_actions(sessionmaker, username) == ["totp_enrolled", "disabled", "enabled", "reset"]
    trail = await gateway.get("/v1/regulator/staff-audit", params={"region": "632802"}, headers=headers)
    assert trail.status_code == 200, trail.text
    mine = [(item["action"], item["actor"]) for item in trail.json()["items"] if item["username"] == username]
    assert mine == [("reset", admin), ("enabled", admin), ("disabled", admin), ("totp_enrolled", username)]
    assert [item["detail"] for item in trail.json()["items"] if item["username"] == username][2] == {"reason": "调离"}
    golmud_only = admin_token(tokens, await make_account(sessionmaker, region="632801", staff_admin=True), "632801")
    assert (await gateway.get("/v1/regulator/staff-audit", params={"region": "632802"},
                              headers=golmud_only)).status_code == 404


async def test_the_lockout_applies_through_the_gateway_to_every_row_of_the_table(
    gateway: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    # Station staff (and the enterprise portal users sharing the table) are counted the same way.
    username = await make_account(sessionmaker)
    async with sessionmaker() as session, session.begin():
        await session.execute(text("UPDATE staff_account SET role = 'station_staff' WHERE username = :u"),
                              {"u": username})
    for _ in range(5):
        assert (await password_grant(gateway, username, "Wrong-password-1")).status_code == 400
    locked = await password_grant(gateway, username, GOOD_PASSWORD)
    assert locked.status_code == 400
    assert locked.json()["error"] == "invalid_grant"
    async with sessionmaker() as session:
        until = await session.scalar(text("SELECT locked_until - now() FROM staff_account WHERE username = :u"),
                                     {"u": username})
    assert timedelta(minutes=14) < until <= timedelta(minutes=15)
