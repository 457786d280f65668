from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hardware.scanners import LineAssembler, ProblemKind, ReaderProblem, ScannedLine, Terminator

TERMINATOR_BYTES = {
    Terminator.ANY: b"\r\n",
    Terminator.CR: b"\r",
    Terminator.LF: b"\n",
    Terminator.CRLF: b"\r\n",
}


def lines(results: list[ScannedLine | ReaderProblem]) -> list[str]:
    return [result.text for result in results if isinstance(result, ScannedLine)]


def problems(results: list[ScannedLine | ReaderProblem]) -> list[ProblemKind]:
    return [result.kind for result in results if isinstance(result, ReaderProblem)]


def test_lines_end_at_cr_lf_or_crlf_and_empty_lines_vanish() -> None:
    assembler = LineAssembler()
    results = assembler.feed(b"A1\rB2\nC3\r\n\r\n", now=1.0)
    assert results == [ScannedLine("A1", 1.0), ScannedLine("B2", 1.0), ScannedLine("C3", 1.0)]
    assert not assembler.has_partial


def test_a_line_split_across_chunks_is_stamped_when_it_ends() -> None:
    assembler = LineAssembler()
    assert assembler.feed(b"HC1:AB", now=1.0) == []
    assert assembler.has_partial
    assert assembler.feed(b"CD\n", now=1.2) == [ScannedLine("HC1:ABCD", 1.2)]


def test_strict_crlf_waits_for_lf_across_chunks() -> None:
    assembler = LineAssembler(Terminator.CRLF)
    assert assembler.feed(b"123\r", now=0) == []
    assert lines(assembler.feed(b"\n", now=0)) == ["123"]


def test_strict_crlf_treats_a_lone_cr_as_garbage() -> None:
    assembler = LineAssembler(Terminator.CRLF)
    results = assembler.feed(b"12\r3\r\n", now=0)
    assert problems(results) == [ProblemKind.CONTROL_CHARACTERS]


def test_cr_terminator_does_not_end_at_lf() -> None:
    assembler = LineAssembler(Terminator.CR)
    assert problems(assembler.feed(b"ab\ncd\r", now=0)) == [ProblemKind.CONTROL_CHARACTERS]
    assert lines(assembler.feed(b"ef\r", now=0)) == ["ef"]


def test_undecodable_bytes_are_reported_and_the_next_line_reads() -> None:
    assembler = LineAssembler()
    results = assembler.feed(b"\xff\xfe\x00\nGOOD\n", now=0)
    assert problems(results) == [ProblemKind.UNDECODABLE]
    assert lines(results) == ["GOOD"]


def test_nul_from_a_framing_error_spoils_the_line() -> None:
    results = LineAssembler().feed(b"123\x00456\n", now=0)
    assert problems(results) == [ProblemKind.CONTROL_CHARACTERS]
    assert lines(results) == []


def test_overlong_line_is_dropped_up_to_its_terminator() -> None:
    assembler = LineAssembler(max_line_length=4)
    results = assembler.feed(b"1234\nABCDEFGH\nWXYZ\n", now=0)
    assert lines(results) == ["1234", "WXYZ"]
    assert problems(results) == [ProblemKind.TOO_LONG]
    too_long = next(result for result in results if isinstance(result, ReaderProblem))
    assert too_long.raw == b"ABCD"


def test_silence_drops_an_unfinished_line() -> None:
    assembler = LineAssembler(partial_timeout=0.5)
    assembler.feed(b"HALF", now=10.0)
    assert assembler.expire(10.49) is None
    problem = assembler.expire(10.5)
    assert problem is not None and problem.kind is ProblemKind.INCOMPLETE
    assert problem.raw == b"HALF"
    assert lines(assembler.feed(b"NEXT\n", now=11.0)) == ["NEXT"]


def test_new_bytes_after_silence_start_a_new_line() -> None:
    assembler = LineAssembler(partial_timeout=0.5)
    assembler.feed(b"HALF", now=0.0)
    results = assembler.feed(b"FULL\n", now=2.0)
    assert problems(results) == [ProblemKind.INCOMPLETE]
    assert lines(results) == ["FULL"]


def test_silence_also_ends_skipping_an_overlong_line_without_a_second_report() -> None:
    assembler = LineAssembler(max_line_length=2, partial_timeout=0.5)
    assert problems(assembler.feed(b"XXXXX", now=0.0)) == [ProblemKind.TOO_LONG]
    assert assembler.expire(1.0) is None
    assert lines(assembler.feed(b"OK\n", now=1.0)) == ["OK"]


def test_no_timeout_keeps_partials() -> None:
    assembler = LineAssembler(partial_timeout=None)
    assembler.feed(b"SLOW", now=0.0)
    assert assembler.expire(1e9) is None
    assert lines(assembler.feed(b"\n", now=1e9)) == ["SLOW"]


@given(st.lists(st.binary(max_size=64), max_size=30), st.sampled_from(list(Terminator)))
def test_arbitrary_bytes_never_crash_and_lines_stay_clean(
    chunks: list[bytes], terminator: Terminator
) -> None:
    assembler = LineAssembler(terminator, max_line_length=16)
    for index, chunk in enumerate(chunks):
        for result in assembler.feed(chunk, now=index * 0.1):
            if isinstance(result, ScannedLine):
                assert 0 < len(result.text.encode()) <= 16
                assert "\r" not in result.text and "\n" not in result.text
            else:
                assert len(result.raw) <= 64


code_text = st.text(
    st.characters(blacklist_categories=("Cc", "Cs")),
    min_size=1,
    max_size=40,
).filter(lambda text: len(text.encode()) <= 120)


@given(
    st.lists(code_text, max_size=10),
    st.sampled_from(list(Terminator)),
    st.data(),
)
def test_lines_round_trip_however_they_are_chunked(
    texts: list[str], terminator: Terminator, data: st.DataObject
) -> None:
    stream = b"".join(text.encode() + TERMINATOR_BYTES[terminator] for text in texts)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    pieces = [
        stream[start:end] for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True)
    ]
    assembler = LineAssembler(terminator, max_line_length=120)
    results = [result for piece in pieces for result in assembler.feed(piece, now=0.0)]
    assert lines(results) == texts
    assert problems(results) == []
