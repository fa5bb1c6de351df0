"""The consumer app at /app/ on a phone-sized screen: what a consumer does, in Chinese and in English."""

from __future__ import annotations

import asyncio
import json
import re
import struct
import time
import uuid
import zlib
from typing import Any

import asyncpg
import httpx
from playwright.async_api import Page, Route, expect

from browser.browser_testkit import PHONE, Opener, Screen
from odr_runner.stack import Stack
from servicekit.db import asyncpg_dsn

# Each test signs in with its own number, so one test's cases never show in another's list.
PHONES = iter(f"139{n:08d}" for n in range(10_000_001, 10_000_100))


async def consumer_session(api: httpx.AsyncClient, phone: str) -> dict[str, Any]:
    """What the app keeps in localStorage after signing in, obtained through the API (the dev-mode code)."""
    otp = await api.post("/auth/otp", json={"phone": phone})
    assert otp.status_code == 202, otp.text
    token = await api.post("/auth/token", data={"grant_type": "otp", "phone": phone, "code": otp.json()["dev_code"]})
    assert token.status_code == 200, token.text
    issued = token.json()
    return {"token": issued["access_token"], "phone": phone,
            "expiresAt": int(time.time() * 1000) + issued["expires_in"] * 1000}


async def signed_in(open_page: Opener, api: httpx.AsyncClient, path: str, *, phone: str | None = None,
                    **options: Any) -> tuple[Page, dict[str, Any]]:
    page = await open_page("/app/", viewport=PHONE, **options)
    session = await consumer_session(api, phone or next(PHONES))
    await page.evaluate("(s) => localStorage.setItem('odr.session', JSON.stringify(s))", session)
    await page.goto(f"/app/{path}")
    await page.reload()
    return page, session


