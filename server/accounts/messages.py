"""User-facing texts of the accounts package (error messages and the login SMS)."""

from __future__ import annotations

from server.i18n import register_messages

register_messages(
    {
        "accounts.sms_login_code": {
            "zh-CN": "【{signature}】您的登录验证码是 {code}，{minutes} 分钟内有效。请勿告诉他人。",
            "en": "[{signature}] Your login code is {code}. It expires in {minutes} min. "
            "Do not share it.",
        },
        "accounts.code_too_soon": {
            "zh-CN": "验证码已发送，请 {retry_after} 秒后再试",
            "en": "A code was just sent; try again in {retry_after} s",
        },
        "accounts.sms_not_sent": {
            "zh-CN": "验证码短信发送失败，请 {retry_after} 秒后重新获取",
            "en": "The code could not be sent by SMS; ask for a new one in {retry_after} s",
        },
        "accounts.code_invalid": {
            "zh-CN": "验证码错误或已过期",
            "en": "The code is wrong or has expired",
        },
        "accounts.code_locked": {
            "zh-CN": "验证码错误次数过多，请重新获取验证码",
            "en": "Too many wrong codes; request a new code",
        },
        "accounts.login_failed": {
            "zh-CN": "手机号或密码错误",
            "en": "Wrong phone number or password",
        },
        "accounts.password_locked": {
            "zh-CN": "密码错误次数过多，请 {retry_after} 秒后再试",
            "en": "Too many wrong passwords; try again in {retry_after} s",
        },
        "accounts.password_wrong": {
            "zh-CN": "当前密码不正确",
            "en": "The current password is wrong",
        },
        "accounts.token_invalid": {
            "zh-CN": "登录已失效，请重新登录",
            "en": "Your session has ended; please log in again",
        },
        "accounts.not_a_member": {
            "zh-CN": "您不是该商户的成员",
            "en": "You are not a member of that merchant",
        },
        "accounts.merchant_required": {
            "zh-CN": "请先选择商户",
            "en": "Choose a merchant first",
        },
        "accounts.merchant_frozen": {
            "zh-CN": "该商户已被冻结",
            "en": "This merchant account is frozen",
        },
        "accounts.merchant_pending": {
            "zh-CN": "该商户正在等待平台审核",
            "en": "This merchant account is awaiting approval",
        },
        "accounts.merchant_rejected": {
            "zh-CN": "该商户的入驻申请未通过",
            "en": "This merchant application was rejected",
        },
        "accounts.merchant_deleted": {
            "zh-CN": "该商户已被删除",
            "en": "This merchant account was deleted",
        },
        "accounts.merchant_not_found": {"zh-CN": "商户不存在", "en": "Merchant not found"},
        "accounts.merchant_status_conflict": {
            "zh-CN": "商户当前状态为「{status}」，不能执行此操作",
            "en": "The merchant is {status}; this cannot be done now",
        },
        "accounts.registration_closed": {
            "zh-CN": "暂不开放商户入驻申请",
            "en": "Merchant self-registration is closed",
        },
        "accounts.user_not_registered": {
            "zh-CN": "该手机号尚未注册，请对方先登录一次",
            "en": "No user has registered this phone number; ask them to log in once first",
        },
        "accounts.already_member": {
            "zh-CN": "该用户已是本商户成员",
            "en": "That user is already a member of this merchant",
        },
        "accounts.member_not_found": {"zh-CN": "成员不存在", "en": "Member not found"},
        "accounts.owner_is_fixed": {
            "zh-CN": "不能修改或移除商户所有者",
            "en": "The merchant's owner cannot be changed or removed here",
        },
        "accounts.role_not_assignable": {
            "zh-CN": "不能分配该角色",
            "en": "That role cannot be assigned",
        },
    }
)
