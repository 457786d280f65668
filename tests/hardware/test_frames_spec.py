"""The frame source spec parser and the factory that opens sources from specs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardware.frames import FrameSourceError, FrameSourceSpec, open_frame_source, parse_spec
from hardware.frames.folder import FolderSource
from hardware.frames.spec import KINDS, spec_from_mapping
from hardware.frames.synthetic import SyntheticSource

option_keys = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=10)
option_values = st.text(max_size=12)
targets = st.text(max_size=30).filter(lambda t: t == t.strip())


@given(
    kind=st.sampled_from(KINDS), target=targets, options=st.dictionaries(option_keys, option_values)
)
def test_spec_text_round_trips(kind: str, target: str, options: dict[str, str]) -> None:
    spec = FrameSourceSpec(kind, target, options)
    assert parse_spec(str(spec)) == spec


@given(st.text(max_size=60))
def test_parser_accepts_or_raises_a_typed_error(text: str) -> None:
    try:
        spec = parse_spec(text)
    except FrameSourceError:
        return
    assert spec.kind in KINDS


def test_parses_kind_target_and_options() -> None:
    spec = parse_spec("Folder:/srv/frames?loop=yes&fps=12.5")
    assert spec == FrameSourceSpec("folder", "/srv/frames", {"loop": "yes", "fps": "12.5"})
    assert spec.option_bool("loop", False) is True
    assert spec.option_float("fps", 0.0) == 12.5
    assert spec.option_int("missing", 4) == 4


@pytest.mark.parametrize("text", ["", "  ", "webcam", "ftp:/x", "folder:/x?=&&="])
def test_bad_specs_raise(text: str) -> None:
    with pytest.raises(FrameSourceError):
        parse_spec(text)


@pytest.mark.parametrize(
    ("text", "getter"),
    [("synthetic?seed=x", "option_int"), ("folder:/x?fps=nan", "option_float")],
)
def test_bad_option_values_raise(text: str, getter: str) -> None:
    spec = parse_spec(text)
    key = next(iter(spec.options))
    with pytest.raises(FrameSourceError, match=key):
        getattr(spec, getter)(key, 0)


def test_bad_boolean_option_raises() -> None:
    with pytest.raises(FrameSourceError, match="boolean"):
        parse_spec("folder:/x?loop=maybe").option_bool("loop", False)


def test_factory_opens_synthetic_and_folder(tmp_path: object) -> None:
    assert isinstance(open_frame_source("synthetic?seed=2&mild=true"), SyntheticSource)
    assert isinstance(open_frame_source(f"folder:{tmp_path}?loop=true"), FolderSource)
    with pytest.raises(FrameSourceError, match="needs a path"):
        open_frame_source("folder")
    with pytest.raises(FrameSourceError, match="does not exist"):
        open_frame_source("folder:/no/such/dir")


def test_spec_from_toml_table() -> None:
    spec = spec_from_mapping({"kind": "folder", "target": "/srv/f", "loop": True, "fps": 10})
    assert spec == FrameSourceSpec("folder", "/srv/f", {"loop": "true", "fps": "10"})
    with pytest.raises(FrameSourceError, match="kind"):
        spec_from_mapping({"target": "/srv/f"})
