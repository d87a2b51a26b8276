"""What the demo writes while it runs: step lines, and a progress line.

The progress line is one line rewritten in place on a terminal. A log file or a CI console cannot take a carriage return, so when stdout is
not a terminal the line is printed whole, at most every ``every_s`` seconds
and once more at the end.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

import click

__all__ = ["ProgressLine", "say"]

_CLEAR_TO_END = "\x1b[K"


def say(message: str) -> None:
    """One step of the demo, on its own line."""
    click.echo(click.style("==> ", bold=True) + message)


class ProgressLine:
    """Shows the latest state of a long step.

    Args:
        stream: where to write (stdout by default).
        every_s: least seconds between two plain lines (not on a terminal).
        tty: whether the stream is a terminal (asked of the stream by default).
    """

    def __init__(
        self, stream: TextIO | None = None, *, every_s: float = 2.0, tty: bool | None = None
    ) -> None:
        self._stream = stream if stream is not None else sys.stdout
        self._tty = self._stream.isatty() if tty is None else tty
        self._every_s = every_s
        self._last_text = ""
        self._last_printed = ""
        self._printed_at = float("-inf")

    def update(self, text: str) -> None:
        """Show ``text`` as the current state (a plain stream may skip it: see the class)."""
        self._last_text = text
        if self._tty:
            click.echo(f"\r    {text}{_CLEAR_TO_END}", file=self._stream, nl=False)
            self._last_printed = text
            return
        now = time.monotonic()
        if now - self._printed_at >= self._every_s and text != self._last_printed:
            self._plain(text, now)

    def finish(self) -> None:
        """End the line: the terminal's cursor moves on; a plain stream gets the last state."""
        if self._tty:
            if self._last_printed:
                click.echo(file=self._stream)
        elif self._last_text and self._last_text != self._last_printed:
            self._plain(self._last_text, time.monotonic())
        self._last_printed = ""

    def _plain(self, text: str, now: float) -> None:
        click.echo(f"    {text}", file=self._stream)
        self._last_printed = text
        self._printed_at = now
