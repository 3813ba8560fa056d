"""Text a spec author controls, made safe for each place it is shown. One function per destination;
renderers call them where user text (a name, a path, a message) enters a line or a cell.

Specs are untrusted (they arrive in pull requests), so nothing they say may move a terminal's
cursor, forge a GitHub annotation, break a Markdown or CSV row, start a spreadsheet formula or
inject HTML. (The HTML and SVG exports are rich's, which escapes text; names reach it as
rich Text, never markup, so they cannot make a link or a tag. `memory --plot`'s SVG is our own
text: its names go through xml().)
"""

from __future__ import annotations

import functools
import re

QUOTE_LIMIT = 80  # quoted values in messages are cut here, so a message never echoes a file

_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(ch: str) -> str:
    if ch in _SHORT:
        return _SHORT[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


# Not printable: C0/C1 controls (ESC, BEL, NEL U+0085), format characters (bidi overrides,
# zero-width), line and paragraph separators (U+2028/2029), surrogates, unassigned code points.
_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def terminal(text) -> str:
    """For terminals, logs and messages: every character that is not printable is shown as a
    Python-style escape (`\\n`, `\\x1b`, `\\u2028`), so one value stays on one line and sends
    no control sequence."""
    text = str(text)
    if text.isascii():
        return _ASCII_CONTROL.sub(lambda m: _escape_char(m.group()), text)
    return "".join(ch if ch == " " or ch.isprintable() else _escape_char(ch) for ch in text)


def quote(value, limit: int = QUOTE_LIMIT) -> str:
    """A value quoted in a message: repr-like, escaped, and cut to about `limit` characters."""
    text = terminal(value)
    if len(text) > limit:
        text = text[:limit] + f"… ({len(str(value)):,} characters)"
    return "'" + text.replace("'", "\\'") + "'"


def cut(text, limit: int = QUOTE_LIMIT) -> str:
    """Escaped, and cut to about `limit` characters (for names and paths echoed in a message)."""
    text = terminal(text)
    return text if len(text) <= limit else text[:limit] + "…"


# What .NET's culture-aware string search skips as if it were not there (the runner finds both
# command forms with it): controls, soft hyphen, joiners, bidi marks, variation selectors and the
# other default-ignorable code points. `#\u200b#[` is `##[` to the runner.
_IGNORABLE = (
    "\x01-\x08\x0e-\x1f\x7f-\x9f\xad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f"
    "\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0000-\U000e0fff"
)
# Those of them in ASCII: for ASCII text the patterns below need no more, and compile in a tenth of
# the time (the full classes take a millisecond and a half, more than a small run spends here).
_ASCII_IGNORABLE = "\x01-\x08\x0e-\x1f\x7f"
OLD_COMMAND_ESCAPE = "\\u005b"  # what `##[` is written as: `##\u005b`


def _command_patterns(text: str) -> tuple[re.Pattern, re.Pattern]:
    """A line starting a workflow command, and the older form anywhere, for this text: compiled
    when first needed, with the ignorable characters it can hold."""
    return _patterns(_ASCII_IGNORABLE if text.isascii() else _IGNORABLE)


@functools.cache
def _patterns(ignorable: str) -> tuple[re.Pattern, re.Pattern]:
    return (
        re.compile(f"^((?:\\s|[{ignorable}])*):([{ignorable}]*):", re.M),
        re.compile(f"#([{ignorable}]*)#([{ignorable}]*)\\["),
    )


def workflow_lines(text: str) -> str:
    """For any output GitHub Actions may read (stdout and stderr of a step), as the runner reads
    both forms of workflow command (actions/runner, ActionCommand.cs): a line that would start one
    (`::error::...`, leading spaces ignored, as the runner does) because it begins with a spec's text
    (a name, a file's name) gets a backslash before it, and the older form `##[command]`, which
    acts anywhere in a line, is broken as `workflow_anywhere` breaks it."""
    if ":" in text:
        text = _command_patterns(text)[0].sub(r"\1\\:\2:", text)
    return workflow_anywhere(text)


def workflow_anywhere(text: str) -> str:
    """The runner's older command form, `##[command]data`, which it finds anywhere in a line: its
    `[` is written `\\u005b` (`##\\u005b`). That is the same character to JSON, to a YAML
    double-quoted string and to a Python string literal, so it keeps the value in the formats that
    decode it, and a visible, documented escape in the others (tables, CSV, messages)."""
    if "#" not in text:
        return text
    return _command_patterns(text)[1].sub(r"#\1#\2" + OLD_COMMAND_ESCAPE.replace("\\", "\\\\"), text)


# (patterns as text, compiled by re when first used: most runs write no Markdown)
_PIPE = r"(\\*)\|"
_MD_SPECIAL = r"([\\`*_{}\[\]()#+\-.!|<>~&\"'=:$])"


def markdown(text) -> str:
    """For Markdown text (GitHub-flavoured, table cells included): every ASCII punctuation that
    Markdown or HTML could read is backslash-escaped, so `<img ...>`, `|` and `[x](y)` stay text;
    and an `@` is a code span of its own (`` `@` ``), since GitHub links (and notifies) `@user` and
    `@org/team` in text after Markdown's escapes are read, but never inside code."""
    return re.sub(_MD_SPECIAL, r"\\\1", terminal(text)).replace("@", "`@`")


def markdown_code(text) -> str:
    """For a Markdown code span inside a table: fenced with more backticks than it contains, and
    `|` escaped (GitHub splits table cells on `|` even inside code spans). A backslash escapes a
    backslash there, so backslashes before a `|` are doubled: `a\\|` cannot end the cell."""
    text = re.sub(_PIPE, lambda m: m.group(1) * 2 + "\\|", terminal(text))
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def github_data(text) -> str:
    """For the message of a GitHub Actions workflow command (`::error ...::DATA`), as the Actions
    toolkit's escapeData does: % CR LF -> %25 %0D %0A."""
    return str(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def github_property(text) -> str:
    """For a property of a workflow command (`file=...`, `title=...`), as the toolkit's
    escapeProperty does: escapeData, and : , -> %3A %2C."""
    return github_data(text).replace(":", "%3A").replace(",", "%2C")


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(text) -> str:
    """For a CSV text cell (OWASP's CSV-injection rule): a cell that a spreadsheet would read as a
    formula (starting with = + - @ tab or CR) gets a leading `'`. Control characters are escaped."""
    text = str(text)
    if text.startswith(_FORMULA_START):
        return "'" + terminal(text)
    return terminal(text)


def xml(text) -> str:
    """For XML text and attribute values (the SVG of `memory --plot`): what is not printable as
    terminal() shows it (XML 1.0 forbids most control characters: one in a name would leave a file no
    parser reads), then & < > " ' as entities, so a name can open no tag, attribute or entity."""
    return (
        terminal(text)
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#39;")
    )
