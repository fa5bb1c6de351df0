"""The console's ODR-enterprise screens in a real browser (1440x900): a regulator reviews applications with their
business licences, approves one and rejects another, suspends and reinstates the enterprise, reads the scorecards
and the suspension proposals, and opens a service station with a staff account."""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
from typing import Any

import httpx
from playwright.async_api import Page, expect

from browser.browser_testkit import ConsumerFiler, Opener, Screen
from browser.conftest import png
from browser.test_browser_console import sign_in
from merchants.registry.uscc import ALPHABET, check_character
from merchants.scorecards.service import evaluate
from merchants.settings import MerchantsSettings
from odr_runner.stack import Stack
from servicekit.db import create_engine, create_sessionmaker, utcnow

FACTS_WAIT = 30.0

# A one-page PDF (a title and a red frame, like a licence's border), written out with its cross-reference table.
PDF_CONTENT = b"BT /F1 24 Tf 72 720 Td (Business licence) Tj ET 0.78 0.06 0.18 RG 4 w 60 560 480 120 re S"
PDF_OBJECTS = [
    b"<< /Type /Catalog /Pages 2 0 R >>",
    b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
    b"/Resources << /Font << /F1 5 0 R >> >> >>",
    b"<< /Length %d >>\nstream\n" % len(PDF_CONTENT) + PDF_CONTENT + b"\nendstream",
    b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
]


def licence_pdf() -> bytes:
    document = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(PDF_OBJECTS, start=1):
        offsets.append(len(document))
        document += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(document)
    document += b"xref\n0 %d\n0000000000 65535 f \n" % (len(PDF_OBJECTS) + 1)
    document += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    document += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(PDF_OBJECTS) + 1, xref)
    return bytes(document)


def golmud_uscc() -> str:
    body = "91632801" + "".join(secrets.choice(ALPHABET) for _ in range(9))
    return body + check_character(body)


