"""The console's audit section (issue 15): a regulator reviews a case the low_settlement signal put in the queue,
from the queue to the outcome record and the review form, then reads the thresholds, the period's figures and
verifies the outcome chain (1440x900)."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from playwright.async_api import Page, expect

from browser.browser_testkit import ConsumerFiler, Opener, Screen, sign_in

REQUESTED_FEN = 300_000  # 3,000 yuan asked for
AGREED_FEN = 500  # 5 yuan agreed: below a tenth, so low_settlement
CASE_WAIT = 30.0
SHANGHAI = ZoneInfo("Asia/Shanghai")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def settle_for_a_pittance(api: httpx.AsyncClient, demo: dict[str, Any], consumer_token: str,
                                file_as_consumer: ConsumerFiler) -> dict[str, Any]:
    """Files a green-channel complaint against demo enterprise A asking 3,000 yuan, which the enterprise settles
    with a 5-yuan refund the consumer accepts; answers the filed complaint."""
    merchant = demo["merchants"][0]
    purchased = (datetime.now(SHANGHAI) - timedelta(days=5)).date().isoformat()
    filed = (await file_as_consumer("/v1/consumer/complaints", {
        "kind": "complaint", "green_channel": True,
        "complainant": {"name": "李强", "phone": demo["consumer_phone"], "address": "青海省格尔木市黄河路8号"},
        "respondent": {"merchant_id": merchant["merchant_id"]},
        "request": {"type": "refund", "amount_fen": REQUESTED_FEN},
        "facts": "购买的冬虫夏草为次品，要求全额退款三千元。",
        "purchase": {"date": purchased, "amount_fen": REQUESTED_FEN, "order_no": "TM2026112900042"},
        "sector": "online_shopping", "category": "food.local_specialty", "channel": "app",
    })).json()
    assert filed["status"] == "with_merchant", filed["status"]
    deadline = time.monotonic() + CASE_WAIT
    while True:
        detail = (await api.get(f"/v1/consumer/complaints/{filed['id']}", headers=bearer(consumer_token))).json()
        if detail.get("mediation_case_id"):
            break
        assert time.monotonic() < deadline, "no negotiation case was opened for the complaint"
        await asyncio.sleep(0.5)
    token = await api.post("/auth/token", data={"grant_type": "client_credentials", "client_id": merchant["client_id"],
                                                "client_secret": merchant["client_secret"]})
    assert token.status_code == 200, token.text
    case_id = detail["mediation_case_id"]
    offer = await api.post(f"/v1/merchant/cases/{case_id}/offers", headers=bearer(token.json()["access_token"]),
                           json={"type": "refund", "amount_fen": AGREED_FEN, "note": "退款五元"})
    assert offer.status_code == 201, offer.text
    accepted = await api.post(f"/v1/consumer/cases/{case_id}/offers/{offer.json()['id']}/accept",
                              headers=bearer(consumer_token))
    assert accepted.status_code == 200, accepted.text
    return {**filed, "case_id": case_id}


async def pick(page: Page, field: str, option: str) -> None:
    """Opens a select by keyboard and picks an option."""
    await page.get_by_role("combobox", name=field).focus()
    await page.keyboard.press("Enter")
    await page.get_by_role("option", name=option, exact=True).click()


async def test_a_regulator_reviews_a_low_settlement_from_the_queue_and_verifies_the_chain(
        open_page: Opener, screen: Screen, demo: dict[str, Any], api: httpx.AsyncClient, consumer_token: str,
        file_as_consumer: ConsumerFiler) -> None:
    settled = await settle_for_a_pittance(api, demo, consumer_token, file_as_consumer)
    case_no = settled["case_no"]
    page = await sign_in(open_page, demo)
    await expect(page.get_by_role("heading", name="待办案件")).to_be_visible()

    # The queue, filtered to the signal: the case is there with its signal in words and the day it was raised.
    await page.get_by_role("menuitem", name="审核队列").click()
    await expect(page.get_by_role("heading", name="审核队列")).to_be_visible()
    await pick(page, "预警信号", "和解金额过低")
    await page.get_by_role("button", name="查询").click()
    row = page.get_by_role("row").filter(has_text=case_no)
    await expect(row).to_contain_text("和解金额过低")
    await expect(row).to_contain_text("待审核")
    await expect(page.locator(".el-loading-mask")).to_be_hidden()
    # The rule of the signal, in words, on hover or focus.
    await row.locator(".el-tag", has_text="和解金额过低").focus()
    await expect(page.get_by_role("tooltip")).to_contain_text("低于诉求金额的 10%")
    await screen(page, "console-audit-queue")

    # The case's outcome record: asked against agreed, who settled it, the signal with its rule and detail.
    await row.get_by_role("link", name=case_no, exact=True).click()
    await expect(page.get_by_role("heading", name="结果审核")).to_be_visible()
    await expect(page.get_by_test_id("outcome-requested")).to_have_text("退款 · ¥3,000.00")
    await expect(page.get_by_test_id("outcome-agreed")).to_have_text("退款 · ¥5.00")
    await expect(page.get_by_text("企业协商", exact=True)).to_be_visible()
    signal = page.get_by_role("article", name="和解金额过低")
    await expect(signal).to_contain_text("达成协议的金额低于诉求金额的 10%")
    await expect(signal).to_contain_text("0.17%")
    await expect(page.get_by_role("link", name="查看调解案件")).to_have_attribute(
        "href", f"#/mediation/{settled['case_id']}")
    await screen(page, "console-audit-review")

    # The review: no outcome chosen is refused on the spot; "confirmed" with a note is recorded on the chain.
    await page.get_by_role("button", name="记录审核结论").click()
    await expect(page.get_by_text("请选择审核结论")).to_be_visible()
    await page.locator(".el-radio", has_text="维持原结果").click()
    await expect(page.get_by_role("radio", name="维持原结果")).to_be_checked()
    await page.get_by_label("审核意见").fill("经电话核实，消费者自愿接受五元退款，结果维持。")
    await page.get_by_role("button", name="记录审核结论").click()
    await expect(page.get_by_text("已记录审核结论，并写入审计结果链第")).to_be_visible()
    await expect(page.get_by_test_id("review-outcome")).to_have_text("维持原结果")
    await expect(page.locator(".page-title")).to_contain_text("已审核")
    await screen(page, "console-audit-reviewed")

    # Back in the queue, among the reviewed items, with its outcome.
    await page.get_by_role("menuitem", name="审核队列").click()
    await pick(page, "审核状态", "已审核")
    await page.get_by_role("button", name="查询").click()
    await expect(page.get_by_role("row").filter(has_text=case_no)).to_contain_text("维持原结果")

    # The region's thresholds: each setting in force, where it comes from, and the region's own value to set.
    await page.get_by_role("menuitem", name="预警阈值").click()
    await expect(page.get_by_role("heading", name="预警阈值设置")).to_be_visible()
    await expect(page.get_by_test_id("effective-low_settlement_share")).to_have_text("10%")
    await page.get_by_label("再次投诉：办结后天数").fill("45")
    await page.get_by_role("button", name="保存").click()
    await expect(page.get_by_text("已保存本辖区阈值")).to_be_visible()
    await expect(page.get_by_test_id("effective-refile_days")).to_have_text("45")
    await page.get_by_label("再次投诉：办结后天数").fill("")
    await page.get_by_role("button", name="保存").click()
    await expect(page.get_by_test_id("effective-refile_days")).to_have_text("30")
    await screen(page, "console-audit-thresholds")

    # The period's figures count the review, as numbers and as a chart.
    await page.get_by_role("menuitem", name="审计数据").click()
    await expect(page.get_by_role("heading", name="审计数据")).to_be_visible()
    await expect(page.get_by_test_id("kpi-cases-reviewed")).not_to_have_text("0")
    await expect(page.locator("canvas").first).to_be_visible()
    await screen(page, "console-audit-figures")

    # And the chain, with the review on it, verifies.
    await page.get_by_role("menuitem", name="结果链与抽查").click()
    await page.get_by_role("button", name="核验结果链").click()
    await expect(page.get_by_role("status")).to_contain_text("核验通过")
    await screen(page, "console-audit-chain")


async def test_the_audit_review_reads_in_english(
        open_page: Opener, screen: Screen, demo: dict[str, Any], api: httpx.AsyncClient, consumer_token: str,
        file_as_consumer: ConsumerFiler, regulator_token: str) -> None:
    settled = await settle_for_a_pittance(api, demo, consumer_token, file_as_consumer)
    queue = (await api.get("/v1/regulator/audit/queue", headers=bearer(regulator_token),
                           params={"region": demo["regulator"]["region"], "signal": "low_settlement"})).json()
    item = next(item for item in queue["items"] if item["case_id"] == settled["case_id"])
    page = await sign_in(open_page, demo, path=f"/console/#/audit/reviews/{item['id']}")
    await expect(page.get_by_role("heading", name="结果审核")).to_be_visible()
    await page.get_by_role("button", name="English").click()
    await expect(page.get_by_role("heading", name="Outcome review")).to_be_visible()
    await expect(page.get_by_role("article", name="Low settlement")).to_contain_text(
        "The agreed amount is below 10% of the amount asked for")
    await expect(page.get_by_test_id("outcome-agreed")).to_have_text("Refund · CN¥5.00")
    await screen(page, "console-audit-review-en")
