"""How `--help` reads: arguments written as their metavar (SPEC, not typer's {SPEC}), and the
examples of an epilog wrapped at word boundaries to the help's width, each continued with a
shell's backslash so that a wrapped example still runs when pasted."""

from __future__ import annotations

from typer.core import TyperCommand

EXAMPLES = "\b\nExamples:\n"


class HelpCommand(TyperCommand):
    # ctx and formatter are click's (typer vendors its own copy in some versions): left untyped
    def collect_usage_pieces(self, ctx):
        pieces = super().collect_usage_pieces(ctx)
        return [p[1:-1] if p.startswith("{") and p.endswith("}") else p for p in pieces]

    def format_epilog(self, ctx, formatter):
        if not self.epilog or not self.epilog.startswith(EXAMPLES):
            super().format_epilog(ctx, formatter)
            return
        formatter.write_paragraph()
        formatter.indent()
        formatter.write_text(EXAMPLES.rstrip("\n"))
        width = max(formatter.width - formatter.current_indent - 4, 30)
        for example in self.epilog[len(EXAMPLES) :].splitlines():
            for line in wrap_command(example.strip(), width):
                formatter.write(f"{'':>{formatter.current_indent}}  {line}\n")
        formatter.dedent()


def wrap_command(command: str, width: int) -> list[str]:
    """A shell command in lines of at most `width` (a word longer than that stands alone), broken
    only at spaces outside quotes, each line but the last ending in ' \\'; the rest indented."""
    if len(command) <= width:
        return [command]
    lines: list[str] = []
    line = ""
    for word in option_groups(shell_words(command)):
        indent = "    " if lines else ""
        if line and len(indent + line + " " + word) + 2 > width:
            lines.append(indent + line + " \\")
            line = word
        else:
            line = f"{line} {word}" if line else word
    return lines + [("    " if lines else "") + line]


def option_groups(words: list[str]) -> list[str]:
    """An option stays with its value on one line: ['--seq', '4096'] -> ['--seq 4096']."""
    out: list[str] = []
    for word in words:
        if out and out[-1].startswith("-") and " " not in out[-1] and not word.startswith(("-", "|", ">", "#")):
            out[-1] += " " + word
        else:
            out.append(word)
    return out


def shell_words(command: str) -> list[str]:
    """'a -l "b c" d' -> ['a', '-l', '"b c"', 'd']: split at spaces outside quotes, quotes kept.
    A comment ('# ...') stays one word."""
    words, word, quote = [], "", ""
    for i, ch in enumerate(command):
        if not quote and ch == "#" and not word:
            words.append(command[i:])
            return words
        if ch == " " and not quote:
            if word:
                words.append(word)
            word = ""
            continue
        if ch in "'\"" and quote in ("", ch):
            quote = "" if quote else ch
        word += ch
    return words + ([word] if word else [])
