"""The console's daily-work screens in a real browser (1440x900): the work queue's filters and their link, masked
parties revealed with a reason (and the consumer seeing who read them), transfer and issue type, the period summary
with print and CSV, consultations and 12315 imports."""

from __future__ import annotations

import csv
import io
import re
import time
import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
from playwright.async_api import Page, expect

from browser.browser_testkit import PHONE, ComplaintFiler, ConsumerFiler, Opener, Screen
from browser.test_browser_console import sign_in
from odr_runner.stack import Stack
from servicekit.db import asyncpg_dsn

SHANGHAI = ZoneInfo("Asia/Shanghai")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def staff_token(api: httpx.AsyncClient, account: dict[str, Any]) -> str:
    response = await api.post("/auth/token", data={"grant_type": "password", "username": account["username"],
                                                   "password": account["password"]})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def pick(page: Page, combobox: str, option: str) -> None:
    """An Element Plus select by keyboard: focus, Enter opens it, then the option is clicked."""
    await page.get_by_role("combobox", name=combobox, exact=True).focus()
    await page.keyboard.press("Enter")
    await page.get_by_role("option", name=option, exact=True).click()


async def test_the_queue_filters_by_a_combination_and_by_case_number_and_its_link_reproduces_the_view(
        open_page: Opener, screen: Screen, demo: dict[str, Any], file_complaint: ComplaintFiler,
        file_as_consumer: ConsumerFiler) -> None:
    wanted = (await file_as_consumer("/v1/consumer/complaints", {
        "complainant": {"name": "李娜", "phone": demo["consumer_phone"]},
        "respondent": {"merchant_id": demo["merchants"][0]["merchant_id"]},
        "request": {"type": "refund", "amount_fen": 5900},
        "facts": "店家宣称的有机食品没有任何认证。",
        "sector": "food", "issue_type": "false_advertising", "channel": "web",
    })).json()
    other = await file_complaint("网购的枸杞少发了一袋。")
    page = await sign_in(open_page, demo)
    await expect(page.get_by_role("row").filter(has_text=other["case_no"])).to_be_visible()

    await pick(page, "行业", "食品")
    await pick(page, "问题类别", "虚假宣传")
    await pick(page, "来源渠道", "网站")
    await page.get_by_label("到期天数").fill("10")
    await page.get_by_role("button", name="查询").click()

    await expect(page.get_by_role("row").filter(has_text=wanted["case_no"])).to_contain_text("虚假宣传")
    await expect(page.get_by_role("row").filter(has_text=other["case_no"])).to_have_count(0)
    for row in await page.locator(".queue-table tbody tr").all():
        await expect(row).to_contain_text("食品")
        await expect(row).to_contain_text("网站")
    assert "issue_type=false_advertising" in page.url
    assert "due_within=10" in page.url
    await expect(page.locator(".el-loading-mask")).to_be_hidden()
    await screen(page, "console-queue-filtered")

    # The link, with a region added, opened by someone who must sign in first: the same view.
    link = page.url.split("/console/", 1)[1] + "&region=632801"
    again = await sign_in(open_page, demo, path=f"/console/{link}")
    await expect(again.get_by_role("row").filter(has_text=wanted["case_no"])).to_be_visible()
    await expect(again.get_by_role("row").filter(has_text=other["case_no"])).to_have_count(0)
    await expect(again.locator(".filters")).to_contain_text("虚假宣传")
    await expect(again.locator(".filters")).to_contain_text("格尔木市（632801）")

    # By case number, after a reset to the default view (awaiting a decision): the one case.
    await again.get_by_role("button", name="重置").click()
    await again.get_by_label("案件编号").fill(other["case_no"])
    await again.get_by_label("案件编号").press("Enter")
    await expect(again.get_by_role("link", name=other["case_no"])).to_be_visible()
    await expect(again.locator(".queue-table tbody tr")).to_have_count(1)
    assert f"case_no={other['case_no']}" in again.url
    await expect(again.locator(".el-loading-mask")).to_be_hidden()
    await screen(again, "console-queue-case-number")


