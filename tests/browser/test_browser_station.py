"""The station desk at /station/: station staff file a walk-in consumer's complaint (identity checked on the spot),
settle it on the spot, and see the station's figures change, in a real browser (1440x900, then a tablet); and the
staff sign-in's steps at the desk: an account with an authenticator gives its code, one with a temporary password
chooses its own (issue 14)."""

from __future__ import annotations

import re
import secrets
import time
from datetime import datetime, timedelta
from typing import Any

import httpx
from playwright.async_api import Page, expect

from browser.browser_testkit import TABLET, Opener, Screen
from browser.conftest import SHANGHAI, png
from browser.test_browser_staff import authenticator_code

WALK_IN_PHONE = "13907091234"
RESIDENT_ID = "632801199003071235"
STAFF_PASSWORD = "Qaidam-desk-2026"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def password_token(api: httpx.AsyncClient, username: str, password: str) -> str:
    answer = await api.post("/auth/token", data={"grant_type": "password", "username": username,
                                                 "password": password})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


async def new_station_account(api: httpx.AsyncClient, regulator_token: str, demo: dict[str, Any]) -> str:
    """A station staff account of the demo station, created by the Golmud regulator: its username."""
    username = f"desk-{secrets.token_hex(4)}"
    created = await api.post(f"/v1/regulator/stations/{demo['stations'][0]['station_id']}/staff",
                             json={"username": username, "password": STAFF_PASSWORD, "display_name": "才让卓玛"},
                             headers=bearer(regulator_token))
    assert created.status_code == 201, created.text
    return username


async def sign_in(open_page: Opener, demo: dict[str, Any], screen: Screen) -> Page:
    """Opens the desk, which asks for the staff account, and signs in by pressing Enter in the password."""
    page = await open_page("/station/")
    await expect(page.get_by_role("heading", name="服务站工作人员登录")).to_be_visible()
    await screen(page, "station-sign-in")
    station = demo["stations"][0]
    await page.get_by_label("用户名").fill(station["username"])
    await page.get_by_label("密码", exact=True).fill(station["password"])
    await page.get_by_label("密码", exact=True).press("Enter")
    return page


async def kpi(page: Page, name: str) -> str:
    return await page.get_by_test_id(f"kpi-{name}").inner_text()


async def choose(page: Page, label: str, option: str, *, typed: str | None = None) -> None:
    """Opens the select labelled `label`, types `typed` to search if given, and picks `option`."""
    await page.get_by_label(label, exact=True).click()
    if typed is not None:
        await page.get_by_label(label, exact=True).fill(typed)
    await page.get_by_role("option", name=option, exact=True).click()


