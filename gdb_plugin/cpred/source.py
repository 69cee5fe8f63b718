"""From the user's predicate text to the C file BCC compiles (no gdb, no bcc).

The text is either
  * an expression: it has no `return` keyword; it becomes `return (TEXT);`
    in a function returning _Bool, so any non-zero value stops; or
  * a body: it has a `return` (outside comments and literals); it is the
    function body as written, and a body that ends without returning stops.

Both go into bpfprogs/predicate.c in place of its marker line, after
`#line 1 "predicate"`, so clang reports `predicate:LINE:COL` counted from
the start of the user's text.
"""

import re
from pathlib import Path

EXPRESSION = "expression"
BODY = "body"

# The name clang uses for the user's text in its messages.
USER_FILE = "predicate"
MARKER = "/* HBREAK_IF_PREDICATE */"

BPFPROGS = Path(__file__).resolve().parent.parent.parent / "bpfprogs"
TEMPLATE = BPFPROGS / "predicate.c"
HEADER = BPFPROGS / "hbreak_if.h"

# Names whose use makes a predicate keep state across hits (hbreak_if.h).
_STATE_NAMES = re.compile(
    r"\b(STATE|STATE_INC|STATE_BY|hbreak_if_state|hbreak_if_state_by|"
    r"hbreak_if_state_slot|hbreak_if_state_key)\b")
_RETURN = re.compile(r"\breturn\b")
_DIAG = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+):(?P<col>\d+): "
                   r"(?P<kind>fatal error|error|warning|note): ", re.M)


def code_only(text):
    """`text` with comments, string and character literals blanked out
    (newlines kept), so that keyword searches see only code."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        two = text[i:i + 2]
        if two == "//":
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif two == "/*":
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(c + re.sub(r"[^\n]", " ", text[i + 1:j - 1]) + c
                       if j - i >= 2 else text[i:j])
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def classify(text):
    """EXPRESSION or BODY (see the module docstring)."""
    return BODY if _RETURN.search(code_only(text)) else EXPRESSION


def uses_state(text):
    """Does the text use the per-breakpoint state maps?"""
    return bool(_STATE_NAMES.search(code_only(text)))


def normalize(text):
    """Unix newlines, no trailing blank space; '' if there is no code."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").rstrip()
    return text if code_only(text).strip() else ""


def render(text, template=None, template_path=None):
    """The C file for predicate `text` -> (c_source, kind).

    `template` is the template's text (default: bpfprogs/predicate.c) and
    `template_path` the name its own lines are reported under."""
    if template is None:
        template = TEMPLATE.read_text()
    if template_path is None:
        template_path = str(TEMPLATE)
    text = normalize(text)
    kind = classify(text)
    lines = template.split("\n")
    at = next(i for i, ln in enumerate(lines) if ln.strip() == MARKER)
    # `#line N` names the line that follows it; the template resumes with
    # its line at index at+1, i.e. line number at+2.
    # BCC names its input /virtual/main.c; give the template's lines their own name.
    head = ['#line 1 "%s"' % template_path]
    resume = '#line %d "%s"' % (at + 2, template_path)
    start = '#line 1 "%s"' % USER_FILE
    if kind == EXPRESSION:
        # The closing parenthesis stays in the user's numbering, so an
        # unbalanced expression is reported just after its last line.
        middle = ["\treturn (", start, text, ");", resume]
    else:
        middle = [start, text, resume]
    return "\n".join(head + lines[:at] + middle + lines[at + 1:]), kind


def first_error(diagnostics):
    """(line, column) of the first error clang reports in the user's text,
    or (None, None)."""
    for m in _DIAG.finditer(diagnostics):
        if m.group("kind") in ("error", "fatal error"):
            if m.group("file") == USER_FILE:
                return int(m.group("line")), int(m.group("col"))
            return None, None
    return None, None


def has_errors(diagnostics):
    return any(m.group("kind") in ("error", "fatal error")
               for m in _DIAG.finditer(diagnostics))
