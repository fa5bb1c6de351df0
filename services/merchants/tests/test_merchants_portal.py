"""Enterprise portal accounts: the first admin on approval, activation, colleagues, sign-in claims, role limits and
the active check that stops a disabled person or a suspended enterprise."""

from __future__ import annotations

from typing import Any

import httpx
from merchants_testkit import VERIFY, application_body, internal_headers, random_address
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from servicekit.auth import Audience, Role, TokenIssuer
from servicekit.pii import mask_name
from servicekit.testing.plugin import Tokens

APPLY = "/v1/public/odr-applications"
REVIEW = "/v1/regulator/odr-applications"
ACTIVATE = "/v1/public/portal-activation"
USERS = "/v1/merchant/portal-users"
PASSWORD = "Kunlun2026goji"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_problem(response: httpx.Response, status: int, slug: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == f"/problems/{slug}"


async def approved_application(client: httpx.AsyncClient, tokens: Tokens) -> tuple[dict[str, Any], dict[str, Any]]:
    """Apply, approve as the Golmud regulator, and use the one-time link: (the application body, the handover)."""
    body = application_body()
    created = (await client.post(APPLY, json=body, headers={"X-Forwarded-For": random_address()})).json()
    approved = await client.post(f"{REVIEW}/{created['id']}/approve", headers=bearer(tokens.regulator("632801")))
    assert approved.status_code == 200, approved.text
    status = (await client.get(f"{APPLY}/{created['id']}/status",
                               headers={"X-Application-Token": created["status_token"]})).json()
    handed = await client.post(status["credentials"]["url"],
                               json={"retrieval_token": status["credentials"]["retrieval_token"]})
    assert handed.status_code == 200, handed.text
    return body, handed.json()


async def sign_in(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post(VERIFY, headers=internal_headers(),
                             json={"grant_type": "password", "username": username, "password": password})


async def portal_token(client: httpx.AsyncClient, token_issuer: TokenIssuer, username: str, password: str) -> str:
    """A token minted from the claims the credential check answers, as the gateway mints it."""
    verified = await sign_in(client, username, password)
    assert verified.status_code == 200, verified.text
    claims = verified.json()
    return token_issuer.issue(sub=claims["sub"], aud=Audience(claims["aud"]), roles=[Role(r) for r in claims["roles"]],
                              merchant_id=claims["merchant_id"], region=claims["region"])


async def is_active(client: httpx.AsyncClient, username: str) -> bool:
    answer = await client.get(f"/internal/v1/principals/portal-users/{username}/active", headers=internal_headers())
    assert answer.status_code == 200
    active: bool = answer.json()["active"]
    return active


async def activate(client: httpx.AsyncClient, username: str, code: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post(ACTIVATE, json={"username": username, "activation_code": code, "password": password},
                             headers={"X-Forwarded-For": random_address()})


async def test_the_contact_becomes_the_first_admin_and_chooses_a_password_with_the_one_time_code(
    client: httpx.AsyncClient, tokens: Tokens, token_issuer: TokenIssuer,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    body, handed = await approved_application(client, tokens)
    admin = handed["portal_admin"]
    username = body["uscc"].lower() + "-admin"
    assert admin["username"] == username
    code = admin["activation_code"]

    assert not await is_active(client, username), "no password yet"
    assert_problem(await sign_in(client, username, code), 401, "unauthenticated")
    assert_problem(await activate(client, username, "AAAA-BBBB-CCCC-DDDD"), 401, "invalid-activation")
    assert_problem(await activate(client, "nobody-here", code), 401, "invalid-activation")
    assert_problem(await activate(client, username, code, password="short1"), 422, "validation-error")
    assert_problem(await activate(client, username, code, password=f"{username}1x"), 422, "validation-error")

    activated = await activate(client, username, code.lower().replace("-", " "))  # read aloud, typed loosely
    assert activated.status_code == 200, activated.text
    assert activated.json() == {"username": username, "status": "active"}
    assert_problem(await activate(client, username, code, password="Another2026pass"), 401, "invalid-activation")

    verified = await sign_in(client, username, PASSWORD)
    assert verified.status_code == 200, verified.text
    assert verified.json() == {"sub": username, "aud": "merchant", "roles": ["enterprise", "enterprise_admin"],
                               "merchant_id": handed["merchant_id"], "region": "632801"}
    assert await is_active(client, username)

    token = await portal_token(client, token_issuer, username, PASSWORD)
    me = await client.get(f"{USERS}/me", headers=bearer(token))
    assert me.status_code == 200, me.text
    # The contact's name is kept encrypted; the account shows only its masked form.
    assert (me.json()["role"], me.json()["display_name"]) == ("enterprise_admin", mask_name(body["contact"]["name"]))
    assert (me.json()["enterprise"]["name"], me.json()["enterprise"]["enrollment_status"]) == (body["name"], "approved")
    assert me.json()["application"]["status"] == "approved"

    async with sessionmaker() as session:
        stored = (await session.execute(text(
            "SELECT password_hash, activation_code_hash FROM staff_account WHERE username = :u"),
            {"u": username})).one()
        actions = (await session.execute(text(
            "SELECT e.action FROM portal_user_event e JOIN staff_account a ON a.id = e.account_id"
            " WHERE a.username = :u ORDER BY e.at"), {"u": username})).scalars().all()
    assert stored.password_hash.startswith("scrypt$")
    assert PASSWORD not in stored.password_hash
    assert stored.activation_code_hash is None, "the code works once"
    assert actions == ["create", "reset", "activate"]


async def test_the_admin_adds_disables_and_resets_colleagues_and_agents_are_refused_admin_actions(
    client: httpx.AsyncClient, tokens: Tokens, token_issuer: TokenIssuer,
) -> None:
    body, handed = await approved_application(client, tokens)
    admin_name = handed["portal_admin"]["username"]
    assert (await activate(client, admin_name, handed["portal_admin"]["activation_code"])).status_code == 200
    admin = bearer(await portal_token(client, token_issuer, admin_name, PASSWORD))

    agent_name = f"{body['uscc'].lower()}-agent"
    added = await client.post(USERS, json={"username": agent_name, "display_name": "客服小王"}, headers=admin)
    assert added.status_code == 201, added.text
    assert added.headers["cache-control"] == "no-store"
    assert (added.json()["user"]["role"], added.json()["user"]["status"]) == ("enterprise_agent", "pending_activation")
    assert_problem(await client.post(USERS, json={"username": agent_name, "display_name": "重名"}, headers=admin),
                   409, "conflict")
    assert_problem(await client.post(USERS, json={"username": "Bad Name!", "display_name": "x"}, headers=admin),
                   422, "validation-error")
    assert (await activate(client, agent_name, added.json()["activation_code"])).status_code == 200
    agent = bearer(await portal_token(client, token_issuer, agent_name, PASSWORD))
    listed = (await client.get(USERS, headers=admin)).json()["items"]
    assert [(user["username"], user["status"]) for user in listed] == [(admin_name, "active"), (agent_name, "active")]

    # An agent works the cases and reads the settings, but changes nothing about the enterprise's connection.
    assert (await client.get("/v1/merchant/scorecard", headers=agent)).status_code == 200
    assert (await client.get(f"{USERS}/me", headers=agent)).json()["role"] == "enterprise_agent"
    assert_problem(await client.get(USERS, headers=agent), 403, "forbidden")
    assert_problem(await client.post(USERS, json={"username": "x-agent2", "display_name": "x"}, headers=agent),
                   403, "forbidden")
    assert_problem(await client.post(f"{USERS}/{listed[0]['id']}/disable", headers=agent), 403, "forbidden")
    assert_problem(await client.put("/v1/merchant/webhook", json={"url": "http://127.0.0.1:9/hook"}, headers=agent),
                   403, "forbidden")
    assert_problem(await client.post("/v1/merchant/credentials/rotate", headers=agent), 403, "forbidden")
    assert (await client.put("/v1/merchant/webhook", json={"url": "http://127.0.0.1:9/hook"},
                             headers=admin)).status_code == 200
    rotated = await client.post("/v1/merchant/credentials/rotate", headers=admin)
    assert rotated.status_code == 201, rotated.text
    # An API client keeps every right it had.
    client_token = bearer(tokens.merchant(handed["merchant_id"], sub=handed["client_id"],
                                          client_id=handed["client_id"]))
    assert (await client.put("/v1/merchant/webhook", json={"url": "http://127.0.0.1:9/hook"},
                             headers=client_token)).status_code == 200
    assert_problem(await client.get(USERS, headers=client_token), 403, "forbidden")

    agent_id = listed[1]["id"]
    assert_problem(await client.post(f"{USERS}/{listed[0]['id']}/disable", headers=admin), 409, "conflict")
    disabled = await client.post(f"{USERS}/{agent_id}/disable", headers=admin)
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["status"] == "disabled"
    assert not await is_active(client, agent_name)
    assert_problem(await sign_in(client, agent_name, PASSWORD), 401, "unauthenticated")
    assert_problem(await client.post(f"{USERS}/{agent_id}/disable", headers=admin), 409, "conflict")

    reset = await client.post(f"{USERS}/{agent_id}/reset", headers=admin)
    assert reset.status_code == 200, reset.text
    assert reset.json()["user"]["status"] == "pending_activation"
    assert_problem(await sign_in(client, agent_name, PASSWORD), 401, "unauthenticated")
    assert (await activate(client, agent_name, reset.json()["activation_code"], "Fresh2026start")).status_code == 200
    assert (await sign_in(client, agent_name, "Fresh2026start")).status_code == 200

    _, other = await approved_application(client, tokens)
    assert (await activate(client, other["portal_admin"]["username"],
                           other["portal_admin"]["activation_code"])).status_code == 200
    stranger = bearer(await portal_token(client, token_issuer, other["portal_admin"]["username"], PASSWORD))
    assert_problem(await client.post(f"{USERS}/{agent_id}/disable", headers=stranger), 404, "not-found")
    assert_problem(await client.post(f"{USERS}/{agent_id}/reset", headers=stranger), 404, "not-found")


async def test_a_suspended_enterprise_stops_every_portal_user(client: httpx.AsyncClient, tokens: Tokens) -> None:
    _, handed = await approved_application(client, tokens)
    admin_name = handed["portal_admin"]["username"]
    assert (await activate(client, admin_name, handed["portal_admin"]["activation_code"])).status_code == 200
    assert await is_active(client, admin_name)

    suspended = await client.post(f"/v1/regulator/merchants/{handed['merchant_id']}/suspend",
                                  json={"reason": "逾期未处理投诉过多"}, headers=bearer(tokens.regulator("632801")))
    assert suspended.status_code == 200, suspended.text
    assert not await is_active(client, admin_name)
    assert_problem(await sign_in(client, admin_name, PASSWORD), 401, "unauthenticated")
    assert not await is_active(client, "reg-nobody")


async def test_a_portal_users_session_refreshes_with_the_enterprises_claims_until_it_is_suspended(
        client: httpx.AsyncClient, tokens: Tokens) -> None:
    _, handed = await approved_application(client, tokens)
    admin_name = handed["portal_admin"]["username"]
    assert (await activate(client, admin_name, handed["portal_admin"]["activation_code"])).status_code == 200
    sessions = "/internal/v1/sessions"
    # A portal user is not a staff member: the staff kind refuses the username, the portal kind takes it.
    as_staff = await client.post(sessions, json={"kind": "staff", "subject": admin_name}, headers=internal_headers())
    assert_problem(as_staff, 401, "unauthenticated")
    started = await client.post(sessions, json={"kind": "merchant_portal", "subject": admin_name},
                                headers=internal_headers())
    assert started.status_code == 201, started.text
    claims = {"sub": admin_name, "aud": "merchant", "roles": ["enterprise", "enterprise_admin"],
              "region": started.json()["claims"]["region"], "station_id": None, "merchant_id": handed["merchant_id"]}
    assert started.json()["claims"] == claims
    assert started.json()["refresh_expires_in"] == 8 * 3600

    rotated = await client.post(f"{sessions}/refresh", json={"refresh_token": started.json()["refresh_token"]},
                                headers=internal_headers())
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["claims"] == claims

    suspended = await client.post(f"/v1/regulator/merchants/{handed['merchant_id']}/suspend",
                                  json={"reason": "逾期未处理投诉过多"}, headers=bearer(tokens.regulator("632801")))
    assert suspended.status_code == 200, suspended.text
    refused = await client.post(f"{sessions}/refresh", json={"refresh_token": rotated.json()["refresh_token"]},
                                headers=internal_headers())
    assert refused.status_code == 401
    staff_as_portal = await client.post(sessions, json={"kind": "merchant_portal", "subject": "nobody-at-all"},
                                        headers=internal_headers())
    assert staff_as_portal.status_code == 401
