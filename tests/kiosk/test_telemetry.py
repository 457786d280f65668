"""The kiosk's telemetry figures: its own counters, and the machine's health read from files
(temporary ones here, with the malformed contents a reader must answer None for)."""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.telemetry import (
    DECODE_WINDOW,
    TEMP_RANGE_C,
    HostProbe,
    TelemetryRecorder,
    cpu_temp_c,
    disk_figures,
    disk_free,
    mem_free_mb,
    parse_meminfo,
    parse_thermal,
)
from protocol import messages


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


# --- the machine's figures -------------------------------------------------------------------

MEMINFO_TEXT = """MemTotal:        3884376 kB
MemFree:          215884 kB
MemAvailable:    2871236 kB
Buffers:           62148 kB
Cached:          2499908 kB
"""

not_text_bytes = st.binary(max_size=40).filter(lambda data: not data.isascii())


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="ascii")
    else:
        path.write_bytes(content)
    return path


def test_the_recorder_adds_the_machine_figures_and_its_interval(tmp_path: Path) -> None:
    host = HostProbe(
        tmp_path / "kiosk.db",
        thermal_path=write(tmp_path, "temp", "48312\n"),
        meminfo_path=write(tmp_path, "meminfo", MEMINFO_TEXT),
    )
    recorder = TelemetryRecorder(started=0.0, interval_s=60.0, host=host)

    metrics = recorder.metrics(outbox_depth=0, now=5.0)

    assert metrics["cpu_temp_c"] == 48.3
    assert metrics["mem_free_mb"] == 2871236 // 1024 == 2803
    assert metrics["interval_s"] == 60.0
    assert 0 <= metrics["disk_free_pct"] <= 100 and metrics["disk_free_mb"] >= 0
    # what the network worker publishes: valid metric names and finite numbers
    message = messages.Telemetry(gate="north-1", metrics=metrics, ts=1)
    decoded = messages.decode(messages.encode(message))
    assert isinstance(decoded, messages.Telemetry) and decoded.metrics == metrics


def test_figures_that_cannot_be_read_are_left_out_not_made_up(tmp_path: Path) -> None:
    """As off Linux or on a board without a thermal sensor: no files, only the disk figures."""
    host = HostProbe(
        tmp_path / "kiosk.db",
        thermal_path=tmp_path / "no" / "temp",
        meminfo_path=tmp_path / "no" / "meminfo",
    )
    metrics = TelemetryRecorder(started=0.0, host=host).metrics(outbox_depth=0, now=1.0)

    assert "cpu_temp_c" not in metrics and "mem_free_mb" not in metrics
    assert "interval_s" not in metrics
    assert {"disk_free_mb", "disk_free_pct"} <= metrics.keys()


def test_this_machine_reports_its_available_memory(tmp_path: Path) -> None:
    """The default paths on the Linux the tests run on (the CPU sensor may be absent here)."""
    metrics = HostProbe(tmp_path / "kiosk.db").metrics()

    assert isinstance(metrics["mem_free_mb"], int) and metrics["mem_free_mb"] > 0
    assert set(metrics) <= {"cpu_temp_c", "disk_free_mb", "disk_free_pct", "mem_free_mb"}


@pytest.mark.parametrize("interval", [0.0, -5.0, math.inf, math.nan])
def test_a_nonsense_interval_is_refused(interval: float) -> None:
    with pytest.raises(ValueError, match="interval_s"):
        TelemetryRecorder(started=0.0, interval_s=interval)


@pytest.mark.parametrize(
    ("text", "celsius"),
    [
        ("48312\n", 48.3),
        ("48350", 48.4),  # one decimal, as the dashboard shows it
        ("85000\n", 85.0),
        ("-5000\n", -5.0),
        ("0\n", 0.0),
        ("", None),
        ("\n", None),
        ("48.3\n", None),  # degrees, not millidegrees: some other file
        ("abc\n", None),
        ("--5000\n", None),
        ("-\n", None),
        ("48312 48000\n", None),
        ("-273150\n", None),  # drivers' error values
        ("2147483647\n", None),
        ("\u0664\u0668\u0663\u0661\u0662\n", None),  # digits, not ASCII ones
    ],
)
def test_thermal_readings(text: str, celsius: float | None) -> None:
    assert parse_thermal(text) == celsius


