// Strings of the staff screens (人员管理, 账户安全), merged into i18n.js at the top level, so the other screens'
// sections stay untouched; the sign-in's steps, the password change and the authenticator binding are shared
// (web/shared/signInMessages.js).
export const staffZh = {
  staffMenu: { staff: '人员管理', account: '账户安全' },
  staff: {
    title: '人员管理', policyTitle: '辖区登录安全策略', policyRegion: '辖区代码', requireTotp: '要求双因素认证（TOTP）',
    policyHint: '开启后，本辖区及下级辖区的全部工作人员登录时须输入身份验证器动态验证码；未绑定者在下次登录时须先绑定。',
    inherited: '上级辖区 {region} 已要求双因素认证', policySaved: '登录安全策略已保存',
    accounts: '工作人员账户', create: '新建账户', username: '用户名', name: '姓名', role: '角色', region: '辖区代码',
    state: '状态', admin: '人员管理员', createTitle: '新建工作人员账户', usernameHint: '小写字母、数字及 . _ -，3–64 位',
    created: '账户已创建', issuedTitle: '临时密码', issuedHint: '请将临时密码当面或通过安全渠道交给 {name}（{username}）。该密码仅显示这一次，首次登录时须修改。',
    copyDone: '我已记下', disable: '停用', enable: '启用', reset: '重置', disableConfirm: '确定停用账户 {username} 吗？停用后该账户无法登录。',
    resetConfirm: '确定重置账户 {username} 吗？将生成新的临时密码并解除身份验证器绑定。',
    disabled: '已停用', enabled: '正常', locked: '已锁定', mustChange: '待修改密码', totpOn: '已绑定验证器',
    empty: '暂无工作人员账户', done: '操作已完成', trail: '操作记录', trailEmpty: '暂无操作记录', at: '时间',
    action: '操作', account: '对象', actor: '操作人', system: '系统',
  },
  staffAction: { created: '新建账户', disabled: '停用账户', enabled: '启用账户', reset: '重置账户',
    password_changed: '修改密码', totp_enrolled: '绑定身份验证器', locked: '多次登录失败锁定', policy_changed: '修改登录安全策略' },
  staffRole: { regulator: '监管人员', mediator: '调解员', hotline: '热线话务员', station_staff: '服务站工作人员' },
}

export const staffEn = {
  staffMenu: { staff: 'Staff', account: 'Account security' },
  staff: {
    title: 'Staff', policyTitle: 'Sign-in policy of the region', policyRegion: 'Region code',
    requireTotp: 'Require two-factor sign-in (TOTP)',
    policyHint: 'When on, every staff member of this region and the regions below must enter an authenticator code; those without one bind it at their next sign-in.',
    inherited: 'The region above, {region}, already requires it', policySaved: 'Sign-in policy saved',
    accounts: 'Staff accounts', create: 'New account', username: 'Username', name: 'Name', role: 'Role',
    region: 'Region code', state: 'State', admin: 'Staff administrator', createTitle: 'New staff account',
    usernameHint: 'Lower-case letters, digits and . _ -, 3 to 64 characters', created: 'Account created',
    issuedTitle: 'Temporary password',
    issuedHint: 'Hand this temporary password to {name} ({username}) in person or over a secure channel. It is shown only this once and must be changed at the first sign-in.',
    copyDone: 'Noted', disable: 'Disable', enable: 'Enable', reset: 'Reset',
    disableConfirm: 'Disable account {username}? It can no longer sign in.',
    resetConfirm: 'Reset account {username}? It gets a new temporary password and its authenticator is unbound.',
    disabled: 'Disabled', enabled: 'Active', locked: 'Locked', mustChange: 'Must change password',
    totpOn: 'Authenticator bound', empty: 'No staff accounts', done: 'Done', trail: 'Audit trail',
    trailEmpty: 'No entries yet', at: 'Time', action: 'Action', account: 'Account', actor: 'By', system: 'System',
  },
  staffAction: { created: 'Account created', disabled: 'Account disabled', enabled: 'Account enabled',
    reset: 'Account reset', password_changed: 'Password changed', totp_enrolled: 'Authenticator bound',
    locked: 'Locked after failed sign-ins', policy_changed: 'Sign-in policy changed' },
  staffRole: { regulator: 'Regulator', mediator: 'Mediator', hotline: 'Hotline operator',
    station_staff: 'Station staff' },
}
