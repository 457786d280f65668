"""User-facing texts of the tickets package."""

from __future__ import annotations

from server.i18n import register_messages

register_messages(
    {
        "tickets.ticket_not_found": {"zh-CN": "票不存在", "en": "Ticket not found"},
        "tickets.order_not_found": {
            "zh-CN": "订单不存在或没有票",
            "en": "Order not found or it has no tickets",
        },
        "tickets.key_not_found": {"zh-CN": "签名密钥不存在", "en": "Signing key not found"},
        "tickets.key_active": {
            "zh-CN": "不能停用当前使用中的密钥，请先轮换",
            "en": "The active key cannot be retired; rotate first",
        },
        "tickets.key_ids_exhausted": {
            "zh-CN": "密钥编号已用尽",
            "en": "No key ids are left for this merchant",
        },
        "tickets.key_rotation_busy": {
            "zh-CN": "正在轮换密钥，请稍后再试",
            "en": "A key rotation is in progress; try again",
        },
        "tickets.code_space_busy": {
            "zh-CN": "无法生成核销码，请重试",
            "en": "Could not draw a free verification code; try again",
        },
    }
)