async def test_a_reveal_with_a_reason_shows_the_full_phone_and_the_consumer_sees_who_read_it(
        open_page: Opener, screen: Screen, demo: dict[str, Any], file_complaint: ComplaintFiler,
        consumer_token: str) -> None:
    complaint = await file_complaint("商家电话打不通，请工作人员联系我。")
    page = await sign_in(open_page, demo, path=f"/console/#/cases/{complaint['id']}")
    parties = page.get_by_test_id("complainant")
    await expect(parties).to_contain_text("王* · 138****8000")
    await expect(page.get_by_text("13800138000")).to_have_count(0)
    await expect(page.get_by_test_id("access-log")).to_contain_text("暂无查阅记录")
    await screen(page, "console-case-masked")

    await page.get_by_role("button", name="查看完整信息").click()
    dialog = page.get_by_role("dialog", name="查看当事人完整个人信息")
    await dialog.get_by_role("button", name="查看完整信息").click()
    await expect(dialog).to_contain_text("请输入查阅目的")  # no reveal without a reason
    await dialog.get_by_text("联系当事人").click()
    await dialog.get_by_label("查阅说明").fill("电话联系投诉人核实联系方式")
    await screen(page, "console-reveal-dialog")
    await dialog.get_by_role("button", name="查看完整信息").click()

    await expect(parties).to_contain_text("王芳 · 13800138000")
    await expect(page.get_by_text("已显示完整信息（查阅已记录）")).to_be_visible()
    log = page.get_by_test_id("access-log")
    await expect(log).to_contain_text(demo["regulator"]["username"])
    await expect(log).to_contain_text("联系当事人")
    await expect(log).to_contain_text("电话联系投诉人核实联系方式")
    await screen(page, "console-case-revealed")
    await page.get_by_role("button", name="English").click()
    await expect(page.get_by_text("Reads of personal data")).to_be_visible()
    await expect(page.get_by_test_id("access-log")).to_contain_text("Contact a party")
    await screen(page, "console-case-revealed-en")

    # The consumer's app lists the read: the role and the bureau, not the person.
    app = await open_page("/app/", viewport=PHONE)
    await app.evaluate("(s) => localStorage.setItem('odr.session', JSON.stringify(s))", {
        "token": consumer_token, "phone": demo["consumer_phone"], "expiresAt": int(time.time() * 1000) + 3_000_000})
    await app.goto(f"/app/#/complaints/{complaint['id']}")
    await app.reload()
    card = app.get_by_role("region", name="个人信息查阅记录")
    await expect(card).to_contain_text("市场监管部门工作人员（格尔木市市场监督管理部门）")
    await expect(card).to_contain_text("目的：联系当事人")
    await expect(card).to_contain_text("姓名")
    await expect(card).not_to_contain_text(demo["regulator"]["username"])
    await card.scroll_into_view_if_needed()
    await screen(app, "app-access-log")


async def test_a_regulator_corrects_the_issue_type_and_transfers_a_complaint_to_the_competent_bureau(
        open_page: Opener, screen: Screen, demo: dict[str, Any], file_complaint: ComplaintFiler,
        api: httpx.AsyncClient, regulator_token: str) -> None:
    complaint = await file_complaint("商家实际在德令哈经营，价格欺诈。")
    page = await sign_in(open_page, demo, path=f"/console/#/cases/{complaint['id']}")
    await expect(page.get_by_test_id("issue-type")).to_have_text("其他")

    await page.get_by_role("button", name="更正类别").click()
    dialog = page.get_by_role("dialog", name="更正问题类别")
    await pick(page, "问题类别", "价格问题")
    await dialog.get_by_label("更正说明（选填）").fill("实为价格欺诈")
    await screen(page, "console-issue-type-dialog")
    await dialog.get_by_role("button", name="提交").click()
    await expect(page.get_by_test_id("issue-type")).to_have_text("价格问题")

    await page.get_by_role("button", name="移送其他部门").click()
    dialog = page.get_by_role("dialog", name="移送有处理权限的市场监管部门（第十三条、第四十一条）")
    await dialog.get_by_role("combobox", name="接收部门所在辖区").fill("德令哈")
    await page.get_by_role("option", name="德令哈市（632802）").click()
    await dialog.get_by_label("移送理由（将告知投诉人）").fill("经营者住所地在德令哈市，由德令哈市局处理。")
    await screen(page, "console-transfer-dialog")
    await dialog.get_by_role("button", name="移送其他部门").click()

    await expect(page.get_by_text("已移送至 德令哈市（632802）")).to_be_visible()
    await expect(page.get_by_role("heading", name="待办案件")).to_be_visible()
    await expect(page.get_by_role("link", name=complaint["case_no"])).to_have_count(0)
    await screen(page, "console-transferred")
    delingha = next(account for account in demo["regulators"] if account["region"] == "632802")
    received = await api.get(f"/v1/regulator/complaints/{complaint['id']}",
                             headers=bearer(await staff_token(api, delingha)))
    assert received.status_code == 200, received.text
    assert (received.json()["region_code"], received.json()["status"]) == ("632802", "pending_acceptance")
    assert received.json()["issue_type"] == "price"
    sender = await api.get(f"/v1/regulator/complaints/{complaint['id']}", headers=bearer(regulator_token))
    assert sender.status_code == 404


