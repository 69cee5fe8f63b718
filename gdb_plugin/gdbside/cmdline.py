"""Splitting `hbreak-if [OPTIONS] LOCATION [if] CONDITION` (pure text, no gdb)."""
from dataclasses import dataclass
from typing import Optional

USAGE = ("Usage: hbreak-if [-t] [-thread N] [-ignore K] [-explain] LOCATION [if] CONDITION\n"
         "       hbreak-if -c [-t] [-thread N] [-ignore K] LOCATION C-PREDICATE")
_FLAGS = {"-t": "temporary", "-explain": "explain", "-c": "c_predicate"}
_VALUED = {"-thread": "thread", "-ignore": "ignore"}
_CLOSE = {"(": ")", "[": "]", "{": "}"}


class CommandLineError(ValueError):
    pass


def check_one_line(*texts) -> None:
    """Locations and conditions reach GDB inside commands it runs; a line break would start
    another command."""
    for text in texts:
        if text and any(ch in text for ch in "\n\r"):
            raise CommandLineError(f"a location or condition is one line, not {text!r}")


def check_location(location: str) -> None:
    """An empty linespec, or one empty before a comma (`,f`), fails an assertion in the
    gdb.decode_line and `maint agent-eval -at` of GDB 13, 16 and 18 (measured; GDB's own
    `break ,` calls the comma garbage)."""
    text = location.strip()
    if not text:
        raise CommandLineError(f"a location is needed. {USAGE}")
    if text.startswith(","):
        raise CommandLineError(f"Garbage '{text}' at end of command")


IGNORE_LIMIT = 2**31 - 1  # GDB keeps a breakpoint's ignore count in a C int


def check_ignore(count: int) -> None:
    if not 0 <= count <= IGNORE_LIMIT:
        raise CommandLineError(f"Value out of range: an ignore count is 0 to {IGNORE_LIMIT}, "
                               f"not {count}.")


@dataclass
class Request:
    location: str
    condition: Optional[str]
    temporary: bool = False
    explain: bool = False
    c_predicate: bool = False
    thread: Optional[int] = None
    ignore: int = 0


def _token_end(text: str, start: int) -> int:
    """End of the whitespace-delimited token at `start`, honouring quotes and brackets."""
    depth, quote, i = [], None, start
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in _CLOSE:
            depth.append(_CLOSE[ch])
        elif depth and ch == depth[-1]:
            depth.pop()
        elif ch.isspace() and not depth:
            break
        i += 1
    if quote or depth:
        raise CommandLineError(f"unbalanced {quote or 'bracket'} in {text[start:]!r}")
    return i


_EXPLICIT = ("-source", "-function", "-line", "-label")  # GDB's explicit locations


def _location_end(text: str) -> int:
    """End of the location at the start of `text`: one linespec word, or an explicit location
    (`-function f -line 3`), either after `-qualified`."""
    pos, explicit = 0, False
    while pos < len(text):
        end = _token_end(text, pos)
        word = text[pos:end]
        if word in _EXPLICIT:
            value_start = len(text) - len(text[end:].lstrip())
            end, explicit = _token_end(text, value_start), True
            if value_start == end:
                raise CommandLineError(f"missing argument for \"{word}\"")
        elif word != "-qualified":
            return pos if explicit else end
        pos = len(text) - len(text[end:].lstrip())
    return len(text.rstrip())


def _number(option: str, value: str) -> int:
    try:
        number = int(value, 0)
    except ValueError:
        raise CommandLineError(f"{option} takes a number, not {value!r}") from None
    if number < 0:
        raise CommandLineError(f"{option} takes a number of at least 0, not {number}")
    return number


def parse(argument: str) -> Request:
    text = argument.strip()
    options, pos = {}, 0
    while text.startswith("-", pos):
        end = _token_end(text, pos)
        word = text[pos:end]
        if word in _FLAGS:
            options[_FLAGS[word]] = True
        elif word in _VALUED:
            value_start = len(text) - len(text[end:].lstrip())
            value_end = _token_end(text, value_start)
            if value_start == value_end:
                raise CommandLineError(f"{word} needs a value. {USAGE}")
            options[_VALUED[word]] = _number(word, text[value_start:value_end])
            end = value_end
        elif word == "--":
            pos = len(text) - len(text[end:].lstrip())
            break
        else:
            break  # a location such as -function f -line 3 is not ours to parse
        pos = len(text) - len(text[end:].lstrip())
    rest = text[pos:]
    if not rest:
        raise CommandLineError(f"a location is needed. {USAGE}")
    end = _location_end(rest)
    location, condition = rest[:end].rstrip(), rest[end:].strip()
    if condition == "if" or condition.startswith(("if ", "if\t", "if(")):
        condition = condition[2:].strip()
        if not condition:  # else an unconditional breakpoint would stop at every hit
            raise CommandLineError("Argument required (a condition after `if`).")
    if options.get("c_predicate"):
        if not condition:
            raise CommandLineError(f"-c needs a C predicate after the location. {USAGE}")
        if options.get("explain"):
            raise CommandLineError("-explain shows GDB conditions; a C predicate is shown by "
                                   "`info hbreak-if`")
        condition = _unquote(condition)
    return Request(location=location, condition=condition or None, **options)


def _unquote(text: str) -> str:
    """A C predicate may be given in one pair of quotes, as a shell user would write it."""
    if len(text) >= 2 and text[0] == text[-1] == "'" and _token_end(text, 0) == len(text):
        return text[1:-1]
    return text
