"""Texts of the sales package (zh-CN and en)."""

from __future__ import annotations

from server.i18n import register_messages

register_messages(
    {
        "sales.not_on_sale": {
            "zh-CN": "{name} 当前不在售卖时间内",
            "en": "{name} is not on sale now",
        },
        "sales.sold_out": {"zh-CN": "{name} 已售罄", "en": "{name} is sold out"},
        "sales.per_order_limit": {
            "zh-CN": "{name} 每单最多购买 {limit} 张",
            "en": "At most {limit} tickets of {name} per order",
        },
        "sales.visit_date_required": {
            "zh-CN": "{name} 需要选择游玩日期",
            "en": "{name} needs a visit date",
        },
        "sales.visit_date_invalid": {
            "zh-CN": "游玩日期不可选",
            "en": "That visit date cannot be chosen",
        },
        "sales.mixed_currency": {
            "zh-CN": "同一订单中的票价币种必须一致",
            "en": "All tickets of one order must be priced in one currency",
        },
        "sales.cart_empty": {"zh-CN": "购物车是空的", "en": "The cart is empty"},
        "sales.too_many_tickets": {
            "zh-CN": "一次最多购买 {limit} 张票",
            "en": "At most {limit} tickets at once",
        },
        "sales.cart_item_not_found": {
            "zh-CN": "购物车中没有这张票",
            "en": "That ticket is not in the cart",
        },
        "sales.order_not_found": {"zh-CN": "订单不存在", "en": "Order not found"},
        "sales.order_not_payable": {
            "zh-CN": "订单 {order_id} 无法支付（已支付、已过期或待审核）",
            "en": "Order {order_id} cannot be paid (paid, expired or awaiting approval)",
        },
        "sales.orders_not_payable_together": {
            "zh-CN": "不同商户或币种的订单不能合并支付",
            "en": "Orders of different merchants or currencies cannot be paid together",
        },
        "sales.order_not_cancellable": {
            "zh-CN": "订单已支付或已关闭，不能取消",
            "en": "The order is paid or closed and cannot be cancelled",
        },
        "sales.order_not_awaiting_approval": {
            "zh-CN": "订单不在待审核状态",
            "en": "The order is not awaiting approval",
        },
        "sales.order_not_refundable": {
            "zh-CN": "只有已支付的订单可以退款",
            "en": "Only paid orders can be refunded",
        },
        "sales.item_not_refundable": {
            "zh-CN": "第 {item_id} 张票不属于该订单或已退款",
            "en": "Ticket {item_id} is not part of the order or is already refunded",
        },
        "sales.approval_expired": {
            "zh-CN": "审核期限已过，订单已关闭",
            "en": "The approval deadline has passed; the order is closed",
        },
        "sales.close_reason.payment_timeout": {
            "zh-CN": "未在规定时间内支付，订单已关闭，票已释放",
            "en": "The order was not paid in time; it is closed and its tickets released",
        },
        "sales.close_reason.approval_timeout": {
            "zh-CN": "商家未在审核期限内处理，订单已关闭，票已释放",
            "en": "The merchant did not review the order before the deadline; it is closed and "
            "its tickets released",
        },
        "sales.close_reason.rejected": {
            "zh-CN": "商家未通过审核",
            "en": "The merchant declined the order",
        },
        "sales.close_reason.cancelled": {
            "zh-CN": "订单已由购票人取消",
            "en": "The order was cancelled by the buyer",
        },
        "sales.refund_request_not_found": {
            "zh-CN": "退款申请不存在",
            "en": "Refund request not found",
        },
        "sales.refund_already_requested": {
            "zh-CN": "该订单已有待商家处理的退款申请",
            "en": "This order already has a refund request waiting for the merchant",
        },
        "sales.ticket_used": {
            "zh-CN": "第 {item_id} 张票已使用，不能退款",
            "en": "Ticket {item_id} has been used and cannot be refunded",
        },
        "sales.refund_window_closed": {
            "zh-CN": "第 {item_id} 张票已过申请退款的期限",
            "en": "The time to ask for a refund of ticket {item_id} has passed",
        },
        "sales.nothing_refundable": {
            "zh-CN": "该订单没有可申请退款的票（已使用、已退款或已过期限）",
            "en": "No ticket of this order can be refunded (used, refunded or past the deadline)",
        },
        "sales.refund_request_not_pending": {
            "zh-CN": "该退款申请已处理、已撤回或已关闭",
            "en": "The refund request has already been decided, withdrawn or closed",
        },
        "sales.nothing_left_to_refund": {
            "zh-CN": "该申请中的票均已使用、作废或退款，无法退款，申请已自动关闭",
            "en": "None of the tickets asked for can be refunded any more (used, revoked or "
            "refunded); the request has been closed",
        },
        "sales.refund_block.used": {
            "zh-CN": "已使用（已检票入场），不能退款",
            "en": "Used (admitted at a gate or by a checker); cannot be refunded",
        },
        "sales.refund_block.revoked": {
            "zh-CN": "票已作废",
            "en": "The ticket has been revoked",
        },
        "sales.refund_block.refunded": {
            "zh-CN": "已退款",
            "en": "Already refunded",
        },
        "sales.refund_block.not_issued": {
            "zh-CN": "未出票",
            "en": "No ticket was issued",
        },
        "sales.refund_request_status.pending": {
            "zh-CN": "等待商家审核",
            "en": "Waiting for the merchant's decision",
        },
        "sales.refund_request_status.approved": {
            "zh-CN": "商家已同意，票已作废，款项原路退回",
            "en": "Approved: the tickets are void and the money goes back the way it was paid",
        },
        "sales.refund_request_status.rejected": {
            "zh-CN": "商家未同意退款，票仍然有效",
            "en": "The merchant declined the refund; the tickets remain valid",
        },
        "sales.refund_request_status.withdrawn": {
            "zh-CN": "申请已撤回，票仍然有效",
            "en": "The request was withdrawn; the tickets remain valid",
        },
        "sales.refund_request_status.superseded": {
            "zh-CN": "商家已直接为这些票办理退款，申请已自动关闭",
            "en": "Closed: the merchant refunded these tickets directly",
        },
        "sales.refund_request_status.voided": {
            "zh-CN": "所申请的票已作废或已使用，申请已自动关闭",
            "en": "Closed: the tickets asked for were voided or used",
        },
        "sales.refund_sold_out_after_expiry": {
            "zh-CN": "订单过期后票已售罄，款项原路退回",
            "en": "The tickets sold out after the order expired; the payment is returned",
        },
    }
)
