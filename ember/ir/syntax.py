"""The text cursor shared by the attribute and operation parsers, and ParseError."""

from __future__ import annotations

import bisect
import re

# Whitespace and `//` comments, which may appear between any two tokens.
_SPACE = re.compile(r"(?:\s+|//[^\n]*)+")
_TOKEN = re.compile(r"[\w$.%@^#-]+|\S")


class ParseError(ValueError):
    """Malformed IR text; the message starts with the 1-based `line:column` of the problem."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(f"{line}:{column}: {message}")
        self.reason = message
        self.line = line
        self.column = column


class Cursor:
    """A position in IR text, with token-level helpers that skip whitespace and comments."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def location(self, pos: int) -> tuple[int, int]:
        """The 1-based (line, column) of character offset `pos`."""
        line = bisect.bisect_right(self._line_starts, pos)
        return line, pos - self._line_starts[line - 1] + 1

    def error(self, message: str, pos: int | None = None) -> ParseError:
        """A ParseError at `pos` (default: the next token)."""
        return ParseError(message, *self.location(self.skip() if pos is None else pos))

    def skip(self) -> int:
        """Move past whitespace and comments; return the new position."""
        m = _SPACE.match(self.text, self.pos)
        if m:
            self.pos = m.end()
        return self.pos

    def at_end(self) -> bool:
        return self.skip() >= len(self.text)

    def next_token(self) -> str:
        """The next token, quoted, for an error message."""
        m = _TOKEN.match(self.text, self.skip())
        return f"'{m.group()[:40]}'" if m else "end of input"

    def peek(self, literal: str) -> bool:
        return self.text.startswith(literal, self.skip())

    def accept(self, literal: str) -> bool:
        """Consume `literal` if it comes next."""
        if self.peek(literal):
            self.pos += len(literal)
            return True
        return False

    def accept_word(self, word: str) -> bool:
        """Consume the keyword `word` if it comes next as a whole word."""
        return self.match(re.compile(re.escape(word) + r"(?![\w$.])")) is not None

    def expect(self, literal: str, what: str | None = None) -> int:
        """Consume `literal` or raise; return where it started."""
        start = self.skip()
        if not self.accept(literal):
            raise self.error(f"expected {what or repr(literal)}, found {self.next_token()}")
        return start

    def match(self, regex: re.Pattern) -> re.Match | None:
        """Consume a match of `regex` at the next token, if any."""
        m = regex.match(self.text, self.skip())
        if m:
            self.pos = m.end()
        return m

    def expect_match(self, regex: re.Pattern, what: str) -> re.Match:
        m = self.match(regex)
        if m is None:
            raise self.error(f"expected {what}, found {self.next_token()}")
        return m
