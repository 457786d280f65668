"""Texts of the payments package (zh-CN and en)."""

from __future__ import annotations

from server.i18n import register_messages

register_messages(
    {
        "payments.callback_rejected": {
            "zh-CN": "支付通知验证失败",
            "en": "The payment notification could not be verified",
        },
        "payments.payment_not_found": {"zh-CN": "支付记录不存在", "en": "Payment not found"},
        "payments.unknown_payment": {
            "zh-CN": "支付单不存在",
            "en": "No such payment",
        },
        "payments.amount_mismatch": {
            "zh-CN": "支付金额与订单金额不符",
            "en": "The amount paid does not match the amount due",
        },
        "payments.provider_unknown": {
            "zh-CN": "不支持的支付方式 {provider}",
            "en": "Unknown payment method {provider}",
        },
        "payments.not_settled": {
            "zh-CN": "该支付尚未完成，无法退款",
            "en": "The payment has not been completed and cannot be refunded",
        },
        "payments.refund_exceeds_payment": {
            "zh-CN": "退款金额超过实付金额",
            "en": "The refund exceeds the amount paid",
        },
    }
)