def bearer(session: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {session['token']}"}


async def file_by_api(api: httpx.AsyncClient, session: dict[str, Any], **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "complainant": {"name": "王芳", "phone": session["phone"]},
        "respondent": {"name": "格尔木昆仑特产店", "region_code": "632801"},
        "request": {"type": "refund", "amount_fen": 29900},
        "facts": "买的枸杞发霉了，商家不退款。",
        "sector": "food",
        "channel": "web",
        **changes,
    }
    response = await api.post("/v1/consumer/complaints", json=body, headers=bearer(session))
    assert response.status_code == 201, response.text
    filed: dict[str, Any] = response.json()
    return filed


async def regulator_token(api: httpx.AsyncClient, demo: dict[str, Any]) -> str:
    regulator = demo["regulator"]
    response = await api.post("/auth/token", data={"grant_type": "password", "username": regulator["username"],
                                                   "password": regulator["password"]})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def eventually(probe: Any, *, within: float = 20.0, what: str) -> Any:
    deadline = time.monotonic() + within
    while True:
        answer = await probe()
        if answer:
            return answer
        assert time.monotonic() < deadline, f"{what} did not happen within {within:.0f} s: {answer!r}"
        await asyncio.sleep(0.2)


def png(width: int = 8, height: int = 8) -> bytes:
    """A small real PNG (the evidence service sniffs the type from the content)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + bytes([200, 60, 40]) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


async def test_the_sign_in_page_renders_in_chinese_and_passes_axe(open_page: Opener, screen: Screen) -> None:
    page = await open_page("/app/", viewport=PHONE)
    await expect(page.get_by_label("手机号")).to_be_visible()
    await expect(page.get_by_role("button", name="登录")).to_be_visible()
    await screen(page, "app-sign-in")


async def test_a_wrong_code_is_explained_in_chinese_without_english_detail(open_page: Opener) -> None:
    page = await open_page("/app/", viewport=PHONE)
    await page.get_by_label("手机号").fill(next(PHONES))
    await page.get_by_label("验证码").fill("000000")
    await page.get_by_role("button", name="登录").click()

    alert = page.get_by_role("alert").filter(has_text="验证码错误或已过期")
    await expect(alert).to_be_visible()
    await expect(alert).not_to_contain_text(re.compile("[A-Za-z]{3,}"))


async def test_a_deep_link_signs_in_to_the_linked_case_and_a_new_tab_stays_signed_in(
        open_page: Opener, api: httpx.AsyncClient, screen: Screen) -> None:
    phone = next(PHONES)
    filed = await file_by_api(api, await consumer_session(api, phone))
    page = await open_page(f"/app/#/complaints/{filed['id']}", viewport=PHONE)

    await expect(page.get_by_role("heading", name="手机号登录")).to_be_visible()
    await page.get_by_label("手机号").fill(phone)
    await page.get_by_role("button", name="获取验证码").click()
    await expect(page.get_by_label("验证码")).to_have_value(re.compile(r"^\d{6}$"))
    await page.get_by_role("button", name="登录").click()

    await expect(page).to_have_url(re.compile(f"#/complaints/{filed['id']}$"))
    await expect(page.get_by_text(filed["case_no"])).to_be_visible()
    second = await page.context.new_page()
    await second.goto("/app/#/complaints")
    await expect(second.get_by_role("heading", name="我的投诉")).to_be_visible()
    await expect(second.get_by_text(filed["case_no"])).to_be_visible()
    await screen(second, "app-list")
    await second.close()


async def test_a_name_typed_before_the_enterprise_list_arrives_finds_it_when_it_does(
        open_page: Opener, api: httpx.AsyncClient) -> None:
    """On a slow network the consumer types before the list is there: the open list then fills in."""
    chosen = (await api.get("/v1/public/odr-enterprises")).json()["items"][0]["name"]
    page = await open_page("/app/", viewport=PHONE)
    session = await consumer_session(api, next(PHONES))
    await page.evaluate("(s) => localStorage.setItem('odr.session', JSON.stringify(s))", session)
    held = asyncio.Event()

    async def hold_the_list(route: Route) -> None:
        await held.wait()
        await route.continue_()

    await page.route("**/v1/public/odr-enterprises*", hold_the_list)
    await page.goto("/app/#/new")
    await page.reload()
    search = page.get_by_role("combobox", name="ODR 企业")
    await search.fill(chosen[:2])
    await expect(page.get_by_role("option", name=re.compile("没有"))).to_be_visible()
    held.set()
    await expect(page.get_by_role("option", name=chosen)).to_be_visible()


async def test_a_consumer_files_with_purchase_details_and_a_photo_and_sees_what_was_filed(
        open_page: Opener, api: httpx.AsyncClient, screen: Screen) -> None:
    enterprises = (await api.get("/v1/public/odr-enterprises")).json()["items"]
    chosen = enterprises[0]["name"]
    page, _ = await signed_in(open_page, api, "#/new")
    await page.get_by_label("姓名").fill("王芳")
    search = page.get_by_role("combobox", name="ODR 企业")
    await search.fill(chosen[:2])
    await expect(page.get_by_role("option", name=chosen)).to_be_visible()
    await search.press("ArrowDown")
    while await search.get_attribute("aria-activedescendant") != await page.get_by_role(
            "option", name=chosen).get_attribute("id"):
        await search.press("ArrowDown")
    await search.press("Enter")
    await expect(search).to_have_value(chosen)
    await page.get_by_label("要求金额（元）").fill("299")
    await page.get_by_label("事情经过").fill("网购的枸杞发霉了，联系商家三次都不退款。")
    await page.get_by_label("行业").select_option("food")
    await page.get_by_label("商品或服务类别").select_option("food.local_specialty")
    await page.get_by_label("购买日期").fill("2026-11-20")
    await page.get_by_label("实付金额（元）").fill("299.50")
    await page.get_by_label("订单号").fill("TB2026112012345")
    # The camera on a phone, or a photo from the album or the files: `capture` on the first only, since with it a
    # phone opens nothing but the camera.
    await expect(page.get_by_label("拍照", exact=True)).to_have_attribute("capture", "environment")
    assert await page.get_by_label("从相册或文件选择").get_attribute("capture") is None
    await page.get_by_label("从相册或文件选择").set_input_files(
        files=[{"name": "goji.png", "mimeType": "image/png", "buffer": png()}])
    await expect(page.get_by_role("button", name="删除照片 goji.png")).to_be_visible()
    await screen(page, "app-new-complaint")
    await page.get_by_role("button", name="提交投诉").click()

    await expect(page.get_by_text(re.compile(r"投诉已提交，编号"))).to_be_visible()
    await expect(page.get_by_role("heading", name="投诉内容")).to_be_visible()
    await expect(page.get_by_text("网购的枸杞发霉了，联系商家三次都不退款。")).to_be_visible()
    await expect(page.get_by_text("2026-11-20")).to_be_visible()
    await expect(page.get_by_text("¥299.50")).to_be_visible()
    await expect(page.get_by_text("TB2026112012345")).to_be_visible()
    await expect(page.get_by_text("地方特产（枸杞、牦牛肉等）")).to_be_visible()
    await expect(page.get_by_role("img", name="goji.png")).to_have_attribute("src", re.compile("^blob:"))
    await expect(page.get_by_text(re.compile(r"还剩 \d+ 个工作日"))).to_be_visible()
    await expect(page.get_by_text(re.compile(r"已交 ODR 企业 .+ 协商处理"))).to_be_visible()
    # Mediation's "case opened" reaches the timeline as a code with its stage, worded in Chinese.
    await expect(page.get_by_text("与企业的协商已开始")).to_be_visible()
    await expect(page.get_by_text(re.compile("Mediation case opened"))).to_have_count(0)
    await screen(page, "app-complaint")


async def test_a_consumer_files_a_report_on_its_own_naming_the_region_from_the_picker(
        open_page: Opener, api: httpx.AsyncClient, screen: Screen) -> None:
    page, _ = await signed_in(open_page, api, "#/report")
    await page.get_by_label("其他商家（手动填写）").check()
    await page.get_by_label("商家名称").fill("格尔木某加油站")
    await page.get_by_label("省", exact=True).select_option("630000")
    await page.get_by_label("市（州）").select_option("632800")
    await page.get_by_label("县（区）").select_option("632801")
    await page.get_by_label("事情经过").fill("加油机计量不准，加 50 升只出 45 升。")
    await page.get_by_label("行业").select_option("other")
    await page.get_by_label("匿名举报").check()
    await screen(page, "app-report")
    await page.get_by_role("button", name="提交举报").click()

    await expect(page.get_by_text(re.compile(r"举报已提交，编号 JB"))).to_be_visible()
    await expect(page.get_by_role("heading", name="举报内容")).to_be_visible()
    await expect(page.get_by_text("诉求")).to_have_count(0)
    await expect(page.get_by_text(re.compile(r"还剩 \d+ 个工作日"))).to_be_visible()
    await screen(page, "app-report-filed")


async def test_in_english_an_empty_form_marks_each_field_moves_focus_and_a_corrected_field_clears(
        open_page: Opener, api: httpx.AsyncClient, screen: Screen) -> None:
    page, _ = await signed_in(open_page, api, "#/new")
    await page.get_by_role("button", name="English").click()
    await page.get_by_label("Mobile number").fill("12345")
    await page.get_by_role("button", name="Submit complaint").click()

    name = page.get_by_role("textbox", name="Name", exact=True)
    await expect(page.get_by_text(re.compile(r"\d+ field\(s\) need attention"))).to_be_visible()
    await expect(name).to_be_focused()
    await expect(name).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_text("Enter an 11-digit mobile number starting with 1, e.g. 13800138000")).to_be_visible()
    await expect(page.get_by_text("This field is required").first).to_be_visible()
    await screen(page, "app-new-complaint-errors-en")
    await name.fill("Wang Fang")
    await expect(name).not_to_have_attribute("aria-invalid", "true")
    phone = page.get_by_label("Mobile number")
    await phone.fill("13800138000")
    await expect(phone).not_to_have_attribute("aria-invalid", "true")


async def test_a_closed_complaint_reads_in_chinese_and_the_english_rating_form_marks_the_stars(
        open_page: Opener, api: httpx.AsyncClient, demo: dict[str, Any], screen: Screen) -> None:
    session = await consumer_session(api, next(PHONES))
    filed = await file_by_api(api, session)
    refused = await api.post(f"/v1/regulator/complaints/{filed['id']}/refuse",
                             json={"ground": 3, "note": "不属于消费纠纷"},
                             headers={"Authorization": f"Bearer {await regulator_token(api, demo)}"})
    assert refused.status_code == 200, refused.text
    page, _ = await signed_in(open_page, api, f"#/complaints/{filed['id']}", phone=session["phone"])

    await expect(page.get_by_text("不予受理（第十六条第 3 项）")).to_be_visible()
    await expect(page.get_by_text(re.compile("Refused|Sent to"))).to_have_count(0)
    await screen(page, "app-complaint-refused")
    await page.get_by_role("button", name="English").click()
    await page.get_by_role("button", name="Submit rating").click()

    await expect(page.get_by_text("This field is required")).to_be_visible()
    await expect(page.get_by_role("radio", name="1 star(s)")).to_be_focused()
    await page.locator("label[title='4 star(s)']").click()
    await expect(page.get_by_text("This field is required")).to_be_hidden()
    await screen(page, "app-complaint-rating-en")


async def test_withdrawing_shows_the_timeline_in_chinese(
        open_page: Opener, api: httpx.AsyncClient, screen: Screen) -> None:
    session = await consumer_session(api, next(PHONES))
    filed = await file_by_api(api, session)
    page, _ = await signed_in(open_page, api, f"#/complaints/{filed['id']}", phone=session["phone"])
    await page.get_by_role("button", name="撤回投诉").click()
    await page.get_by_role("button", name="确认撤回").click()

    await expect(page.get_by_text("投诉已撤回。")).to_be_visible()
    await expect(page.locator(".timeline").get_by_text("投诉已撤回")).to_be_visible()
    await expect(page.get_by_text("Withdrawn by the consumer")).to_have_count(0)


async def test_a_negotiation_on_the_phone_messages_offer_attachment_proof_and_disclosure(
        open_page: Opener, api: httpx.AsyncClient, demo: dict[str, Any], screen: Screen) -> None:
    merchant = demo["merchants"][0]
    token = await api.post("/auth/token", data={"grant_type": "client_credentials", "client_id": merchant["client_id"],
                                                "client_secret": merchant["client_secret"]})
    assert token.status_code == 200, token.text
    as_merchant = {"Authorization": f"Bearer {token.json()['access_token']}"}
    session = await consumer_session(api, next(PHONES))
    filed = await file_by_api(api, session, respondent={"merchant_id": merchant["merchant_id"]}, green_channel=True,
                              disclosure_consent=True)

    async def case_id() -> Any:
        detail = (await api.get(f"/v1/consumer/complaints/{filed['id']}", headers=bearer(session))).json()
        return detail["mediation_case_id"]

    case = await eventually(case_id, what="the negotiation case")
    page, _ = await signed_in(open_page, api, f"#/cases/{case}", phone=session["phone"])
    await expect(page.get_by_text("● 实时更新中")).to_be_visible()
    await expect(page.get_by_text(re.compile(r"还剩 \d+ 个工作日"))).to_be_visible()
    # Two messages in a row: each live update of the first must not leave the button waiting for good.
    for text in ("请尽快退款。", "订单号 TB2026112012345。"):
        await page.get_by_label("写给商家或调解员").fill(text)
        await page.get_by_role("button", name="发送", exact=True).click()
        await expect(page.locator(".messages").get_by_text(text)).to_be_visible()
        await expect(page.get_by_role("button", name="发送", exact=True)).to_be_enabled()

    uploaded = await api.post(f"/v1/merchant/cases/{case}/attachments", headers=as_merchant,
                              files={"file": ("refund-receipt.png", png(), "image/png")})
    assert uploaded.status_code == 201, uploaded.text
    offered = await api.post(f"/v1/merchant/cases/{case}/offers", headers=as_merchant,
                             json={"type": "refund", "amount_fen": 29900, "note": "全额退款"})
    assert offered.status_code == 201, offered.text
    await expect(page.get_by_text("退款 ¥299.00")).to_be_visible()
    await expect(page.get_by_role("img", name="refund-receipt.png")).to_have_attribute("src", re.compile("^blob:"))
    await screen(page, "app-case-offer")
    await page.get_by_role("button", name="接受").click()
    await page.get_by_role("button", name="确认接受").click()
    await expect(page.get_by_role("heading", name="和解协议")).to_be_visible()
    proof = await api.post(f"/v1/merchant/cases/{case}/fulfilment", headers=as_merchant,
                           json={"kind": "refund_txn", "reference": "RF2026120500001"})
    assert proof.status_code == 201, proof.text
    await expect(page.get_by_text("凭证号 RF2026120500001")).to_be_visible()
    await screen(page, "app-case")
    await page.get_by_role("button", name="确认已履行").click()
    await expect(page.get_by_text("已确认履行").first).to_be_visible()

    await page.goto(f"/app/#/complaints/{filed['id']}")
    await expect(page.get_by_text(re.compile(r"已在协商中和解，商家向您支付 ¥299.00"))).to_be_visible(timeout=20_000)
    await page.goto("/app/#/public")
    await expect(page.get_by_text(filed["case_no"], exact=False)).to_be_visible(timeout=20_000)
    await screen(page, "app-public")


async def test_when_the_service_is_back_the_page_retries_by_itself(
        open_page: Opener, api: httpx.AsyncClient) -> None:
    # Without the offline shell's service worker: a request that passes through it is not always seen by page.route,
    # and the refusal below must reach the page.
    page, session = await signed_in(open_page, api, "#/more", service_workers="block")
    filed = await file_by_api(api, session)
    refusals = 0
    back = False

    # The service is down until the test has seen the page say it will retry: on a loaded machine the first retry
    # (2 s later) could otherwise come before the notice is looked for.
    async def unavailable_until_back(route: Route) -> None:
        nonlocal refusals
        if not back:
            refusals += 1
            await route.fulfill(status=503, content_type="application/problem+json", json={
                "type": "/problems/upstream-unavailable", "title": "服务暂不可用", "status": 503})
        else:
            await route.continue_()

    await page.route(re.compile(r"/v1/consumer/complaints\?"), unavailable_until_back)
    await page.goto("/app/#/complaints")

    await expect(page.get_by_text(re.compile(r"秒后自动重试"))).to_be_visible()
    back = True
    await expect(page.get_by_text(filed["case_no"])).to_be_visible(timeout=40_000)
    assert refusals >= 1


async def test_the_public_screens_open_without_signing_in(
        open_page: Opener, api: httpx.AsyncClient, demo: dict[str, Any], screen: Screen) -> None:
    station = {"name": "格尔木昆仑市场消费维权服务站", "host_name": "昆仑市场", "region_code": "632801",
               "address": "格尔木市昆仑中路 8 号", "phone": "13909790000"}
    registered = await api.post("/v1/regulator/stations", json=station,
                                headers={"Authorization": f"Bearer {await regulator_token(api, demo)}"})
    assert registered.status_code == 201, registered.text
    page = await open_page("/app/#/stations", viewport=PHONE)
    await expect(page.get_by_role("heading", name="消费维权服务站", exact=True)).to_be_visible()
    await page.get_by_label("省", exact=True).select_option("630000")
    await page.get_by_label("市（州）").select_option("632800")
    await expect(page.get_by_role("heading", name=station["name"])).to_be_visible()
    await expect(page.get_by_role("link", name="电话 13909790000")).to_have_attribute("href", "tel:13909790000")
    await screen(page, "app-stations")
    await page.get_by_label("省", exact=True).select_option("110000")
    await expect(page.get_by_text("这个地区还没有服务站。")).to_be_visible()
    await page.goto("/app/#/public")
    await expect(page.get_by_role("heading", name="投诉公示")).to_be_visible()
    await expect(page.locator(".cards > li").first).to_be_visible()
    await page.goto("/app/#/more")
    await expect(page.get_by_role("heading", name="更多服务")).to_be_visible()
    await screen(page, "app-more")


async def test_the_app_installs_an_offline_shell(open_page: Opener) -> None:
    page = await open_page("/app/", viewport=PHONE)
    controlled = await page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    cached = await page.evaluate("caches.keys().then((names) => Promise.all(names.map((name) => caches.open(name)"
                                 ".then((cache) => cache.keys())))).then((lists) => lists.flat().map((r) => r.url))")

    manifest = await page.evaluate("fetch(document.querySelector('link[rel=manifest]').href).then((r) => r.json())")

    assert controlled
    assert (manifest["start_url"], manifest["display"]) == ("./", "standalone")
    assert manifest["icons"]
    assert any(url.endswith("/app/js/main.js") for url in cached)
    assert not any("/v1/" in url or "/auth/" in url for url in cached)


async def test_my_personal_data_downloads_and_a_closed_case_s_is_erased_once_its_retention_has_passed(
        open_page: Opener, api: httpx.AsyncClient, platform: Stack, screen: Screen) -> None:
    session = await consumer_session(api, next(PHONES))
    filed = await file_by_api(api, session, complainant={"name": "欧阳娜娜", "phone": session["phone"]})
    page, _ = await signed_in(open_page, api, "#/complaints", phone=session["phone"])

    async with page.expect_download() as download_info:
        await page.get_by_role("button", name="下载我的数据").click()
    download = await download_info.value
    assert download.suggested_filename.startswith("personal-data-")
    exported = json.loads((await download.path()).read_text())
    assert [case["complainant"]["name"] for case in exported["complaints"]["complaints"]] == ["欧阳娜娜"]
    await expect(page.get_by_text("已下载您的数据。")).to_be_visible()

    await page.goto(f"/app/#/complaints/{filed['id']}")
    erasure = page.locator("section.erasure")
    await expect(erasure.get_by_text("案件尚未办结，处理案件仍需要这些信息，暂不能删除。")).to_be_visible()
    await expect(erasure.get_by_role("button")).to_have_count(0)
    withdrawn = await api.post(f"/v1/consumer/complaints/{filed['id']}/withdraw", headers=bearer(session))
    assert withdrawn.status_code == 200, withdrawn.text
    await page.reload()
    await erasure.get_by_role("button", name="删除本案个人信息").click()
    await expect(erasure.get_by_text(re.compile("删除后无法恢复"))).to_be_visible()
    await erasure.get_by_role("button", name="确定删除").click()
    await expect(erasure.get_by_text(re.compile(r"仍在保存期内，\d{4}-\d{2}-\d{2} 起才能删除"))).to_be_visible()
    await screen(page, "app-erasure-in-retention")

    # The years of the retention period pass.
    connection = await asyncpg.connect(asyncpg_dsn(platform.database_url, platform.config.database_name("complaints")))
    try:
        await connection.execute("UPDATE complaint SET closed_at = closed_at - interval '4000 days' WHERE id = $1",
                                 uuid.UUID(filed["id"]))
    finally:
        await connection.close()
    await erasure.get_by_role("button", name="确定删除").click()

    await expect(page.get_by_text("本案的个人信息已删除。")).to_be_visible()
    await expect(erasure.get_by_text(re.compile("个人信息已于 .* 删除"))).to_be_visible()
    await expect(page.locator(".timeline").get_by_text("保存期届满，个人信息已删除")).to_be_visible()
    await expect(page.get_by_text("买的枸杞发霉了")).to_have_count(0)
    await screen(page, "app-erasure-done")
    await page.get_by_role("button", name="English").click()
    await expect(page.get_by_text(re.compile("The personal data of this case was erased on"))).to_be_visible()
    await screen(page, "app-erasure-done-en")
