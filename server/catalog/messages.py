"""Texts of the catalog package (zh-CN and en)."""

from __future__ import annotations

from server.i18n import register_messages

register_messages(
    {
        "catalog.venue_not_found": {"zh-CN": "场馆不存在", "en": "Venue not found"},
        "catalog.venue_slug_taken": {
            "zh-CN": "场馆标识 {slug} 已被使用",
            "en": "The venue id {slug} is already taken",
        },
        "catalog.venue_in_use": {
            "zh-CN": "场馆下还有活动，不能删除",
            "en": "The venue still has events and cannot be deleted",
        },
        "catalog.timezone_invalid": {
            "zh-CN": "时区 {timezone} 无效",
            "en": "Unknown time zone {timezone}",
        },
        "catalog.zone_not_found": {"zh-CN": "区域不存在", "en": "Zone not found"},
        "catalog.zone_name_taken": {
            "zh-CN": "该场馆已有同名区域",
            "en": "The venue already has a zone with that name",
        },
        "catalog.event_not_found": {"zh-CN": "活动不存在", "en": "Event not found"},
        "catalog.event_times_invalid": {
            "zh-CN": "结束时间必须晚于开始时间",
            "en": "The end must be after the start",
        },
        "catalog.event_in_use": {
            "zh-CN": "活动下还有票种，不能删除",
            "en": "The event still has ticket types and cannot be deleted",
        },
        "catalog.ticket_type_not_found": {"zh-CN": "票种不存在", "en": "Ticket type not found"},
        "catalog.ticket_type_in_use": {
            "zh-CN": "票种已有订单，不能删除（可停用）",
            "en": "The ticket type has orders and cannot be deleted (disable it instead)",
        },
        "catalog.price_free_mismatch": {
            "zh-CN": "免费票价格必须为 0，收费票价格至少 0.01 元",
            "en": "A free ticket costs 0; a paid ticket costs at least 0.01",
        },
        "catalog.stock_below_sold": {
            "zh-CN": "库存不能少于已售出的 {sold} 张",
            "en": "Stock cannot go below the {sold} tickets already sold",
        },
        "catalog.sale_window_invalid": {
            "zh-CN": "停售时间必须晚于开售时间",
            "en": "Sales must end after they start",
        },
        "catalog.validity_invalid": {
            "zh-CN": "有效期结束时间必须晚于开始时间",
            "en": "Validity must end after it starts",
        },
        "catalog.zone_wrong_venue": {
            "zh-CN": "只能选择本活动场馆的区域",
            "en": "Only zones of the event's venue can be chosen",
        },
        "catalog.holder_field_required": {
            "zh-CN": "请填写{field}",
            "en": "Please fill in {field}",
        },
        "catalog.holder_field_unknown": {
            "zh-CN": "该票种没有字段 {field}",
            "en": "This ticket type has no field {field}",
        },
        "catalog.holder_field_too_long": {
            "zh-CN": "{field}过长",
            "en": "{field} is too long",
        },
        "catalog.holder_id_number_invalid": {
            "zh-CN": "{field}不是有效的身份证号",
            "en": "{field} is not a valid identity number",
        },
    }
)
