"""The enterprise portal at /portal/: the staff of an ODR enterprise answer their cases in a real browser
(1440x900), beside the consumer's app on a phone; their session outlives its access token (refreshed from the
gateway's `merchant` cookie) until they sign out."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Any

import httpx
from playwright.async_api import FilePayload, Page, Response, expect

from browser.browser_testkit import Opener, Screen
from browser.test_browser_consumer_app import PHONES, bearer, consumer_session, eventually, file_by_api, png, signed_in
from odr_runner.stack import Stack
from servicekit.auth import Audience, Role, TokenIssuer

# The second demo enterprise: the consumer app's tests negotiate with the first.
ENTERPRISE = 1
AGENT_PASSWORD = "Yanhu2026service"


async def sign_in(open_page: Opener, username: str, password: str, screen: Screen | None = None) -> Page:
    """Opens the portal, which asks for the account, and signs in by pressing Enter in the password."""
    page = await open_page("/portal/")
    await expect(page.get_by_role("heading", name="企业用户登录")).to_be_visible()
    if screen is not None:
        await screen(page, "portal-sign-in")
    await page.get_by_label("用户名").fill(username)
    await page.get_by_label("密码", exact=True).fill(password)
    await page.get_by_label("密码", exact=True).press("Enter")
    return page


async def open_case(api: httpx.AsyncClient, demo: dict[str, Any], facts: str, *,
                    photo: bool = False) -> tuple[dict[str, Any], str, dict]:
    """A green-channel complaint against the enterprise (with a photo of the goods as evidence if asked), once its
    negotiation case is open: (filing, case id, the consumer's session)."""
    session = await consumer_session(api, next(PHONES))
    evidence_ids = []
    if photo:
        uploaded = await api.post("/v1/consumer/evidence", params={"filename": "cracked-bracelet.png"}, content=png(),
                                  headers={"Authorization": f"Bearer {session['token']}",
                                           "Content-Type": "application/octet-stream"})
        assert uploaded.status_code == 201, uploaded.text
        evidence_ids.append(uploaded.json()["id"])
    filed = await file_by_api(api, session, respondent={"merchant_id": demo["merchants"][ENTERPRISE]["merchant_id"]},
                              green_channel=True, facts=facts, evidence_ids=evidence_ids,
                              shared_evidence_ids=evidence_ids,
                              purchase={"date": "2026-11-20", "amount_fen": 29900, "order_no": "YH2026112000777"})

    async def case_id() -> Any:
        detail = (await api.get(f"/v1/consumer/complaints/{filed['id']}",
                                headers={"Authorization": f"Bearer {session['token']}"})).json()
        return detail["mediation_case_id"]

    return filed, await eventually(case_id, what="the negotiation case"), session


async def test_an_admin_signs_in_with_enter_and_lands_on_open_cases_with_case_numbers_as_text(
        open_page: Opener, screen: Screen, api: httpx.AsyncClient, demo: dict[str, Any]) -> None:
    filed, _, _ = await open_case(api, demo, "盐湖特产礼盒缺少两袋，商家迟迟不补发。")
    merchant = demo["merchants"][ENTERPRISE]
    page = await sign_in(open_page, merchant["portal_username"], merchant["portal_password"], screen)

    await expect(page.get_by_role("heading", name="待处理案件")).to_be_visible()
    assert page.url.endswith("#/cases")
    case_link = page.get_by_role("link", name=filed["case_no"], exact=True)
    await expect(case_link).to_be_visible()
    assert await case_link.inner_text() == filed["case_no"], "the case number is text, not an image"
    await expect(page.get_by_text(re.compile(r"还剩 \d+ 个工作日")).first).to_be_visible()
    await screen(page, "portal-cases")


async def test_an_enterprise_answers_with_an_offer_the_consumer_sees_it_live_accepts_and_both_screens_close(
        open_page: Opener, screen: Screen, api: httpx.AsyncClient, demo: dict[str, Any]) -> None:
    filed, case, session = await open_case(api, demo, "买的昆仑玉手镯有裂纹，要求退款。", photo=True)
    consumer, _ = await signed_in(open_page, api, f"#/cases/{case}", phone=session["phone"])
    await expect(consumer.get_by_text("● 实时更新中")).to_be_visible()

    merchant = demo["merchants"][ENTERPRISE]
    portal = await sign_in(open_page, merchant["portal_username"], merchant["portal_password"])
    await portal.get_by_role("link", name=filed["case_no"], exact=True).click()
    await expect(portal.get_by_text("买的昆仑玉手镯有裂纹，要求退款。")).to_be_visible()
    await expect(portal.get_by_text("YH2026112000777")).to_be_visible()
    await expect(portal.get_by_text("实时更新已连接")).to_be_visible()
    await screen(portal, "portal-case")
    # The consumer's shared photo (named by its upload id: original names stay with the complaint, encrypted).
    await portal.get_by_role("row", name=re.compile(r"消费者 image.png")).get_by_role("button", name="查看").click()
    photo = portal.get_by_role("dialog").get_by_role("img", name=re.compile(r"png$"))
    await expect(photo).to_have_attribute("src", re.compile("^blob:"))
    await screen(portal, "portal-evidence")
    await portal.keyboard.press("Escape")
    await expect(portal.get_by_role("dialog")).to_have_count(0)

    await portal.get_by_label("金额（元）").fill("299")
    await portal.get_by_label("说明", exact=True).fill("全额退款，三日内到账")
    async with portal.expect_response(lambda answer: answer.url.endswith("/offers")) as offered:
        await portal.get_by_role("button", name="提出和解方案").click()
    assert (await offered.value).status == 201, await (await offered.value).text()
    await expect(portal.get_by_text("已有待答复的方案，撤回后才能提出新方案")).to_be_visible()

    # The consumer's app shows the offer without a reload, and the consumer accepts it.
    await expect(consumer.get_by_text("退款 ¥299.00")).to_be_visible()
    await consumer.get_by_role("button", name="接受").click()
    await consumer.get_by_role("button", name="确认接受").click()
    await expect(consumer.get_by_role("heading", name="和解协议")).to_be_visible()

    # The portal learns of it from the case stream: the case is closed there too, with the agreement to fulfil.
    await expect(portal.get_by_text("已达成和解：请按协议履行，并提交履行凭证。")).to_be_visible()
    await expect(portal.get_by_role("heading", name=re.compile("和解协议"))).to_be_visible()
    await portal.get_by_label("凭证编号").fill("RF2026120500777")
    await portal.get_by_role("button", name="提交履行凭证").click()
    await expect(portal.get_by_role("cell", name="RF2026120500777")).to_be_visible()
    await expect(portal.get_by_text("已提交凭证，待消费者确认")).to_be_visible()
    await expect(consumer.get_by_text("凭证号 RF2026120500777")).to_be_visible()
    await screen(portal, "portal-case-settled")

    await consumer.goto(f"/app/#/complaints/{filed['id']}")
    settled = consumer.get_by_text(re.compile(r"已在协商中和解，商家向您支付 ¥299.00"))
    await expect(settled).to_be_visible(timeout=20_000)
    await portal.get_by_role("menuitem", name="待处理案件").click()
    await portal.get_by_role("radiogroup", name="案件状态").get_by_text("已和解").click()
    await expect(portal.get_by_role("link", name=filed["case_no"], exact=True)).to_be_visible()


async def test_the_admin_adds_an_agent_who_activates_and_is_refused_admin_actions(
        open_page: Opener, screen: Screen, demo: dict[str, Any]) -> None:
    merchant = demo["merchants"][ENTERPRISE]
    admin = await sign_in(open_page, merchant["portal_username"], merchant["portal_password"])
    await admin.get_by_role("menuitem", name="账号管理").click()
    await admin.get_by_label("用户名").fill("yanhu-agent01")
    await admin.get_by_label("姓名").fill("客服小李")
    await admin.get_by_role("button", name="添加同事").click()
    code = (await admin.locator(".once code").inner_text()).strip()
    assert re.fullmatch(r"[2-9A-Z]{4}(-[2-9A-Z]{4}){3}", code), code
    await expect(admin.get_by_role("cell", name="待激活")).to_be_visible()
    await screen(admin, "portal-colleagues")

    agent = await open_page("/portal/")
    await agent.get_by_role("button", name="首次登录？使用激活码设置密码").click()
    await expect(agent.get_by_role("heading", name="首次登录：设置密码")).to_be_visible()
    await agent.get_by_label("用户名").fill("yanhu-agent01")
    await agent.get_by_label("激活码").fill(code)
    await agent.get_by_label("新密码", exact=True).fill(AGENT_PASSWORD)
    await agent.get_by_label("确认新密码").fill(AGENT_PASSWORD)
    await screen(agent, "portal-activation")
    await agent.get_by_label("确认新密码").press("Enter")
    await expect(agent.get_by_role("heading", name="待处理案件")).to_be_visible()
    await expect(agent.get_by_text("yanhu-agent01（客服人员）")).to_be_visible()
    await expect(agent.get_by_role("menuitem", name="账号管理")).to_have_count(0)

    await agent.get_by_role("menuitem", name="消息推送").click()
    await expect(agent.get_by_text("仅企业管理员可以修改推送设置和重新推送。")).to_be_visible()
    await expect(agent.get_by_role("button", name="保存设置")).to_have_count(0)
    # The API itself refuses the agent, whatever a screen offers.
    refused = await agent.evaluate("""async () => {
      const { token } = JSON.parse(sessionStorage.getItem('odr.portal.session'))
      const answer = await fetch('/v1/merchant/webhook', { method: 'PUT', headers: {
        Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ url: 'https://1.1.1.1/odr/webhook' }) })
      const rotate = await fetch('/v1/merchant/credentials/rotate', { method: 'POST',
        headers: { Authorization: `Bearer ${token}` } })
      return [answer.status, rotate.status]
    }""")
    assert refused == [403, 403]

    # Disabled by the admin, the agent's token stops working within seconds: the portal signs them out.
    await admin.reload()
    await admin.get_by_role("row", name=re.compile("yanhu-agent01")).get_by_role("button", name="停用").click()
    await admin.get_by_role("dialog").get_by_role("button", name="停用").click()
    await expect(admin.get_by_role("cell", name="已停用")).to_be_visible()
    await agent.get_by_role("menuitem", name="待处理案件").click()
    signed_out = agent.get_by_role("heading", name="企业用户登录")
    disabled_at = time.monotonic()
    while not await signed_out.is_visible():
        # The gateway may answer from its few-second cache of the account's status until it asks again.
        assert time.monotonic() - disabled_at < 15, "the disabled agent still works after 15 s"
        await agent.reload()
        await agent.wait_for_timeout(500)


async def test_every_portal_screen_of_the_admin_in_chinese_and_english(
        open_page: Opener, screen: Screen, demo: dict[str, Any]) -> None:
    merchant = demo["merchants"][ENTERPRISE]
    page = await sign_in(open_page, merchant["portal_username"], merchant["portal_password"])
    await expect(page.get_by_role("heading", name="待处理案件")).to_be_visible()

    await page.get_by_role("menuitem", name="处理评价").click()
    await expect(page.get_by_text("收到投诉")).to_be_visible()
    # The outcome audit's figures as the scorecard API counts them: cases the regulator reviewed, findings.
    card = await page.evaluate("""async () => {
      const { token } = JSON.parse(sessionStorage.getItem('odr.portal.session'))
      const answer = await fetch('/v1/merchant/scorecard', { headers: { Authorization: `Bearer ${token}` } })
      return answer.json()
    }""")
    for label, field in (("监管复核案件", "cases_reviewed"), ("复核发现问题", "review_findings")):
        kpi = page.locator(".kpis .el-card").filter(has_text=label)
        await expect(kpi.locator(".kpi-value")).to_have_text(str(card[field]))
    await expect(page.get_by_role("heading", name="预警与处理")).to_be_visible()
    await expect(page.get_by_text("当前没有预警")).to_be_visible()
    await screen(page, "portal-scorecard")

    await page.get_by_role("menuitem", name="消息推送").click()
    await page.get_by_label("接收地址（HTTPS）").fill("https://1.1.1.1/odr/webhook")
    await page.get_by_role("button", name="保存设置").click()
    await expect(page.locator(".once code")).to_have_text(re.compile(r"^whsec_"))
    await expect(page.get_by_text("正常推送")).to_be_visible()
    await screen(page, "portal-webhook")

    await page.get_by_role("menuitem", name="接口凭据").click()
    await page.get_by_role("button", name="轮换接口密钥").click()
    await page.get_by_role("dialog").get_by_role("button", name="确定").click()
    await expect(page.locator(".once code").first).to_have_text(re.compile(r"^odr_"))
    await screen(page, "portal-credentials")

    await page.get_by_role("menuitem", name="入驻申请").click()
    await expect(page.get_by_text(merchant["name"])).to_be_visible()
    await expect(page.get_by_text("已入驻")).to_be_visible()
    await screen(page, "portal-application")

    await page.get_by_role("button", name="English").click()
    await expect(page.get_by_role("heading", name="ODR application")).to_be_visible()
    await page.get_by_role("menuitem", name="Open cases").click()
    await expect(page.get_by_role("heading", name="Open cases")).to_be_visible()
    await screen(page, "portal-cases-en")


def cases_loaded(response: Response) -> bool:
    return "/v1/merchant/cases" in response.url and response.status == 200


def revoked(response: Response) -> bool:
    return response.url.endswith("/auth/revoke") and response.status == 200


async def stored_session(page: Page) -> dict[str, Any]:
    stored: dict[str, Any] = await page.evaluate("JSON.parse(sessionStorage.getItem('odr.portal.session'))")
    return stored


async def test_a_portal_session_outlives_its_access_token_until_signing_out_revokes_it(
        open_page: Opener, platform: Stack, demo: dict[str, Any]) -> None:
    merchant = demo["merchants"][ENTERPRISE]
    page = await sign_in(open_page, merchant["portal_username"], merchant["portal_password"])
    await expect(page.get_by_role("heading", name="待处理案件")).to_be_visible()

    # A 15-minute access token in the tab; the refresh token only in an HttpOnly session cookie for /auth.
    stored = await stored_session(page)
    assert stored["expiresAt"] - time.time() * 1000 <= 15 * 60 * 1000
    assert "odr_refresh" not in await page.evaluate("document.cookie")
    cookie = next(c for c in await page.context.cookies() if c["name"] == "odr_refresh_merchant")
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"], cookie["expires"]) == (True, "Strict", "/auth", -1)

    # The access token lapsed (signed with the platform's key, expired a minute ago): renewed before the first call.
    claims: dict[str, Any] = await page.evaluate(
        "(t) => JSON.parse(atob(t.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')))", stored["token"])
    assert (claims["aud"], claims["merchant_id"]) == ("merchant", merchant["merchant_id"])
    issuer = TokenIssuer(platform.config.secrets.jwt_private_key, "odr-gateway")
    lapsed = issuer.issue(sub=claims["sub"], aud=Audience.MERCHANT, roles=[Role(role) for role in claims["roles"]],
                          ttl=timedelta(minutes=-1), region=claims.get("region"), merchant_id=claims["merchant_id"])
    await page.evaluate("(s) => sessionStorage.setItem('odr.portal.session', JSON.stringify(s))",
                        {**stored, "token": lapsed, "expiresAt": int(time.time() * 1000) - 60_000})
    async with page.expect_response(cases_loaded):
        await page.reload()
    await expect(page.get_by_role("heading", name="待处理案件")).to_be_visible()
    renewed = await stored_session(page)
    assert renewed["token"] not in (lapsed, stored["token"])
    assert renewed["expiresAt"] > time.time() * 1000 + 14 * 60 * 1000

    # The gateway refuses a token the portal still thought good: renewed on the 401, the call made again.
    await page.evaluate("(s) => sessionStorage.setItem('odr.portal.session', JSON.stringify(s))",
                        {**renewed, "token": lapsed})
    async with page.expect_response(cases_loaded):
        await page.reload()
    assert (await stored_session(page))["token"] not in (lapsed, renewed["token"])

    # A new tab signs in silently from the cookie.
    second = await page.context.new_page()
    async with second.expect_response(cases_loaded):
        await second.goto("/portal/#/cases")
    await expect(second.get_by_role("heading", name="待处理案件")).to_be_visible()
    await second.close()

    saved = await page.context.storage_state()
    async with page.expect_response(revoked):
        await page.get_by_role("button", name="退出登录").click()
    await expect(page.get_by_role("heading", name="企业用户登录")).to_be_visible()
    assert not [c for c in await page.context.cookies() if c["name"] == "odr_refresh_merchant"]
    # A copy of the cookie taken before signing out is worth nothing: the gateway revoked the family.
    stolen = await open_page("/portal/#/sign-in", storage_state=saved)
    status = await stolen.evaluate("""() => fetch('/auth/token', {method: 'POST', credentials: 'same-origin',
        headers: {'X-Session-Cookie': 'merchant'}, body: new URLSearchParams({grant_type: 'refresh_token'})})
        .then((answer) => answer.status)""")
    assert status == 400


async def test_an_enterprise_withdraws_an_offer_counters_the_consumer_messages_with_a_file_and_declines(
        open_page: Opener, screen: Screen, api: httpx.AsyncClient, demo: dict[str, Any]) -> None:
    filed, case, session = await open_case(api, demo, "盐湖特产牦牛肉干包装破损，要求全额退款。")
    merchant = demo["merchants"][ENTERPRISE]
    portal = await sign_in(open_page, merchant["portal_username"], merchant["portal_password"])
    await portal.get_by_role("link", name=filed["case_no"], exact=True).click()
    await expect(portal.get_by_text("实时更新已连接")).to_be_visible()
    offers = portal.locator(".el-table").filter(has=portal.get_by_text("提出方", exact=True))

    # An offer made, then withdrawn: the form comes back for a new one.
    await portal.get_by_label("金额（元）").fill("100")
    await portal.get_by_label("说明", exact=True).fill("先退一百元")
    await portal.get_by_role("button", name="提出和解方案").click()
    first = offers.get_by_role("row").filter(has_text="先退一百元")
    await expect(first).to_contain_text("待答复")
    await first.get_by_role("button", name="撤回方案").click()
    await expect(first).to_contain_text("已撤回")
    await expect(portal.get_by_role("button", name="提出和解方案")).to_be_visible()

    # A second offer, which the consumer rejects with a counter of their own: the portal sees it live and counters.
    await portal.get_by_label("金额（元）").fill("150")
    await portal.get_by_label("说明", exact=True).fill("退一百五十元")
    await portal.get_by_role("button", name="提出和解方案").click()
    await expect(offers.get_by_role("row").filter(has_text="退一百五十元")).to_contain_text("待答复")
    detail = (await api.get(f"/v1/consumer/cases/{case}", headers=bearer(session))).json()
    open_offer = next(offer for offer in detail["offers"] if offer["status"] == "open")
    countered = await api.post(f"/v1/consumer/cases/{case}/offers/{open_offer['id']}/reject", headers=bearer(session),
                               json={"counter": {"type": "refund", "amount_fen": 29900, "note": "要求全额退款"}})
    assert countered.status_code == 200, countered.text
    counter = offers.get_by_role("row").filter(has_text="要求全额退款")
    await expect(counter).to_contain_text("消费者")
    await expect(counter.get_by_role("button", name="接受消费者方案")).to_be_visible()
    await expect(portal.get_by_role("heading", name="提出新方案（还价）")).to_be_visible()
    await portal.get_by_label("金额（元）").fill("200")
    await portal.get_by_label("说明", exact=True).fill("折中退二百元")
    await portal.get_by_role("button", name="提出新方案（还价）").click()
    await expect(offers.get_by_role("row").filter(has_text="折中退二百元")).to_contain_text("待答复")
    await expect(counter).not_to_contain_text("待答复")
    await screen(portal, "portal-counter")

    # A message with a file, picked through the portal's own (Chinese) file button.
    await expect(portal.get_by_text("未选择文件").first).to_be_visible()
    await portal.get_by_label("留言内容").fill("附上出库检验照片，请查看。")
    await portal.get_by_label("附件（可选）").set_input_files(
        files=[FilePayload(name="outbound-check.png", mimeType="image/png", buffer=png())])
    await expect(portal.get_by_text("outbound-check.png")).to_be_visible()
    await screen(portal, "portal-message-file")
    await portal.get_by_role("button", name="发送", exact=True).click()
    message = portal.locator(".message").filter(has_text="附上出库检验照片，请查看。")
    await expect(message.get_by_role("button", name="outbound-check.png")).to_be_visible()
    await expect(portal.get_by_role("button", name="发送", exact=True)).to_be_enabled()

    # Declined: the case goes to the regulator and the portal offers nothing more to do.
    await portal.get_by_role("button", name="拒绝协商").click()
    dialog = portal.get_by_role("dialog", name="拒绝协商")
    await dialog.get_by_label("拒绝理由").fill("商品出库时完好，破损系物流造成，已建议向快递公司索赔。")
    await screen(portal, "portal-decline-dialog")
    await dialog.get_by_role("button", name="拒绝协商").click()
    await expect(portal.get_by_text("已拒绝协商，案件已转交监管部门")).to_be_visible()
    await expect(portal.get_by_role("button", name="拒绝协商")).to_have_count(0)
    await expect(portal.get_by_role("button", name="提出新方案（还价）")).to_have_count(0)
    await screen(portal, "portal-declined")


async def test_the_webhook_log_names_each_delivery_in_the_reader_s_language_and_redelivers_it(
        open_page: Opener, screen: Screen, api: httpx.AsyncClient, demo: dict[str, Any]) -> None:
    merchant = demo["merchants"][ENTERPRISE]
    page = await sign_in(open_page, merchant["portal_username"], merchant["portal_password"])
    await page.get_by_role("menuitem", name="消息推送").click()
    await page.get_by_label("接收地址（HTTPS）").fill("https://1.1.1.1/odr/webhook")
    await page.get_by_role("button", name="保存设置").click()
    await expect(page.locator(".once code")).to_have_text(re.compile(r"^whsec_"))

    # A new case for the enterprise: its events are queued for the endpoint, each a row of the log.
    await open_case(api, demo, "盐湖特产枸杞礼盒少发一盒。")
    log = page.locator(".el-table").filter(has=page.get_by_text("事件类型", exact=True))
    opened = log.get_by_role("row").filter(has_text="协商案件已开启")
    deadline = time.monotonic() + 20
    while not await opened.count():
        assert time.monotonic() < deadline, "the negotiation's opening never reached the delivery log"
        await page.reload()
        await expect(page.get_by_role("heading", name="推送记录")).to_be_visible()
    await expect(opened.first).to_contain_text("mediation.case.opened.v1")
    await expect(log.get_by_role("row").filter(has_text="收到新投诉").first).to_be_visible()
    # Whatever the attempt's outcome, it reads in Chinese: no exception text of the delivery worker.
    await expect(opened.first).not_to_contain_text("Error")
    await screen(page, "portal-webhook-log")

    async with page.expect_response(lambda answer: answer.url.endswith("/redeliver")) as redelivered:
        await opened.first.get_by_role("button", name="重新推送").click()
    assert (await redelivered.value).status == 202, await (await redelivered.value).text()
    await expect(page.get_by_text("已重新排队推送")).to_be_visible()

    await page.get_by_role("button", name="English").click()
    await expect(page.get_by_role("heading", name="Delivery log")).to_be_visible()
    log = page.locator(".el-table").filter(has=page.get_by_text("Event type", exact=True))
    await expect(log.get_by_role("row").filter(has_text="Negotiation opened").first).to_be_visible()
    await screen(page, "portal-webhook-log-en")