async def test_station_staff_file_a_walk_in_complaint_settle_it_on_the_spot_and_the_figures_change(
        open_page: Opener, screen: Screen, demo: dict[str, Any]) -> None:
    page = await sign_in(open_page, demo, screen)

    # The figures before: the desk counts what this station filed.
    await expect(page.get_by_role("heading", name="登记来访消费者投诉")).to_be_visible()
    await page.get_by_role("menuitem", name="工作统计").click()
    await expect(page.get_by_test_id("kpi-received")).to_be_visible()
    received_before = int(await kpi(page, "received"))
    settled_before = int(await kpi(page, "settled"))
    await screen(page, "station-figures-before")

    # The walk-in form: submitted empty, every required field says what it needs and the first takes the focus.
    await page.get_by_role("menuitem", name="来访登记").click()
    await page.get_by_role("button", name="登记", exact=True).click()
    await expect(page.get_by_role("alert").filter(has_text="项需要修改")).to_be_visible()
    await expect(page.get_by_text("请填写姓名")).to_be_visible()
    await expect(page.get_by_text("请先核验证件原件并勾选确认")).to_be_visible()
    await expect(page.get_by_label("姓名", exact=True)).to_be_focused()
    await screen(page, "station-file-errors")

    await page.get_by_label("姓名", exact=True).fill("马文娟")
    await page.get_by_label("手机号码").fill(WALK_IN_PHONE)
    await page.get_by_label("联系地址").fill("青海省格尔木市河西街道12号")
    await page.get_by_label("证件号码").fill("632801199003071234")
    await page.get_by_label("证件号码").blur()
    await expect(page.get_by_text("18 位：17 位数字加 1 位校验码（数字或 X）").first).to_be_visible()
    await page.get_by_label("证件号码").fill(RESIDENT_ID)
    await page.get_by_text("已当面核验证件原件，证件与来访人一致").click()
    merchant = demo["merchants"][0]["name"]
    await choose(page, "经营者", merchant, typed="昆仑")
    await page.get_by_label("投诉事实").fill("在该店购买的牦牛肉干开封后发现霉变，要求退款被拒。")
    await page.get_by_label("诉求金额（元）").fill("88")
    purchased = (datetime.now(SHANGHAI) - timedelta(days=2)).date().isoformat()
    await page.get_by_label("购买日期").fill(purchased)
    await page.get_by_label("购买日期").press("Enter")
    await page.get_by_label("消费金额（元）").fill("88.00")
    await page.get_by_label("订单号或票据号").fill("KL20261201-0088")
    await choose(page, "商品或服务类别", "地方特产（枸杞、牦牛肉等）", typed="牦牛")
    await page.locator("input[type=file]").set_input_files(
        files=[{"name": "receipt.png", "mimeType": "image/png", "buffer": png()}])
    await expect(page.get_by_text("已上传：receipt.png")).to_be_visible()
    # The enterprise's sector was filled in from the picker.
    await expect(page.locator(".el-select__selected-item").filter(has_text="商场超市零售")).to_be_visible()
    await screen(page, "station-file-filled")
    await page.get_by_role("button", name="登记", exact=True).click()

    # The case as filed: waiting for the regulator, identity and purchase shown; settled here on the spot.
    await expect(page.get_by_role("heading", name=re.compile("案件详情"))).to_be_visible()
    case_no = (await page.locator("h1 .case-no").inner_text()).strip()
    assert re.fullmatch(r"TS-632801-\d{8}-\d+", case_no), case_no
    await expect(page.get_by_text("居民身份证 · 632801199003071235")).to_be_visible()
    await expect(page.get_by_text("KL20261201-0088")).to_be_visible()
    # The photo the walk-in brought, fetched with the staff token, is shown from a blob: URL the CSP allows.
    photo = page.get_by_role("img", name="receipt.png")
    await expect(photo).to_have_attribute("src", re.compile("^blob:"))
    assert await photo.evaluate("image => image.complete && image.naturalWidth") == 120
    await expect(page.get_by_text("待受理").first).to_be_visible()
    await screen(page, "station-case-detail")
    await page.get_by_label("和解内容").fill("商家当场退还货款88元并致歉")
    await page.get_by_label("挽回金额（元）").fill("88")
    await page.get_by_role("button", name="当场调解").click()
    await expect(page.get_by_text("已办结（达成协议）").first).to_be_visible()
    await expect(page.get_by_text(re.compile("服务站当场调解成功：商家当场退还货款88元并致歉"))).to_be_visible()
    await expect(page.get_by_text(re.compile("不能在服务站记录调解结果"))).to_be_visible()
    await screen(page, "station-case-settled")

    # The station's cases list it by number.
    await page.get_by_role("menuitem", name="本站案件").click()
    row = page.get_by_role("row").filter(has_text=case_no)
    await expect(row).to_contain_text("已办结（达成协议）")
    await screen(page, "station-cases")

    # The figures after: one more received, one more settled on the spot, the money counted.
    await page.get_by_role("menuitem", name="工作统计").click()
    await expect(page.get_by_test_id("kpi-received")).to_have_text(str(received_before + 1))
    await expect(page.get_by_test_id("kpi-settled")).to_have_text(str(settled_before + 1))
    assert "88.00" in await kpi(page, "recovered")
    await screen(page, "station-figures-after")
    await page.get_by_text("近 30 天（按日）").click()
    await expect(page.get_by_test_id("kpi-received")).to_have_text(str(received_before + 1))
    await screen(page, "station-figures-by-day")

    # In English, every string switches.
    await page.get_by_role("button", name="English").click()
    await expect(page.get_by_role("heading", name="Figures")).to_be_visible()
    await expect(page.locator(".kpi-label").filter(has_text="Settled on the spot")).to_be_visible()
    await screen(page, "station-figures-en")
    await page.get_by_role("menuitem", name="Walk-in filing").click()
    await page.get_by_role("button", name="File", exact=True).click()
    await expect(page.get_by_text("Enter the Name")).to_be_visible()
    await screen(page, "station-file-errors-en")
    await page.get_by_role("button", name="中文").click()

    # On a tablet held upright the desk reflows to one column.
    await page.set_viewport_size(TABLET)
    await page.get_by_role("menuitem", name="来访登记").click()
    await expect(page.get_by_role("heading", name="登记来访消费者投诉")).to_be_visible()
    await screen(page, "station-file-tablet")
    await page.get_by_role("menuitem", name="本站案件").click()
    await expect(page.get_by_role("row").filter(has_text=case_no)).to_be_visible()
    await screen(page, "station-cases-tablet")


