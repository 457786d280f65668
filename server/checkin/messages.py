"""User-facing texts of check-in: what each reason code means to a checker, and errors."""

from __future__ import annotations

from protocol import reasons
from server.i18n import register_messages

REASON_TEXTS: dict[str, dict[str, str]] = {
    reasons.ADMITTED: {"zh-CN": "核验通过，请入场", "en": "Admitted"},
    reasons.MALFORMED: {"zh-CN": "无法识别的票码", "en": "Not a ticket code"},
    reasons.TOO_LONG: {"zh-CN": "票码过长", "en": "The code is too long"},
    reasons.UNSUPPORTED_VERSION: {"zh-CN": "不支持的票码版本", "en": "Unsupported ticket version"},
    reasons.UNKNOWN_KEY: {"zh-CN": "票码签名密钥未知", "en": "Signed with an unknown key"},
    reasons.BAD_SIGNATURE: {
        "zh-CN": "票码签名无效（疑似伪造）",
        "en": "Invalid signature (forged?)",
    },
    reasons.NOT_YET_VALID: {"zh-CN": "尚未到入场时间", "en": "Not valid yet"},
    reasons.EXPIRED: {"zh-CN": "票已过期", "en": "The ticket has expired"},
    reasons.REVOKED: {"zh-CN": "票已作废（已退款）", "en": "The ticket was revoked"},
    reasons.UNKNOWN_TICKET: {"zh-CN": "查无此票", "en": "Unknown ticket"},
    reasons.BAD_CHECK_DIGIT: {
        "zh-CN": "核销码有误，请检查输入",
        "en": "Mistyped code (check digit)",
    },
    reasons.WRONG_EVENT: {"zh-CN": "不是本场活动的票", "en": "Ticket for another event"},
    reasons.WRONG_ZONE: {"zh-CN": "此票不能从该入口进入", "en": "Not valid at this entrance"},
    reasons.ALREADY_USED: {"zh-CN": "票已使用", "en": "Already used"},
    reasons.PASSBACK: {"zh-CN": "已入场，未出场前不能再次入场", "en": "Already inside (passback)"},
    reasons.GATE_LOCKED: {"zh-CN": "闸机已锁定", "en": "The gate is locked"},
    reasons.OFFLINE_POLICY: {"zh-CN": "离线状态下不允许入场", "en": "Refused while offline"},
    reasons.NOT_PASSED: {"zh-CN": "未通过闸机，入场已撤销", "en": "Did not pass; entry annulled"},
}


def reason_message_id(reason: str) -> str:
    return f"checkin.reason.{reason}"


register_messages({reason_message_id(code): texts for code, texts in REASON_TEXTS.items()})
register_messages(
    {
        "checkin.record_not_found": {"zh-CN": "核验记录不存在", "en": "Check-in record not found"},
        "checkin.checker_not_found": {"zh-CN": "核验员不存在", "en": "Checker not found"},
        "checkin.phone_required": {"zh-CN": "请输入手机号", "en": "Enter a phone number"},
        "checkin.not_holders_ticket": {
            "zh-CN": "所选票不属于该持票人",
            "en": "A chosen ticket is not this holder's",
        },
    }
)