@given(st.integers(min_value=-60_000, max_value=150_000), st.sampled_from(["", "\n", " \n"]))
def test_any_millidegree_reading_in_range_is_its_temperature(milli: int, end: str) -> None:
    assert parse_thermal(f"{milli}{end}") == round(milli / 1000, 1)


@given(st.text(max_size=30))
def test_any_thermal_text_is_a_plausible_temperature_or_none(text: str) -> None:
    celsius = parse_thermal(text)

    assert celsius is None or (
        math.isfinite(celsius) and TEMP_RANGE_C[0] <= celsius <= TEMP_RANGE_C[1]
    )


@pytest.mark.parametrize(
    ("text", "mb"),
    [
        (MEMINFO_TEXT, 2803),
        ("MemAvailable: 1023 kB\n", 0),
        ("MemAvailable:\t1048576 kB", 1024),
        ("MemTotal: 3884376 kB\nMemFree: 215884 kB\n", None),  # kernel before 3.14: no guess
        ("", None),
        ("MemAvailable: lots kB\n", None),
        ("MemAvailable: 1024 MB\n", None),
        ("MemAvailable: 1024\n", None),
        ("MemAvailable: -1024 kB\n", None),
        ("MemAvailable 1024 kB\n", None),
    ],
)
def test_meminfo_readings(text: str, mb: int | None) -> None:
    assert parse_meminfo(text) == mb


@given(
    st.integers(min_value=0, max_value=2**50),
    st.lists(st.tuples(st.sampled_from(["MemTotal", "MemFree", "Cached"]), st.integers(0, 2**40))),
)
def test_mem_available_is_found_among_any_other_lines(
    kb: int, others: list[tuple[str, int]]
) -> None:
    lines = [f"{name}: {value} kB" for name, value in others]
    lines.insert(len(lines) // 2, f"MemAvailable:   {kb} kB")

    assert parse_meminfo("\n".join(lines) + "\n") == kb // 1024


@given(st.text(max_size=200))
def test_any_meminfo_text_is_a_count_or_none(text: str) -> None:
    mb = parse_meminfo(text)

    assert mb is None or (isinstance(mb, int) and mb >= 0)


@pytest.mark.parametrize("reader", [cpu_temp_c, mem_free_mb])
def test_readers_answer_none_for_files_they_cannot_use(
    reader: Callable[[Path], float | None], tmp_path: Path
) -> None:
    assert reader(tmp_path / "missing") is None
    assert reader(tmp_path) is None  # a directory
    assert reader(write(tmp_path, "empty", "")) is None
    assert reader(write(tmp_path, "binary", b"\xff\xfe\x00\x01garbage")) is None
    assert reader(write(tmp_path, "huge", b"7" * (1 << 20))) is None


@given(not_text_bytes)
def test_readers_never_raise_on_bytes_that_are_not_text(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "figure"
        path.write_bytes(data)
        assert cpu_temp_c(path) is None
        assert mem_free_mb(path) is None


def test_readers_read_real_files(tmp_path: Path) -> None:
    assert cpu_temp_c(write(tmp_path, "temp", "61234\n")) == 61.2
    assert mem_free_mb(write(tmp_path, "meminfo", MEMINFO_TEXT)) == 2803


@given(
    st.integers(min_value=1, max_value=2**60).flatmap(
        lambda t: st.tuples(st.just(t), st.integers(0, t))
    )
)
def test_disk_figures_of_any_file_system(sizes: tuple[int, int]) -> None:
    total, free = sizes
    figures = disk_figures(total, free)

    assert figures is not None
    assert figures["disk_free_mb"] == free // (1024 * 1024)
    assert 0 <= figures["disk_free_pct"] <= 100
    assert math.isclose(figures["disk_free_pct"], free * 100 / total, abs_tol=0.05)


@pytest.mark.parametrize(("total", "free"), [(0, 0), (-1, 0), (100, -1), (100, 101)])
def test_disk_figures_no_file_system_has_are_none(total: int, free: int) -> None:
    assert disk_figures(total, free) is None


def test_disk_free_where_the_store_will_be(tmp_path: Path) -> None:
    """The store's file (and folders) may not exist yet: its nearest existing parent counts."""
    for store in (write(tmp_path, "kiosk.db", ""), tmp_path / "not" / "yet" / "kiosk.db"):
        figures = disk_free(store)
        assert figures is not None
        assert 0 <= figures["disk_free_pct"] <= 100 and figures["disk_free_mb"] >= 0
        assert isinstance(figures["disk_free_mb"], int)
