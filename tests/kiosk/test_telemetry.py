"""The kiosk's telemetry figures."""

from __future__ import annotations

from kiosk.telemetry import DECODE_WINDOW, TelemetryRecorder


def test_counts_since_start_and_the_recent_decode_median() -> None:
    recorder = TelemetryRecorder(started=100.0)
    for admitted in (True, False, True):
        recorder.scan_decided(admitted)
    for ms in (9.0, 1.0, 5.0):
        recorder.decoded(ms)
    for _ in range(3):
        recorder.connected()

    assert recorder.metrics(outbox_depth=4, now=160.5) == {
        "scans_decided": 3,
        "scans_admitted": 2,
        "scans_rejected": 1,
        "outbox_depth": 4,
        "link_reconnects": 2,
        "uptime_s": 60.5,
        "decode_ms_p50": 5.0,
    }


def test_no_decode_median_before_the_first_frame_and_old_decodes_age_out() -> None:
    recorder = TelemetryRecorder(started=0.0)
    assert "decode_ms_p50" not in recorder.metrics(outbox_depth=0, now=1.0)
    assert recorder.metrics(outbox_depth=0, now=1.0)["link_reconnects"] == 0

    for _ in range(DECODE_WINDOW):
        recorder.decoded(100.0)
    for _ in range(DECODE_WINDOW // 2 + 1):
        recorder.decoded(2.0)

    assert recorder.metrics(outbox_depth=0, now=1.0)["decode_ms_p50"] == 2.0