async def test_the_period_summary_prints_as_a_report_and_exports_its_csv(
        open_page: Opener, screen: Screen, demo: dict[str, Any], api: httpx.AsyncClient,
        regulator_token: str) -> None:
    page = await sign_in(open_page, demo)
    await page.get_by_role("menuitem", name="期间汇总报告").click()
    report = page.get_by_test_id("period-report")
    await expect(report).to_contain_text("格尔木市市场监督管理局消费投诉举报咨询工作情况")
    year = datetime.now(SHANGHAI).date()
    expected = (await api.get("/v1/regulator/reports/summary", headers=bearer(regulator_token),
                              params={"from": f"{year.year}-01-01", "to": year.isoformat()})).json()
    await expect(page.get_by_test_id("total-received")).to_have_text(str(expected["total_received"]))
    await screen(page, "console-summary")

    async with page.expect_download() as download_info:
        await page.get_by_role("button", name="导出 CSV（Excel 可直接打开）").click()
    download = await download_info.value
    assert download.suggested_filename == f"report-632801-{year.year}0101-{year:%Y%m%d}.csv"
    content = (await download.path()).read_bytes()
    assert content.startswith("\ufeff".encode())  # Excel opens the Chinese as UTF-8
    lines = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert lines[0] == ["section", "figure", "label", "value"]
    figures = {(section, figure): value for section, figure, _, value in lines[1:]}
    assert figures[("period", "region")] == "632801"
    assert figures[("complaints", "received")] == str(expected["complaints"]["received"])
    assert figures[("consultations", "received")] == str(expected["consultations"]["received"])

    # Printed: the report alone on the page, with the bureau's title, no menu or buttons.
    await page.emulate_media(media="print")
    await expect(page.locator(".sidebar")).to_be_hidden()
    await expect(page.locator(".topbar")).to_be_hidden()
    await expect(page.get_by_role("button", name="打印报告")).to_be_hidden()
    await expect(report).to_be_visible()
    await screen(page, "console-summary-print")
    await page.emulate_media(media="screen")
    await page.get_by_role("button", name="English").click()
    await expect(report).to_contain_text("Market Regulation Bureau of 格尔木市")
    await expect(page.get_by_role("button", name="Export CSV (opens in Excel)")).to_be_visible()
    await screen(page, "console-summary-en")


