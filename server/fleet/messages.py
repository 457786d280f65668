"""User-facing texts of the fleet package (error messages shown to operators and kiosks)."""

from __future__ import annotations

from server.i18n import register_messages

register_messages(
    {
        "fleet.venue_not_found": {"zh-CN": "场馆不存在", "en": "Venue not found"},
        "fleet.gate_not_found": {"zh-CN": "闸机不存在", "en": "Gate not found"},
        "fleet.gate_key_invalid": {
            "zh-CN": "闸机编号只能包含小写字母、数字、- 和 _（最多 64 个字符）",
            "en": "A gate id is 1-64 characters of a-z, 0-9, - and _",
        },
        "fleet.gate_key_reserved": {
            "zh-CN": "以 _ 开头的闸机编号由服务器保留",
            "en": "Gate ids starting with _ are reserved for the server",
        },
        "fleet.gate_key_taken": {
            "zh-CN": "该场馆已有此编号的闸机",
            "en": "This venue already has a gate with that id",
        },
        "fleet.zone_invalid": {
            "zh-CN": "区域不存在或不属于该场馆",
            "en": "A zone does not exist or belongs to another venue",
        },
        "fleet.gate_revoked": {"zh-CN": "闸机已被吊销", "en": "The gate has been revoked"},
        "fleet.token_invalid": {
            "zh-CN": "注册码无效或已使用",
            "en": "The enrollment token is invalid or already used",
        },
        "fleet.token_expired": {"zh-CN": "注册码已过期", "en": "The enrollment token has expired"},
        "fleet.kiosk_credentials_invalid": {
            "zh-CN": "闸机凭据无效",
            "en": "The kiosk credentials are invalid",
        },
        "fleet.bridge_not_running": {
            "zh-CN": "闸机通信服务未在本服务器运行",
            "en": "The gate bridge is not running on this server",
        },
        "fleet.gate_not_enrolled": {
            "zh-CN": "闸机尚未注册",
            "en": "The gate is not enrolled",
        },
        "fleet.command_args_invalid": {
            "zh-CN": "指令参数有误",
            "en": "The command's arguments are invalid",
        },
        "fleet.list_name_invalid": {"zh-CN": "名单类型无效", "en": "Unknown list"},
    }
)
