// The staff sign-in's strings beyond each screen's own `signIn` (title, hint, field names): the authenticator code,
// the forced password change and the authenticator binding (web/shared/SignIn.vue and the components it uses),
// merged at the top level of every staff screen's messages.
export const signInZh = {
  signInSteps: {
    notice: '安全提示：请妥善保管账号和密码，不要在公用电脑上保存密码；离开时请退出登录。',
    codeTitle: '双因素认证', codeHint: '请输入身份验证器（如微信小程序“腾讯身份验证器”、Google Authenticator）显示的 6 位动态验证码。',
    nextCodeHint: '身份验证器已绑定。请等待并输入验证器显示的下一个 6 位验证码完成登录。',
    code: '动态验证码', codeRequired: '请输入 6 位数字验证码', verify: '验证并登录', back: '返回重新登录',
    changeTitle: '首次登录请修改密码', changeHint: '您的密码为管理员设置的临时密码或已被重置，请设置新密码后继续。',
    enrolTitle: '绑定身份验证器', enrolHint: '本辖区要求工作人员使用双因素认证登录。请按下列步骤绑定身份验证器。',
    failed: '用户名或密码错误，或账户因多次登录失败已被暂时锁定（15 分钟后自动解除）',
  },
  password: {
    current: '当前密码', new: '新密码', repeat: '再次输入新密码', submit: '修改密码', changed: '密码已修改',
    mismatch: '两次输入的新密码不一致', broken: '新密码不符合密码规则',
    codes: { password_too_short: '长度不足 12 位', password_contains_username: '不得包含用户名',
      password_common: '属于常见弱密码', password_too_few_classes: '字符类别不足 3 类', password_unchanged: '新密码不能与当前密码相同' },
    rules: '密码规则：至少 12 位；包含小写字母、大写字母、数字、其他字符中的至少 3 类；不得包含用户名；不得使用常见弱密码。',
  },
  totp: {
    step1: '1. 在手机上打开身份验证器应用，扫描下方二维码：', qrLabel: '身份验证器绑定二维码',
    step2: '2. 无法扫码时，可手动输入密钥（基于时间，30 秒，6 位）：', secret: '密钥',
    step3: '3. 输入验证器当前显示的 6 位验证码完成绑定：', confirm: '确认绑定', wrong: '验证码不正确，请输入验证器当前显示的验证码', enrolled: '身份验证器已绑定',
    start: '绑定身份验证器', already: '已绑定身份验证器，每次登录均需输入动态验证码。如需更换，请联系人员管理员重置。',
    none: '尚未绑定身份验证器。',
  },
}

export const signInEn = {
  signInSteps: {
    notice: 'Keep your account and password to yourself, do not let a shared computer remember the password, and sign out when you leave.',
    codeTitle: 'Two-factor authentication', codeHint: 'Enter the 6-digit code your authenticator app shows.',
    nextCodeHint: 'The authenticator is bound. Wait for its next 6-digit code and enter it to sign in.',
    code: 'Authenticator code', codeRequired: 'Enter the 6-digit code', verify: 'Verify and sign in',
    back: 'Back to sign-in',
    changeTitle: 'Change your password', changeHint: 'Your password was set by an administrator or reset; choose a new one to continue.',
    enrolTitle: 'Bind an authenticator app', enrolHint: 'Your region requires two-factor sign-in. Bind an authenticator app as follows.',
    failed: 'Wrong username or password, or the account is locked for a while after repeated failures (it unlocks after 15 minutes)',
  },
  password: {
    current: 'Current password', new: 'New password', repeat: 'New password again', submit: 'Change password',
    changed: 'Password changed', mismatch: 'The two new passwords differ', broken: 'The new password breaks the rules',
    codes: { password_too_short: 'Shorter than 12 characters', password_contains_username: 'Contains the username',
      password_common: 'A common password', password_too_few_classes: 'Fewer than 3 kinds of characters',
      password_unchanged: 'The same as the current password' },
    rules: 'At least 12 characters using 3 of: lower case, upper case, digits, other characters; not containing the username; not a common password.',
  },
  totp: {
    step1: '1. Open the authenticator app on your phone and scan this QR code:', qrLabel: 'Authenticator QR code',
    step2: '2. If you cannot scan it, type in the key (time-based, 30 s, 6 digits):', secret: 'Key',
    step3: '3. Enter the 6-digit code the app shows now:', confirm: 'Bind', wrong: 'The code is not right; enter the one the app shows now', enrolled: 'Authenticator bound',
    start: 'Bind an authenticator app', already: 'An authenticator is bound; every sign-in asks for its code. To change it, ask a staff administrator for a reset.',
    none: 'No authenticator is bound yet.',
  },
}
