"""What the kiosk shows and says to visitors, per reason code, in zh-CN and en.

Every visitor-facing text of the gate comes from here: ``texts_for(language)`` gives a
``KioskTexts`` whose ``for_reason(reason)`` returns the screen title, the hint line under it and
the short voice prompt played with the buzzer. The language is a kiosk setting (default zh-CN).
Operators' details (``Decision.detail``) stay English and are never shown to visitors.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocol import reasons

ZH_CN = "zh-CN"
EN = "en"
LANGUAGES = (ZH_CN, EN)
DEFAULT_LANGUAGE = ZH_CN
#: Screen shown between scans.
IDLE = "idle"


@dataclass(frozen=True, slots=True)
class KioskText:
    title: str
    hint: str
    voice: str


_TEXTS: dict[str, dict[str, KioskText]] = {
    ZH_CN: {
        IDLE: KioskText("请扫码入场", "将二维码对准摄像头，或输入12位验证码", ""),
        reasons.ADMITTED: KioskText("验证通过", "请通行", "请通行"),
        reasons.MALFORMED: KioskText("无法识别", "请出示有效的门票二维码", "无法识别"),
        reasons.TOO_LONG: KioskText("无法识别", "请出示有效的门票二维码", "无法识别"),
        reasons.UNSUPPORTED_VERSION: KioskText("门票版本不支持", "请联系工作人员", "验证失败"),
        reasons.UNKNOWN_KEY: KioskText("门票无法验证", "请联系工作人员", "验证失败"),
        reasons.BAD_SIGNATURE: KioskText("无效门票", "请联系工作人员", "无效门票"),
        reasons.NOT_YET_VALID: KioskText("门票尚未生效", "请在有效时间内入场", "门票尚未生效"),
        reasons.EXPIRED: KioskText("门票已过期", "请联系工作人员", "门票已过期"),
        reasons.REVOKED: KioskText("门票已失效", "该门票已退票或作废", "门票已失效"),
        reasons.UNKNOWN_TICKET: KioskText("未找到门票", "请核对验证码或联系工作人员", "未找到门票"),
        reasons.BAD_CHECK_DIGIT: KioskText("验证码有误", "请核对后重新输入", "验证码有误"),
        reasons.WRONG_EVENT: KioskText("非本场活动门票", "请确认活动与场次", "非本场门票"),
        reasons.WRONG_ZONE: KioskText("请走其他入口", "该门票不适用于此通道", "请走其他入口"),
        reasons.ALREADY_USED: KioskText("门票已使用", "入场次数已用完", "门票已使用"),
        reasons.PASSBACK: KioskText(
            "重复入场", "该门票刚刚已入场，请稍后或联系工作人员", "重复入场"
        ),
        reasons.GATE_LOCKED: KioskText("通道已关闭", "请走其他通道", "通道已关闭"),
        reasons.OFFLINE_POLICY: KioskText(
            "暂时无法验证", "网络中断，请联系工作人员", "暂时无法验证"
        ),
        reasons.NOT_PASSED: KioskText("未通过闸机", "如需入场请重新扫码", "请重新扫码"),
    },
    EN: {
        IDLE: KioskText(
            "Scan your ticket", "Hold the QR code to the camera or type the 12-digit code", ""
        ),
        reasons.ADMITTED: KioskText("Welcome", "Please walk through", "Please walk through"),
        reasons.MALFORMED: KioskText(
            "Not recognised", "Please show a valid ticket QR code", "Not recognised"
        ),
        reasons.TOO_LONG: KioskText(
            "Not recognised", "Please show a valid ticket QR code", "Not recognised"
        ),
        reasons.UNSUPPORTED_VERSION: KioskText(
            "Ticket not supported", "Please ask a member of staff", "Not valid"
        ),
        reasons.UNKNOWN_KEY: KioskText(
            "Ticket cannot be checked", "Please ask a member of staff", "Not valid"
        ),
        reasons.BAD_SIGNATURE: KioskText(
            "Invalid ticket", "Please ask a member of staff", "Invalid ticket"
        ),
        reasons.NOT_YET_VALID: KioskText(
            "Ticket not valid yet", "Please come back within its time", "Not valid yet"
        ),
        reasons.EXPIRED: KioskText(
            "Ticket expired", "Please ask a member of staff", "Ticket expired"
        ),
        reasons.REVOKED: KioskText(
            "Ticket cancelled", "This ticket was refunded or cancelled", "Ticket cancelled"
        ),
        reasons.UNKNOWN_TICKET: KioskText(
            "Ticket not found", "Check the code or ask a member of staff", "Not found"
        ),
        reasons.BAD_CHECK_DIGIT: KioskText(
            "Code mistyped", "Please check the code and type it again", "Code mistyped"
        ),
        reasons.WRONG_EVENT: KioskText(
            "Wrong event", "This ticket is for another event or session", "Wrong event"
        ),
        reasons.WRONG_ZONE: KioskText(
            "Please use another entrance",
            "This ticket does not open this gate",
            "Use another entrance",
        ),
        reasons.ALREADY_USED: KioskText(
            "Ticket already used", "No entries left on this ticket", "Already used"
        ),
        reasons.PASSBACK: KioskText(
            "Already entered",
            "This ticket has just been used; wait or ask staff",
            "Already entered",
        ),
        reasons.GATE_LOCKED: KioskText("Gate closed", "Please use another gate", "Gate closed"),
        reasons.OFFLINE_POLICY: KioskText(
            "Cannot check now", "Network down: please ask a member of staff", "Cannot check now"
        ),
        reasons.NOT_PASSED: KioskText("Gate not passed", "Scan again to enter", "Scan again"),
    },
}


class KioskTexts:
    """The texts of one language; unknown reasons fall back to a generic refusal."""

    def __init__(self, language: str) -> None:
        if language not in _TEXTS:
            raise ValueError(f"language must be one of {', '.join(LANGUAGES)}; got {language!r}")
        self.language = language
        self._texts = _TEXTS[language]

    def for_reason(self, reason: str) -> KioskText:
        return self._texts.get(reason, self._texts[reasons.MALFORMED])

    def idle(self) -> KioskText:
        return self._texts[IDLE]


def texts_for(language: str = DEFAULT_LANGUAGE) -> KioskTexts:
    return KioskTexts(language)
