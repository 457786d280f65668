"""JSON log lines carry the request id and extra fields."""

from __future__ import annotations

import json
import logging

from server.logs import JsonFormatter, request_id_var


def test_a_record_becomes_one_json_object_with_the_request_id() -> None:
    record = logging.LogRecord("server.x", logging.INFO, __file__, 1, "hello %s", ("李",), None)
    record.status = 201
    token = request_id_var.set("req-1")
    try:
        line = JsonFormatter().format(record)
    finally:
        request_id_var.reset(token)
    entry = json.loads(line)
    assert entry["message"] == "hello 李"
    assert entry["request_id"] == "req-1"
    assert entry["status"] == 201
    assert entry["level"] == "INFO"
    assert "\n" not in line
