"""Shared check of the reliability tests: a refused command prints one error line and no traceback."""

from __future__ import annotations


def one_line_error(capsys, *words: str) -> str:
    """The CLI's error: one line, no traceback, naming every word."""
    err = capsys.readouterr().err
    lines = [line for line in err.strip().splitlines() if "error:" in line]
    assert "Traceback" not in err, err
    assert len(lines) == 1, err
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]