async def test_a_consultation_is_answered_and_a_12315_export_is_imported(
        open_page: Opener, screen: Screen, demo: dict[str, Any], api: httpx.AsyncClient,
        consumer_token: str) -> None:
    asked = await api.post("/v1/consumer/consultations", headers={**bearer(consumer_token),
                                                                  "Idempotency-Key": str(uuid.uuid4())},
                           json={"question": "网购生鲜收到时已变质，七天无理由退货适用吗？",
                                 "sector": "online_shopping", "region_code": "632801"})
    assert asked.status_code == 201, asked.text
    consultation = asked.json()
    page = await sign_in(open_page, demo)
    await page.get_by_role("menuitem", name="咨询答复").click()
    await page.get_by_role("button", name=consultation["case_no"]).click()
    dialog = page.get_by_role("dialog", name="咨询详情")
    await expect(dialog).to_contain_text("七天无理由退货适用吗")
    await dialog.get_by_role("button", name="提交答复").click()
    await expect(dialog).to_contain_text("请输入答复内容")
    await dialog.get_by_label("答复内容").fill("生鲜商品不适用七天无理由退货，但变质属于质量问题，可要求退货退款。")
    await screen(page, "console-consultation-dialog")
    await dialog.get_by_role("button", name="提交答复").click()
    await expect(dialog.get_by_test_id("consultation-answer")).to_contain_text("可要求退货退款")
    answered = await api.get(f"/v1/consumer/consultations/{consultation['id']}", headers=bearer(consumer_token))
    assert answered.json()["status"] == "answered"
    await dialog.get_by_role("button", name="取消").click()
    await expect(page.get_by_role("button", name=consultation["case_no"])).to_have_count(0)  # no longer open
    await screen(page, "console-consultations")

    received = (datetime.now(SHANGHAI) - timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
    ticket = f"T{uuid.uuid4().hex[:12]}"
    export = ("ticket_no,received_at,consumer_name,consumer_phone,business_name,business_region_code,sector,facts\r\n"
              f"{ticket},{received},赵敏,13912345678,格尔木某超市,632801,retail,买到过期酸奶\r\n"
              f"{ticket}-2,{received},钱多,12345,格尔木某超市,632801,retail,价格标签与结算价不符\r\n")
    await page.get_by_role("menuitem", name="转办导入").click()
    await page.get_by_label("导出文件").set_input_files(files=[{
        "name": "12315-export.csv", "mimeType": "text/csv", "buffer": export.encode()}])
    await page.get_by_role("button", name="导入").click()
    result = page.get_by_test_id("import-result")
    await expect(result.get_by_test_id("import-filed")).to_have_text("1")
    refused_phone = result.get_by_role("row").filter(has_text="consumer_phone")
    await expect(refused_phone).to_contain_text("2")
    await expect(refused_phone).to_contain_text("格式不正确")  # the reason in the reader's language, not pydantic's
    await expect(refused_phone).not_to_contain_text("String should match")
    await expect(result.get_by_role("link", name="TS-632801-")).to_be_visible()
    await screen(page, "console-import-result")


async def test_an_overdue_case_is_marked_in_red_and_the_overdue_filter_finds_it(
        open_page: Opener, screen: Screen, demo: dict[str, Any], platform: Stack,
        file_complaint: ComplaintFiler) -> None:
    complaint = await file_complaint("投诉已超过七个工作日，仍未作出是否受理的决定。")
    connection = await asyncpg.connect(asyncpg_dsn(platform.database_url, platform.config.database_name("complaints")))
    try:
        # Its initial-review clock ran out yesterday, as the breach sweeper would find it.
        await connection.execute("UPDATE deadline SET due_at = now() - interval '1 day', state = 'breached', "
                                 "breached_at = now() WHERE complaint_id = $1", uuid.UUID(complaint["id"]))
    finally:
        await connection.close()
    page = await sign_in(open_page, demo)
    row = page.get_by_role("row").filter(has_text=complaint["case_no"])
    countdown = row.locator(".countdown")
    await expect(countdown).to_have_text(re.compile(r"已超期 \d+ 个工作日"))
    await expect(countdown).to_have_class(re.compile(r"\boverdue\b"))
    assert await countdown.evaluate("element => getComputedStyle(element).color") == "rgb(179, 38, 30)"

    await page.get_by_text("仅看超期").click()
    await page.get_by_role("button", name="查询").click()
    await expect(row).to_be_visible()
    assert "overdue=true" in page.url
    await expect(page.locator(".el-loading-mask")).to_be_hidden()
    for each in await page.locator(".queue-table tbody tr").all():
        await expect(each.locator(".countdown")).to_have_class(re.compile(r"\boverdue\b"))
    await screen(page, "console-queue-overdue")
