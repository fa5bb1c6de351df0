"""The console's statistics dashboard in a real browser (1440x900): the figures a bureau reads, by name, drilled from
a province to a prefecture to a county without the mouse."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.async_api import expect

from browser.browser_testkit import ComplaintFiler, Opener, Screen, sign_in
from browser.test_browser_console_work import staff_token

QINGHAI, HAIXI, GOLMUD = "630000", "632800", "632801"


async def figures(api: httpx.AsyncClient, token: str, region: str, **extra: str) -> dict[str, Any]:
    answer = await api.get("/v1/regulator/stats", params={"region": region, **extra},
                           headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def test_the_dashboard_names_its_regions_and_drills_from_province_to_prefecture_to_county_by_keyboard(
        open_page: Opener, screen: Screen, demo: dict[str, Any], api: httpx.AsyncClient,
        file_complaint: ComplaintFiler) -> None:
    await file_complaint("购买的格尔木特产礼盒缺斤短两，请求退还差价。")
    # The demo's provincial regulator, who governs Qinghai and every region below it.
    qinghai = next(account for account in demo["regulators"] if account["region"] == QINGHAI)
    page = await sign_in(open_page, demo, account=qinghai)
    await expect(page.get_by_role("heading", name="待办案件")).to_be_visible()
    await page.get_by_role("menuitem", name="统计分析").click()
    token = await staff_token(api, qinghai)

    # The province: its figures, by name, and its prefectures as buttons (the chart's bars do the same by mouse).
    await expect(page.get_by_test_id("stats-region")).to_have_text("青海省")
    province = await figures(api, token, QINGHAI)
    assert province["received"] >= 1
    await expect(page.get_by_test_id("kpi-received")).to_have_text(str(province["received"]))
    # The charts the issue names, each with the table behind it for screen readers.
    titles = ("按月登记量（投诉/举报）", "按下级辖区", "按行业", "按来源渠道", "按问题类型",
              "被投诉较多的经营者（前 10）")
    for title in titles:
        await expect(page.locator("figcaption").filter(has_text=title)).to_be_visible()
    by_issue_type = await figures(api, token, QINGHAI, group_by="issue_type")
    issue_table = page.locator("table").filter(has=page.locator("caption", has_text="按问题类型"))
    await expect(issue_table.locator("tbody tr")).to_have_count(len(by_issue_type["groups"]))
    await expect(page.locator("canvas").first).to_be_visible()
    await screen(page, "console-dashboard-province")

    haixi_button = page.get_by_role("button", name=re.compile(r"^海西蒙古族藏族自治州（\d+ 件）$"))
    await haixi_button.focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_test_id("stats-region")).to_have_text("海西蒙古族藏族自治州")
    prefecture = await figures(api, token, HAIXI)
    await expect(page.get_by_test_id("kpi-received")).to_have_text(str(prefecture["received"]))

    await page.get_by_role("button", name=re.compile(r"^格尔木市（\d+ 件）$")).click()
    await expect(page.get_by_test_id("stats-region")).to_have_text("格尔木市")
    county = await figures(api, token, GOLMUD)
    await expect(page.get_by_test_id("kpi-received")).to_have_text(str(county["received"]))
    path = page.get_by_role("navigation", name="辖区层级")
    await expect(path.get_by_role("button", name="青海省")).to_be_visible()
    await expect(path.get_by_role("button", name="海西蒙古族藏族自治州")).to_be_visible()
    # A county has nothing below it to open.
    await expect(page.get_by_role("button", name=re.compile(r"（\d+ 件）$"))).to_have_count(0)
    await screen(page, "console-dashboard-county")

    await path.get_by_role("button", name="青海省").click()
    await expect(page.get_by_test_id("stats-region")).to_have_text("青海省")
    await expect(page.get_by_test_id("kpi-received")).to_have_text(str(province["received"]))
    await page.get_by_role("button", name="English").click()
    await expect(page.locator("figcaption").filter(has_text="By issue type")).to_be_visible()
    await screen(page, "console-dashboard-en")