async def test_a_station_account_with_an_authenticator_signs_in_at_the_desk_with_its_code(
        open_page: Opener, screen: Screen, api: httpx.AsyncClient, regulator_token: str,
        demo: dict[str, Any]) -> None:
    username = await new_station_account(api, regulator_token, demo)
    own = bearer(await password_token(api, username, STAFF_PASSWORD))
    enrolment = await api.post("/v1/regulator/staff/me/totp", headers=own)
    assert enrolment.status_code == 201, enrolment.text
    secret = enrolment.json()["secret"]
    confirmed_at = time.time()
    confirmed = await api.post("/v1/regulator/staff/me/totp/confirm", headers=own,
                               json={"code": authenticator_code(secret, confirmed_at)})
    assert confirmed.status_code in (200, 204), confirmed.text

    page = await open_page("/station/")
    await page.get_by_label("用户名").fill(username)
    await page.get_by_label("密码", exact=True).fill(STAFF_PASSWORD)
    await page.get_by_label("密码", exact=True).press("Enter")
    await expect(page.get_by_role("heading", name="双因素认证")).to_be_visible()
    # The step's one field has the focus: the code is typed straight away.
    await expect(page.get_by_label("动态验证码")).to_be_focused()
    await page.get_by_role("button", name="验证并登录").click()
    await expect(page.get_by_role("alert").filter(has_text="请输入 6 位数字验证码")).to_be_visible()
    await screen(page, "station-sign-in-code")
    # Switched to English on the way, the step says everything again in English, the refusal too.
    await page.get_by_role("button", name="English").click()
    await expect(page.get_by_role("heading", name="Two-factor authentication")).to_be_visible()
    await expect(page.get_by_role("alert").filter(has_text="Enter the 6-digit code")).to_be_visible()
    await screen(page, "station-sign-in-code-en")
    await page.get_by_role("button", name="中文").click()
    # The confirming code's step is spent; the sign-in takes the next one (one step of drift is accepted).
    await page.get_by_label("动态验证码").fill(authenticator_code(secret, confirmed_at + 30))
    await page.get_by_label("动态验证码").press("Enter")
    await expect(page.get_by_role("heading", name="登记来访消费者投诉")).to_be_visible()
    await expect(page.get_by_text(f"当前用户：{username}")).to_be_visible()


async def test_a_station_account_with_a_temporary_password_is_made_to_choose_its_own_in_english(
        open_page: Opener, screen: Screen, api: httpx.AsyncClient, regulator_token: str,
        demo: dict[str, Any]) -> None:
    username = await new_station_account(api, regulator_token, demo)
    admin = demo["staff_admin"]
    administrator = bearer(await password_token(api, admin["username"], admin["password"]))
    account_id = None
    cursor = None
    while account_id is None:
        listed = await api.get("/v1/regulator/staff", headers=administrator,
                               params={"region": demo["stations"][0]["region"], "limit": 100,
                                       **({"cursor": cursor} if cursor else {})})
        assert listed.status_code == 200, listed.text
        account_id = next((item["id"] for item in listed.json()["items"] if item["username"] == username), None)
        cursor = listed.json()["next_cursor"]
        assert account_id is not None or cursor is not None, f"{username} is not among the staff accounts"
    reset = await api.post(f"/v1/regulator/staff/{account_id}/reset", headers=administrator)
    assert reset.status_code == 200, reset.text
    temporary = reset.json()["temporary_password"]

    page = await open_page("/station/")
    await page.get_by_role("button", name="English").click()
    await expect(page.get_by_role("heading", name="Station staff sign-in")).to_be_visible()
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await expect(page.get_by_role("alert").filter(has_text="Enter the Username")).to_be_visible()
    await screen(page, "station-sign-in-errors-en")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password", exact=True).fill(temporary)
    await page.get_by_label("Password", exact=True).press("Enter")
    heading = page.get_by_role("heading", name="Change your password")
    await expect(heading).to_be_visible()
    await expect(heading).to_be_focused()
    await page.get_by_label("New password", exact=True).fill("short")
    await page.get_by_label("New password again").fill("short")
    await page.get_by_role("button", name="Change password").click()
    await expect(page.get_by_role("alert")).to_contain_text("Shorter than 12 characters")
    await screen(page, "station-sign-in-password-change-en")
    await page.get_by_label("New password", exact=True).fill(STAFF_PASSWORD + "!")
    await page.get_by_label("New password again").fill(STAFF_PASSWORD + "!")
    await page.get_by_role("button", name="Change password").click()
    await expect(page.get_by_role("heading", name="File a walk-in consumer's complaint")).to_be_visible()
    # The temporary password is spent; the new one is the account's.
    refused = await api.post("/auth/token", data={"grant_type": "password", "username": username,
                                                  "password": temporary})
    assert refused.status_code == 400, refused.text
    await password_token(api, username, STAFF_PASSWORD + "!")