async def apply(api: httpx.AsyncClient, name: str, filename: str, licence: bytes) -> dict[str, Any]:
    """An enterprise's application through the public API, as its own web form would send it."""
    body = {
        "name": name, "uscc": golmud_uscc(), "region_code": "632801", "address": "青海省格尔木市昆仑中路88号",
        "operating_address": "青海省格尔木市河西市场A区12号", "sector": "retail",
        "online_stores": [{"platform": "taobao", "store_id": secrets.token_hex(6)}],
        "contact": {"name": "李明", "phone": "13997001234"}, "undertaking_accepted": True,
        "business_licence": {"filename": filename, "content_base64": base64.b64encode(licence).decode()},
        "criteria": {"handling_place": "昆仑中路88号二楼客服中心", "complaint_staff_count": 2,
                     "complaint_phone": "0979-8412345", "networked_computer": True,
                     "handling_procedures": "收到投诉后1个工作日内联系消费者，5个工作日内提出处理方案并记录归档。",
                     "cooperates_with_regulators": True},
    }
    response = await api.post("/v1/public/odr-applications", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def closed_case_on_the_scorecard(api: httpx.AsyncClient, file_as_consumer: ConsumerFiler, consumer_token: str,
                                       regulator_token: str, merchant_id: str) -> None:
    """A complaint sent to the enterprise by the green channel and withdrawn: one case received and closed without
    a settlement, once the scorecard has taken in both events."""
    body = {
        "kind": "complaint", "green_channel": True,
        "complainant": {"name": "王芳", "phone": "13800138000", "address": "青海省格尔木市昆仑中路12号"},
        "respondent": {"merchant_id": merchant_id}, "request": {"type": "refund", "amount_fen": 5900},
        "facts": "枸杞礼盒破损，商家未回复。", "sector": "online_shopping", "channel": "app",
    }
    filed = (await file_as_consumer("/v1/consumer/complaints", body)).json()
    assert filed["status"] == "with_merchant", filed["status"]
    withdrawn = await api.post(f"/v1/consumer/complaints/{filed['id']}/withdraw",
                               headers={"Authorization": f"Bearer {consumer_token}"})
    assert withdrawn.status_code == 200, withdrawn.text
    deadline = time.monotonic() + FACTS_WAIT
    while True:
        cards = (await api.get("/v1/regulator/scorecards", params={"limit": 100},
                               headers={"Authorization": f"Bearer {regulator_token}"})).json()["items"]
        card = next(card for card in cards if card["merchant_id"] == merchant_id)
        if (card["cases_received"], card["closed"]) == (1, 1):
            return
        assert time.monotonic() < deadline, f"the scorecard did not take in the case: {card}"
        await asyncio.sleep(0.5)


async def evaluate_scorecards_twice(platform: Stack) -> None:
    """The merchants service's own threshold check, run with thresholds a single case can miss and no waiting
    between a warning and its proposal: the first run warns, the second proposes the suspension."""
    settings = MerchantsSettings(database_url=platform.database_url,
                                 database_name=platform.config.database_name("merchants"),
                                 scorecard_min_cases=1, scorecard_propose_after_days=0)
    engine = create_engine(settings, pool_size=1)
    try:
        sessionmaker = create_sessionmaker(engine)
        for _ in range(2):
            async with sessionmaker() as session:
                await evaluate(session, settings=settings, now=utcnow())
    finally:
        await engine.dispose()


async def open_menu(page: Page, item: str, heading: str) -> None:
    await page.get_by_role("menuitem", name=item, exact=True).click()
    await expect(page.get_by_role("heading", name=heading)).to_be_visible()
    await expect(page.locator(".el-loading-mask")).to_be_hidden()


async def search(page: Page, label: str, text: str) -> None:
    await page.get_by_label(label).fill(text)
    await page.get_by_role("button", name="查询").click()
    await expect(page.locator(".el-loading-mask")).to_be_hidden()


async def test_a_regulator_reviews_applications_with_their_licences_and_oversees_the_enterprise(
        open_page: Opener, screen: Screen, demo: dict[str, Any], api: httpx.AsyncClient, platform: Stack,
        regulator_token: str, consumer_token: str, file_as_consumer: ConsumerFiler) -> None:
    marker = secrets.token_hex(3)
    approved_name, rejected_name = f"格尔木昆仑枸杞{marker}有限公司", f"格尔木河西商贸{marker}有限公司"
    approved = await apply(api, approved_name, "营业执照.png", png(600, 400))
    await apply(api, rejected_name, "licence.pdf", licence_pdf())
    page = await sign_in(open_page, demo)
    await expect(page.get_by_role("heading", name="待办案件")).to_be_visible()

    # The pending applications of the region, found by a part of the name.
    await open_menu(page, "入驻申请", "ODR企业入驻申请")
    await search(page, "搜索", marker)
    rows = page.get_by_role("row").filter(has_text=marker)
    await expect(rows).to_have_count(2)
    await expect(rows.first).to_contain_text("待审核")
    await screen(page, "console-odr-applications")

    # The dossier and its licence image, fetched with the token, zoomed and turned.
    await page.get_by_role("link", name=approved_name, exact=True).click()
    await expect(page.get_by_role("heading", name=f"申请详情：{approved_name}")).to_be_visible()
    await expect(page.get_by_text("收到投诉后1个工作日内联系消费者")).to_be_visible()
    image = page.get_by_role("img", name="营业执照图片：营业执照.png")
    await expect(image).to_be_visible()
    assert await image.evaluate("image => image.complete && image.naturalWidth") == 600
    assert (await image.get_attribute("src") or "").startswith("blob:")
    await page.get_by_role("button", name="放大").click()
    await page.get_by_role("button", name="向右旋转").click()
    await expect(page.get_by_text("缩放 125%")).to_be_visible()
    assert "rotate(90deg)" in await image.evaluate("image => image.style.transform")
    await screen(page, "console-odr-application")

    # Approval asks first, and says what it does.
    await page.get_by_role("button", name="审核通过").click()
    dialog = page.get_by_role("dialog", name="审核通过入驻申请")
    await expect(dialog).to_contain_text("一次性链接领取接入凭据")
    await screen(page, "console-odr-approve-dialog")
    await dialog.get_by_role("button", name="审核通过").click()
    await expect(page.locator(".page-title")).to_contain_text("已通过")
    await expect(page.get_by_role("cell", name="reg-golmud", exact=True)).to_be_visible()

    # The list follows: the approved one has left the pending list.
    await open_menu(page, "入驻申请", "ODR企业入驻申请")
    await search(page, "搜索", marker)
    await expect(rows).to_have_count(1)
    await expect(rows).to_contain_text(rejected_name)

    # A PDF licence opens in the browser's own viewer; a rejection needs its reason.
    await page.get_by_role("link", name=rejected_name, exact=True).click()
    frame = page.locator("iframe[title='营业执照（PDF）：licence.pdf']")
    await expect(frame).to_be_visible()
    assert (await frame.get_attribute("src") or "").startswith("blob:")
    await page.wait_for_timeout(3000)  # the viewer draws the page a moment after the frame loads
    await screen(page, "console-odr-application-pdf")
    await page.get_by_role("button", name="驳回申请").click()
    dialog = page.get_by_role("dialog", name="驳回入驻申请")
    await dialog.get_by_role("button", name="驳回申请").click()
    await expect(dialog).to_contain_text("请输入驳回理由")
    await screen(page, "console-odr-reject-dialog")
    await dialog.get_by_label("驳回理由").fill("营业执照经营范围与申报行业不符，请补正后重新申请。")
    await dialog.get_by_role("button", name="驳回申请").click()
    await expect(page.locator(".page-title")).to_contain_text("已驳回")
    await expect(page.get_by_text("营业执照经营范围与申报行业不符")).to_be_visible()

    # The approved applicant is now an enterprise of the region; suspend it, with a reason.
    await open_menu(page, "ODR企业", "本辖区 ODR 企业")
    await search(page, "搜索", marker)
    row = page.get_by_role("row").filter(has_text=approved_name)
    await expect(row).to_contain_text("正常")
    await expect(page.get_by_role("row").filter(has_text=rejected_name)).to_have_count(0)
    await row.get_by_role("button", name=f"暂停 {approved_name}").click()
    dialog = page.get_by_role("dialog", name="暂停 ODR 企业资格")
    await dialog.get_by_label("理由").fill("投诉处理超期，暂停整改。")
    await screen(page, "console-odr-suspend-dialog")
    await dialog.get_by_role("button", name="暂停").click()
    await expect(row).to_contain_text("已暂停")
    await expect(row).to_contain_text("投诉处理超期，暂停整改。")
    await screen(page, "console-odr-enterprises")

    # Someone else reinstates it meanwhile: reinstating again is refused, in words, and the list catches up.
    reinstated = await api.post(f"/v1/regulator/merchants/{approved['merchant_id']}/reinstate",
                                json={"reason": "整改完成"}, headers={"Authorization": f"Bearer {regulator_token}"})
    assert reinstated.status_code == 200, reinstated.text
    await row.get_by_role("button", name=f"恢复 {approved_name}").click()
    dialog = page.get_by_role("dialog", name="恢复 ODR 企业资格")
    await dialog.get_by_label("理由").fill("整改完成")
    await dialog.get_by_role("button", name="恢复").click()
    await expect(page.get_by_text("该企业当前状态为「正常」，不能恢复")).to_be_visible()
    await expect(row).to_contain_text("正常")

    # A case closed without settlement misses the settlement threshold: a warning, then a suspension proposal.
    await closed_case_on_the_scorecard(api, file_as_consumer, consumer_token, regulator_token,
                                       approved["merchant_id"])
    await evaluate_scorecards_twice(platform)

    # Scorecards of the month, with the warning marked on its row and metric, and their charts.
    await open_menu(page, "考核评价", "ODR企业考核评价")
    table = page.locator(".odr-table")
    await expect(table.get_by_role("row").filter(has_text=demo["merchants"][0]["name"])).to_be_visible()
    flagged = table.locator(".row-flagged").filter(has_text=approved_name)
    await expect(flagged).to_contain_text("建议暂停")
    await expect(flagged).to_contain_text("和解率 0% 低于 50%")
    await expect(flagged.locator(".metric-missed")).to_have_text("0%")
    await expect(page.locator("canvas")).to_have_count(2)
    # Month by month, the flagged enterprise first.
    await expect(page.locator("figcaption").filter(has_text=f"{approved_name}近 6 个月考核趋势")).to_be_visible()
    await screen(page, "console-odr-scorecards")

    # The proposal awaits the regulator, who confirms it with a reason: the enterprise is suspended.
    await open_menu(page, "暂停建议", "暂停资格建议")
    proposal = page.get_by_role("row").filter(has_text=approved_name)
    await expect(proposal).to_contain_text("待处理")
    await screen(page, "console-odr-proposals")
    await proposal.get_by_role("button", name=f"确认暂停 {approved_name}").click()
    dialog = page.get_by_role("dialog", name="确认暂停建议")
    await dialog.get_by_label("理由").fill("和解率持续不达标，暂停整改。")
    await screen(page, "console-odr-confirm-dialog")
    await dialog.get_by_role("button", name="确认暂停").click()
    await expect(page.get_by_text("已确认，企业已暂停")).to_be_visible()
    await expect(proposal).to_have_count(0)
    await page.get_by_text("显示已处理").click()
    await expect(proposal).to_contain_text("已确认暂停")
    await open_menu(page, "ODR企业", "本辖区 ODR 企业")
    await search(page, "搜索", marker)
    await expect(page.get_by_role("row").filter(has_text=approved_name)).to_contain_text("和解率持续不达标")
    await expect(page.get_by_role("row").filter(has_text=approved_name)).to_contain_text("已暂停")


async def test_a_regulator_opens_a_station_and_hands_its_staff_a_password_shown_once(
        open_page: Opener, screen: Screen, demo: dict[str, Any], api: httpx.AsyncClient) -> None:
    marker = secrets.token_hex(3)
    station_name = f"格尔木昆仑市场{marker}消费维权服务站"
    username = f"kunlun-{marker}"
    page = await sign_in(open_page, demo)
    await expect(page.get_by_role("heading", name="待办案件")).to_be_visible()
    await open_menu(page, "维权服务站", "消费维权服务站")

    await page.get_by_role("button", name="新建服务站").click()
    dialog = page.get_by_role("dialog", name="新建消费维权服务站")
    await dialog.get_by_label("服务站名称").fill(station_name)
    await dialog.get_by_label("依托单位").fill("格尔木昆仑市场管理有限公司")
    await expect(dialog.get_by_label("辖区代码")).to_have_value("632801")
    await dialog.get_by_label("地址").fill("青海省格尔木市昆仑中路100号")
    await dialog.get_by_label("联系电话").fill("0979-84")
    await dialog.get_by_role("button", name="新建服务站").click()
    await expect(dialog).to_contain_text("格式不正确：手机号、固定电话")
    await screen(page, "console-odr-station-dialog")
    await dialog.get_by_label("联系电话").fill("0979-8412300")
    await dialog.get_by_role("button", name="新建服务站").click()
    row = page.get_by_role("row").filter(has_text=station_name)
    await expect(row).to_be_visible()

    await row.get_by_role("button", name=f"添加工作人员 {station_name}").click()
    dialog = page.get_by_role("dialog", name=f"为「{station_name}」添加工作人员")
    await dialog.get_by_label("用户名").fill(username)
    await dialog.get_by_label("姓名").fill("马晓兰")
    # Every generated password meets the server's rules (three kinds of characters): a draw without a digit, about
    # one in eleven, used to be refused and the dialog stayed open.
    for _ in range(40):
        await dialog.get_by_role("button", name="生成").click()
        generated = await dialog.get_by_label("初始密码").input_value()
        assert len(generated) == 16
        assert any(c.isupper() for c in generated), generated
        assert any(c.islower() for c in generated), generated
        assert any(c.isdigit() for c in generated), generated
    await dialog.get_by_role("button", name="添加工作人员").click()
    handover = page.get_by_role("dialog", name="工作人员账号已创建")
    await expect(handover).to_contain_text("密码只显示这一次")
    await expect(handover.get_by_test_id("one-time-password")).to_have_text(generated)
    await screen(page, "console-odr-staff-password")
    await handover.get_by_role("button", name="我已记下").click()
    await expect(handover).to_be_hidden()
    await expect(row).to_contain_text(username)
    assert generated not in await page.content()
    await screen(page, "console-odr-stations")
    # Every text of the screen has its English.
    await page.get_by_role("button", name="English").click()
    await expect(page.get_by_role("heading", name="Consumer rights service stations")).to_be_visible()
    await expect(page.get_by_role("menuitem", name="Suspension proposals")).to_be_visible()
    await screen(page, "console-odr-stations-en")

    # The staff member signs in with what was handed over.
    token = await api.post("/auth/token", data={"grant_type": "password", "username": username,
                                                "password": generated})
    assert token.status_code == 200, token.text
