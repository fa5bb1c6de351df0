"""The regulator console at /console/: a regulator's day, screen by screen, in a real browser (1440x900)."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import httpx
from playwright.async_api import Page, expect

from browser.browser_testkit import ComplaintFiler, ConsumerFiler, Opener, Screen, sign_in

FIGURES_WAIT = 30.0


async def kpi(page: Page, name: str) -> int:
    return int(await page.get_by_test_id(f"kpi-{name}").inner_text())


async def test_a_regulator_signs_in_accepts_a_complaint_from_the_queue_and_sees_the_dashboard_change(
        open_page: Opener, screen: Screen, demo: dict[str, Any], file_complaint: ComplaintFiler) -> None:
    complaint = await file_complaint("网购的枸杞与宣传不符，商家拒绝退货，请求受理。", photo=True)
    page = await sign_in(open_page, demo, screen)

    # The work queue: cases awaiting a decision, by case number, with a working-day countdown.
    await expect(page.get_by_role("heading", name="待办案件")).to_be_visible()
    row = page.get_by_role("row").filter(has_text=complaint["case_no"])
    await expect(row).to_be_visible()
    await expect(row).to_contain_text("还剩")
    await expect(row).to_contain_text("手机应用")
    await expect(page.locator(".el-loading-mask")).to_be_hidden()
    await screen(page, "console-queue")

    # The dashboard before the decision.
    await page.get_by_role("menuitem", name="统计分析").click()
    await expect(page.get_by_test_id("kpi-accepted")).to_be_visible(timeout=FIGURES_WAIT * 1000)
    accepted_before = await kpi(page, "accepted")
    await screen(page, "console-dashboard-before")

    # Back to the queue, into the case, and accept it.
    await page.get_by_role("menuitem", name="待办案件").click()
    await page.get_by_role("link", name=complaint["case_no"]).click()
    await expect(page.get_by_role("heading", name="案件详情")).to_be_visible()
    await expect(page.get_by_text("网购的枸杞与宣传不符")).to_be_visible()
    await screen(page, "console-case-detail")
    # The evidence photo, fetched with the staff token, is shown from a blob: URL the CSP allows.
    await page.get_by_role("row").filter(has_text="receipt.png").get_by_role("button", name="预览").click()
    photo = page.get_by_role("img", name="证据图片：receipt.png")
    await expect(photo).to_be_visible()
    assert await photo.evaluate("image => image.complete && image.naturalWidth") == 120
    await screen(page, "console-evidence-preview")
    await page.keyboard.press("Escape")
    await expect(page.get_by_role("dialog", name="证据预览")).to_be_hidden()
    await page.get_by_role("button", name="不予受理").click()
    await expect(page.get_by_role("dialog")).to_contain_text("（7）法律、法规、规章规定不予受理的其他情形")
    await screen(page, "console-refuse-dialog")
    await page.get_by_role("dialog").get_by_role("button", name="取消").click()
    await page.get_by_role("button", name="转在线纠纷解决（ODR）企业").click()
    await expect(page.get_by_role("dialog", name="转交 ODR 企业协商处理")).to_be_visible()
    await screen(page, "console-route-dialog")
    await page.get_by_role("dialog", name="转交 ODR 企业协商处理").get_by_role("button", name="取消").click()
    await page.get_by_role("button", name="受理", exact=True).click()
    await page.get_by_role("dialog").get_by_role("button", name="受理", exact=True).click()
    await expect(page.get_by_role("link", name="进入调解工作台")).to_be_visible(timeout=20_000)
    await expect(page.locator(".page-title")).to_contain_text("已受理")

    # The figures follow the decision (the statistics fold their deltas every second).
    await page.get_by_role("menuitem", name="统计分析").click()
    deadline = time.monotonic() + FIGURES_WAIT
    while await kpi(page, "accepted") != accepted_before + 1:
        assert time.monotonic() < deadline, "the dashboard did not count the acceptance"
        await asyncio.sleep(1)
        await page.get_by_role("button", name="统计", exact=True).click()
    await expect(page.locator("canvas").first).to_be_visible()
    await screen(page, "console-dashboard-after")


async def test_a_regulator_terminates_a_mediation_with_a_coded_ground_and_verifies_the_audit_chain(
        open_page: Opener, screen: Screen, demo: dict[str, Any], file_complaint: ComplaintFiler,
        api: httpx.AsyncClient, regulator_token: str, consumer_token: str) -> None:
    complaint = await file_complaint("商家拒不参加调解，请求终止。")
    accepted = await api.post(f"/v1/regulator/complaints/{complaint['id']}/accept",
                              headers={"Authorization": f"Bearer {regulator_token}"})
    assert accepted.status_code == 200, accepted.text
    # A deep link survives the sign-in: the console lands on the case, not the queue.
    page = await sign_in(open_page, demo, path=f"/console/#/cases/{complaint['id']}")
    await expect(page.get_by_role("heading", name="案件详情")).to_be_visible()
    await page.get_by_role("link", name="进入调解工作台").click(timeout=20_000)

    await expect(page.get_by_role("heading", name="调解工作台")).to_be_visible()
    await expect(page.locator(".page-title")).to_contain_text("调解中")
    # The consumer writes while the workspace is open: the message shows without a reload.
    await expect(page.get_by_text("实时更新")).to_be_visible()
    case_id = page.url.rsplit("/", 1)[-1]
    posted = await api.post(f"/v1/consumer/cases/{case_id}/messages", json={"text": "商家一直不接电话，请调解员督促。"},
                            headers={"Authorization": f"Bearer {consumer_token}"})
    assert posted.status_code == 201, posted.text
    await expect(page.get_by_text("商家一直不接电话，请调解员督促。")).to_be_visible()
    await page.get_by_label("消息内容").fill("已电话通知经营者，请于三日内答复。")
    await page.get_by_role("button", name="发送").click()
    await expect(page.locator(".message").filter(has_text="已电话通知经营者")).to_contain_text("监管部门")
    await screen(page, "console-mediation")
    for action, name in (("指派调解员", "console-assign-dialog"), ("记录调解协议", "console-agreement-dialog")):
        await page.get_by_role("button", name=action).click()
        await expect(page.get_by_role("dialog", name=action)).to_be_visible()
        await screen(page, name)
        await page.get_by_role("dialog", name=action).get_by_role("button", name="取消").click()
    await page.get_by_role("button", name="终止调解").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_text("（2）投诉人、被投诉人无正当理由不参加调解，或者明确拒绝调解").click()
    await dialog.get_by_label("说明").fill("经三次通知，经营者无正当理由不参加调解。")
    await screen(page, "console-terminate-dialog")
    await dialog.get_by_role("button", name="终止调解").click()
    await expect(page.get_by_text("已终止调解，应在")).to_be_visible()
    await expect(page.locator(".page-title")).to_contain_text("已终止")
    await expect(page.get_by_role("cell", name="（2）投诉人、被投诉人无正当理由不参加调解")).to_be_visible()
    await screen(page, "console-mediation-terminated")

    await page.get_by_role("menuitem", name="结果链与抽查").click()
    await expect(page.get_by_role("heading", name="结果链核验与抽查")).to_be_visible()
    await page.get_by_role("button", name="核验结果链").click()
    await expect(page.get_by_role("status")).to_contain_text("核验通过")
    await screen(page, "console-audit")


async def test_the_console_speaks_english_on_request_and_a_wrong_password_reads_in_that_language(
        open_page: Opener, screen: Screen, demo: dict[str, Any]) -> None:
    page = await open_page("/console/")
    await page.get_by_role("button", name="English").click()
    await expect(page.get_by_role("heading", name="Staff sign-in")).to_be_visible()
    await page.get_by_label("Username").fill(demo["regulator"]["username"])
    await page.get_by_label("Password", exact=True).fill("not the password")
    await page.get_by_label("Password", exact=True).press("Enter")
    await expect(page.get_by_role("alert")).to_be_visible()
    await expect(page.get_by_role("alert")).not_to_contain_text("验证")
    await screen(page, "console-sign-in-failed-en")
    await page.get_by_label("Password", exact=True).fill(demo["regulator"]["password"])
    await page.get_by_label("Password", exact=True).press("Enter")
    await expect(page.get_by_role("heading", name="Work queue")).to_be_visible()
    await screen(page, "console-queue-en")


async def test_a_regulator_finds_a_report_by_the_queue_filters_verifies_extends_and_decides_it(
        open_page: Opener, screen: Screen, demo: dict[str, Any], file_as_consumer: ConsumerFiler) -> None:
    filed = await file_as_consumer("/v1/consumer/reports", {
        "respondent": {"merchant_id": demo["merchants"][0]["merchant_id"]},
        "request": {"type": "other"},
        "facts": "该店销售的枸杞标注产地与实际不符，涉嫌虚假宣传。",
        "sector": "online_shopping",
    })
    case_no = filed.json()["case_no"]
    page = await sign_in(open_page, demo)
    await expect(page.get_by_role("heading", name="待办案件")).to_be_visible()
    # The queue opens on what awaits a decision: the new report is there beside the complaints pending acceptance.
    await expect(page.locator(".filters")).to_contain_text("待办理（待受理投诉、待处理举报）")
    await expect(page.get_by_role("row").filter(has_text=case_no)).to_contain_text("已收到")

    # The filters by keyboard: Enter opens a select, the option is then picked.
    for field, value in (("状态", "已收到"), ("类型", "举报")):
        await page.get_by_role("combobox", name=field).focus()
        await page.keyboard.press("Enter")
        await page.get_by_role("option", name=value, exact=True).click()
    await page.get_by_role("button", name="查询").click()
    await expect(page.get_by_role("row").filter(has_text=case_no)).to_contain_text("已收到")
    await page.get_by_label("案件编号").fill(case_no)
    await page.get_by_label("案件编号").press("Enter")
    await expect(page.get_by_role("link", name=case_no)).to_be_visible()
    await expect(page.locator(".el-loading-mask")).to_be_hidden()
    await screen(page, "console-queue-reports")

    await page.get_by_role("link", name=case_no).click()
    await page.get_by_role("button", name="开始核查").click()
    await expect(page.locator(".page-title")).to_contain_text("核查中")
    await page.get_by_role("button", name="延长核查期限").click()
    extension = page.get_by_role("dialog", name="延长核查期限")
    await extension.get_by_label("批准负责人").fill("李局长")
    await extension.get_by_label("理由").fill("需调取电商平台交易记录。")
    await screen(page, "console-report-extension-dialog")
    await extension.get_by_role("button", name="提交").click()
    await expect(page.get_by_role("cell", name="已延长 · 还剩")).to_be_visible()

    await page.get_by_role("button", name="作出举报处理决定").click()
    decision = page.get_by_role("dialog", name="作出举报处理决定")
    await decision.get_by_label("理由").fill("经核查，产地标注不实，予以立案。")
    await screen(page, "console-report-decision-dialog")
    await decision.get_by_role("button", name="提交").click()
    await expect(page.locator(".page-title")).to_contain_text("已立案")
    await expect(page.get_by_text("经核查，产地标注不实，予以立案。")).to_be_visible()
    await screen(page, "console-report-decided")


async def test_a_mediator_pauses_the_clock_for_an_appraisal_decides_a_recusal_and_records_the_agreement(
        open_page: Opener, screen: Screen, demo: dict[str, Any], file_complaint: ComplaintFiler,
        api: httpx.AsyncClient, regulator_token: str) -> None:
    complaint = await file_complaint("电热水壶使用一周后漏电，要求赔偿，需送检鉴定。")
    accepted = await api.post(f"/v1/regulator/complaints/{complaint['id']}/accept",
                              headers={"Authorization": f"Bearer {regulator_token}"})
    assert accepted.status_code == 200, accepted.text
    page = await sign_in(open_page, demo, path=f"/console/#/cases/{complaint['id']}")
    await page.get_by_role("link", name="进入调解工作台").click(timeout=20_000)
    await expect(page.get_by_role("heading", name="调解工作台")).to_be_visible()
    clock = page.locator(".el-table__row").filter(has_text="调解期限")

    # The regulator takes the mediation on (the dialog proposes the signed-in account and the case's region).
    await page.get_by_role("button", name="指派调解员").click()
    assign = page.get_by_role("dialog", name="指派调解员")
    await expect(assign.get_by_label("调解员账号")).to_have_value(demo["regulator"]["username"])
    await assign.get_by_role("button", name="确定").click()
    await expect(page.get_by_text("已指派", exact=True)).to_be_visible()

    # The appraisal stops the mediation clock, and its end starts it again.
    await page.get_by_role("button", name="暂停计时（鉴定、检测）").click()
    await expect(clock).to_contain_text("已暂停")
    await screen(page, "console-mediation-paused")
    await page.get_by_role("button", name="恢复计时").click()
    await expect(clock).not_to_contain_text("已暂停")
    await expect(page.get_by_role("button", name="暂停计时（鉴定、检测）")).to_be_visible()

    # A party asks for the mediator's recusal: the mediation is suspended until it is decided.
    await page.get_by_role("button", name="申请回避").click()
    recusal = page.get_by_role("dialog", name="申请回避")
    await recusal.get_by_text("消费者", exact=True).click()
    await recusal.get_by_label("说明").fill("投诉人称调解员与经营者负责人系亲属。")
    await recusal.get_by_role("button", name="提交").click()
    await expect(page.locator(".page-title")).to_contain_text("已中止")
    await page.get_by_role("button", name="回避决定").click()
    decision = page.get_by_role("dialog", name="回避决定")
    await decision.get_by_text("回避不成立", exact=True).click()
    await decision.get_by_label("说明").fill("经核实不存在亲属关系。")
    await screen(page, "console-recusal-decision-dialog")
    await decision.get_by_role("button", name="提交").click()
    await expect(page.locator(".page-title")).to_contain_text("调解中")

    # The agreement both parties signed closes the case as settled.
    await page.get_by_role("button", name="记录调解协议").click()
    agreement = page.get_by_role("dialog", name="记录调解协议")
    await agreement.get_by_label("调解书编号").fill("格市监调〔2026〕15号")
    await agreement.get_by_label("金额（元）").fill("500")
    # Two minutes ago on the browser's clock, in its time zone (the picker's): a consent in the future is refused.
    signed = await page.evaluate("""() => {
      const at = new Date(Date.now() - 120000)
      const two = (n) => String(n).padStart(2, '0')
      return `${at.getFullYear()}-${two(at.getMonth() + 1)}-${two(at.getDate())} ` +
        `${two(at.getHours())}:${two(at.getMinutes())}:${two(at.getSeconds())}`
    }""")
    for field in ("投诉人签署时间", "经营者签署时间"):
        await agreement.get_by_label(field).fill(signed)
        await agreement.get_by_label(field).press("Enter")
    async with page.expect_response(lambda answer: answer.url.endswith("/agreement")) as recorded:
        await agreement.get_by_role("button", name="提交").click()
    assert (await recorded.value).ok, await (await recorded.value).text()
    await expect(page.locator(".page-title")).to_contain_text("已达成协议")
    await expect(page.get_by_text(re.compile(r"格市监调〔2026〕15号 · ¥500\.00"))).to_be_visible()
    await expect(page.get_by_role("button", name="终止调解")).to_have_count(0)
    await screen(page, "console-mediation-settled")


async def test_a_regulator_delegates_a_mediation_to_a_service_station_picked_by_name(
        open_page: Opener, screen: Screen, demo: dict[str, Any], file_complaint: ComplaintFiler,
        api: httpx.AsyncClient, regulator_token: str) -> None:
    complaint = await file_complaint("超市出售的酸奶已过保质期，要求十倍赔偿。")
    accepted = await api.post(f"/v1/regulator/complaints/{complaint['id']}/accept",
                              headers={"Authorization": f"Bearer {regulator_token}"})
    assert accepted.status_code == 200, accepted.text
    station = demo["stations"][0]
    page = await sign_in(open_page, demo, path=f"/console/#/cases/{complaint['id']}")
    await page.get_by_role("link", name="进入调解工作台").click(timeout=20_000)
    await expect(page.get_by_role("heading", name="调解工作台")).to_be_visible()

    # The station's staff are picked from the region's stations, not typed; the region follows the station.
    await page.get_by_role("button", name="指派调解员").click()
    assign = page.get_by_role("dialog", name="指派调解员")
    await assign.get_by_text("维权服务站", exact=True).click()
    await assign.get_by_role("combobox", name="服务站调解人员").click()
    await page.get_by_role("option", name=f"{station['name']} · {station['username']}").click()
    await expect(assign).to_contain_text("格尔木市（632801）")
    await assign.get_by_text("双方已同意委托调解").click()
    await screen(page, "console-delegate-dialog")
    await assign.get_by_role("button", name="确定").click()
    await expect(page.locator(".el-descriptions")).to_contain_text(
        re.compile(rf"维权服务站 · {re.escape(station['username'])}\s*（委托调解）"))
    await screen(page, "console-mediation-delegated")
