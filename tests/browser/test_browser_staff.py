"""人员管理 and the sign-in's extra steps (issue 14 item 4): the staff administrator creates an account in a region
that requires TOTP; the new staff member signs in with the temporary password, is made to change it, binds an
authenticator (the code computed here from the key the screen shows) and signs in with the next code."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
import time
from typing import Any

from playwright.async_api import expect

from browser.browser_testkit import Opener, Screen

# Mangya (茫崖市), below Haixi: no demo account lives there, so requiring TOTP there changes no other test's sign-in.
REGION = "632803"
NEW_PASSWORD = "Mangya-lake-2026"


def authenticator_code(secret_base32: str, unix_time: float) -> str:
    """What an authenticator app shows (RFC 6238: HMAC-SHA-1, 30 s, 6 digits)."""
    key = base64.b32decode(secret_base32 + "=" * (-len(secret_base32) % 8))
    digest = hmac.new(key, struct.pack(">Q", int(unix_time) // 30), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return f"{(struct.unpack('>I', digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


async def test_an_administrator_creates_an_account_whose_user_changes_the_password_and_binds_an_authenticator(
        open_page: Opener, screen: Screen, demo: dict[str, Any]) -> None:
    admin = demo["staff_admin"]
    page = await open_page("/console/")
    await page.get_by_label("用户名").fill(admin["username"])
    await page.get_by_label("密码", exact=True).fill(admin["password"])
    await page.get_by_label("密码", exact=True).press("Enter")
    await expect(page.get_by_role("heading", name="待办案件")).to_be_visible()

    await page.get_by_role("menuitem", name="人员管理").click()
    await expect(page.get_by_role("heading", name="人员管理")).to_be_visible()
    await expect(page.get_by_role("cell", name="reg-golmud", exact=True)).to_be_visible()
    await screen(page, "console-staff")

    # Mangya's policy: TOTP required.
    await page.get_by_label("辖区代码").fill(REGION)
    await page.get_by_role("button", name="查询").click()
    await expect(page.get_by_role("heading", name=f"辖区登录安全策略（{REGION}）")).to_be_visible()
    await page.get_by_test_id("require-totp").click()
    await expect(page.get_by_text("登录安全策略已保存")).to_be_visible()

    username = f"wang.li-{secrets.token_hex(3)}"
    await page.get_by_role("button", name="新建账户").click()
    dialog = page.get_by_role("dialog", name="新建工作人员账户")
    await dialog.get_by_label("用户名").fill(username)
    await dialog.get_by_label("姓名").fill("王丽")
    await screen(page, "console-staff-create")
    await dialog.get_by_role("button", name="提交").click()
    issued = page.get_by_role("dialog", name="临时密码")
    await expect(issued).to_contain_text(username)
    temporary = await page.get_by_test_id("temporary-password").inner_text()
    await screen(page, "console-staff-temporary-password")
    await issued.get_by_role("button", name="我已记下").click()
    await expect(page.get_by_role("row").filter(has_text=username).filter(has_text="待修改密码")).to_be_visible()
    # The audit trail shows the creation and the policy change.
    await expect(page.get_by_role("row").filter(has_text=username).filter(has_text="新建账户")).to_be_visible()
    await expect(page.get_by_role("row").filter(has_text="修改登录安全策略")).to_be_visible()
    await screen(page, "console-staff-region")
    await page.get_by_role("button", name="退出登录").click()

    # The new staff member, on a computer of their own.
    user = await open_page("/console/")
    await user.get_by_label("用户名").fill(username)
    await user.get_by_label("密码", exact=True).fill(temporary)
    await user.get_by_label("密码", exact=True).press("Enter")
    await expect(user.get_by_role("heading", name="首次登录请修改密码")).to_be_visible()
    await user.get_by_label("新密码", exact=True).fill(f"{username}-Aa1")
    await user.get_by_label("再次输入新密码").fill(f"{username}-Aa1")
    await user.get_by_role("button", name="修改密码").click()
    await expect(user.get_by_role("alert")).to_contain_text("不得包含用户名")
    await screen(user, "console-sign-in-password-rules")
    await user.get_by_label("新密码", exact=True).fill(NEW_PASSWORD)
    await user.get_by_label("再次输入新密码").fill(NEW_PASSWORD)
    await user.get_by_role("button", name="修改密码").click()

    await expect(user.get_by_role("heading", name="绑定身份验证器")).to_be_visible()
    await expect(user.get_by_role("img", name="身份验证器绑定二维码")).to_be_visible()
    secret = await user.get_by_test_id("totp-secret").get_attribute("data-secret")
    assert secret is not None
    await screen(user, "console-sign-in-totp-enrolment")
    await user.get_by_label("动态验证码").fill(authenticator_code(secret, time.time()))
    await user.get_by_role("button", name="确认绑定").click()

    # The confirming code is spent; the sign-in takes the next one (one step of drift is accepted).
    await expect(user.get_by_role("heading", name="双因素认证")).to_be_visible()
    await expect(user.get_by_text("下一个 6 位验证码")).to_be_visible()
    await screen(user, "console-sign-in-totp-code")
    await user.get_by_label("动态验证码").fill(authenticator_code(secret, time.time() + 30))
    await user.get_by_label("动态验证码").press("Enter")
    await expect(user.get_by_role("heading", name="待办案件")).to_be_visible()
    await expect(user.get_by_role("menuitem", name="人员管理")).to_have_count(0)
    await user.get_by_role("menuitem", name="账户安全").click()
    await expect(user.get_by_text("已绑定身份验证器，每次登录均需输入动态验证码")).to_be_visible()
    await screen(user, "console-account-security")
