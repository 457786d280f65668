"""Texts of the gate dashboard (zh-CN and en)."""

from __future__ import annotations

from server.i18n import register_messages

TEXTS = {
    "dashboard.title": {"zh-CN": "闸机监控", "en": "Gate monitor"},
    "dashboard.gates": {"zh-CN": "闸机", "en": "Gates"},
    "dashboard.latest_scans": {"zh-CN": "最近核验", "en": "Latest scans"},
    "dashboard.gate": {"zh-CN": "闸机", "en": "Gate"},
    "dashboard.state": {"zh-CN": "状态", "en": "State"},
    "dashboard.mode": {"zh-CN": "模式", "en": "Mode"},
    "dashboard.list_version": {"zh-CN": "名单版本", "en": "List version"},
    "dashboard.outbox": {"zh-CN": "待上传", "en": "Outbox"},
    "dashboard.last_seen": {"zh-CN": "最后在线", "en": "Last seen"},
    "dashboard.last_scan": {"zh-CN": "最后核验", "en": "Last scan"},
    "dashboard.actions": {"zh-CN": "操作", "en": "Actions"},
    "dashboard.time": {"zh-CN": "时间", "en": "Time"},
    "dashboard.decision": {"zh-CN": "结果", "en": "Decision"},
    "dashboard.reason": {"zh-CN": "原因", "en": "Reason"},
    "dashboard.ticket": {"zh-CN": "票号", "en": "Ticket"},
    "dashboard.offline": {"zh-CN": "离线", "en": "offline"},
    "dashboard.open_once": {"zh-CN": "开闸一次", "en": "Open once"},
    "dashboard.lock": {"zh-CN": "锁定", "en": "Lock"},
    "dashboard.unlock": {"zh-CN": "解锁", "en": "Unlock"},
    "dashboard.command_sent": {"zh-CN": "指令已发送", "en": "Command sent"},
    "dashboard.command_ok": {"zh-CN": "执行成功", "en": "done"},
    "dashboard.command_failed": {"zh-CN": "执行失败", "en": "failed"},
    "dashboard.live": {"zh-CN": "实时", "en": "Live"},
    "dashboard.reconnecting": {"zh-CN": "重新连接中…", "en": "Reconnecting…"},
    "dashboard.state_online": {"zh-CN": "在线", "en": "online"},
    "dashboard.state_offline": {"zh-CN": "离线", "en": "offline"},
    "dashboard.state_lost": {"zh-CN": "失联", "en": "lost"},
    "dashboard.state_unknown": {"zh-CN": "未知", "en": "unknown"},
    "dashboard.decision_admitted": {"zh-CN": "放行", "en": "admitted"},
    "dashboard.decision_rejected": {"zh-CN": "拒绝", "en": "rejected"},
    "dashboard.login_title": {"zh-CN": "工作人员登录", "en": "Staff login"},
    "dashboard.phone": {"zh-CN": "手机号", "en": "Phone"},
    "dashboard.password": {"zh-CN": "密码", "en": "Password"},
    "dashboard.merchant_id": {"zh-CN": "商户编号", "en": "Merchant id"},
    "dashboard.login": {"zh-CN": "登录", "en": "Log in"},
    "dashboard.login_failed": {"zh-CN": "登录失败", "en": "Login failed"},
}

register_messages(TEXTS)
