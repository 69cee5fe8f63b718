"""A log-log line plot written as PNG with the standard library only (zlib, struct).

No plotting package is needed on the machine: the canvas, the lines and a
5x7 bitmap font (lower case, digits, a few signs; upper case is drawn as
lower case) are here.
"""
import math
import struct
import zlib
from typing import Dict, List, Sequence, Tuple

Color = Tuple[int, int, int]

WHITE = (255, 255, 255)
BLACK = (0, 0, 0)
GRID = (205, 205, 205)
MINOR = (238, 238, 238)
AXIS = (90, 90, 90)
PALETTE = [
    (0, 0, 0), (120, 120, 120), (214, 39, 40), (255, 127, 14), (148, 103, 189),
    (140, 86, 75), (31, 119, 180), (44, 160, 44), (23, 190, 207), (227, 119, 194),
]

# 5 columns x 8 rows ('#' = ink); row 6 is the baseline row, row 7 the descender.
_GLYPHS = {
    "a": ".....|.....|.###.|....#|.####|#...#|.####|.....",
    "b": "#....|#....|####.|#...#|#...#|#...#|####.|.....",
    "c": ".....|.....|.####|#....|#....|#....|.####|.....",
    "d": "....#|....#|.####|#...#|#...#|#...#|.####|.....",
    "e": ".....|.....|.###.|#...#|#####|#....|.###.|.....",
    "f": "..##.|.#...|###..|.#...|.#...|.#...|.#...|.....",
    "g": ".....|.....|.####|#...#|#...#|.####|....#|.###.",
    "h": "#....|#....|####.|#...#|#...#|#...#|#...#|.....",
    "i": "..#..|.....|.##..|..#..|..#..|..#..|.###.|.....",
    "j": "...#.|.....|..##.|...#.|...#.|...#.|#..#.|.##..",
    "k": "#....|#....|#..#.|#.#..|##...|#.#..|#..#.|.....",
    "l": ".##..|..#..|..#..|..#..|..#..|..#..|.###.|.....",
    "m": ".....|.....|##.#.|#.#.#|#.#.#|#.#.#|#.#.#|.....",
    "n": ".....|.....|####.|#...#|#...#|#...#|#...#|.....",
    "o": ".....|.....|.###.|#...#|#...#|#...#|.###.|.....",
    "p": ".....|.....|####.|#...#|#...#|####.|#....|#....",
    "q": ".....|.....|.####|#...#|#...#|.####|....#|....#",
    "r": ".....|.....|#.##.|##..#|#....|#....|#....|.....",
    "s": ".....|.....|.####|#....|.###.|....#|####.|.....",
    "t": ".#...|.#...|###..|.#...|.#...|.#..#|..##.|.....",
    "u": ".....|.....|#...#|#...#|#...#|#..##|.##.#|.....",
    "v": ".....|.....|#...#|#...#|#...#|.#.#.|..#..|.....",
    "w": ".....|.....|#...#|#...#|#.#.#|#.#.#|.#.#.|.....",
    "x": ".....|.....|#...#|.#.#.|..#..|.#.#.|#...#|.....",
    "y": ".....|.....|#...#|#...#|#...#|.####|....#|.###.",
    "z": ".....|.....|#####|...#.|..#..|.#...|#####|.....",
    "0": ".###.|#...#|#..##|#.#.#|##..#|#...#|.###.|.....",
    "1": "..#..|.##..|..#..|..#..|..#..|..#..|.###.|.....",
    "2": ".###.|#...#|....#|...#.|..#..|.#...|#####|.....",
    "3": "####.|....#|....#|.###.|....#|....#|####.|.....",
    "4": "...#.|..##.|.#.#.|#..#.|#####|...#.|...#.|.....",
    "5": "#####|#....|####.|....#|....#|#...#|.###.|.....",
    "6": "..##.|.#...|#....|####.|#...#|#...#|.###.|.....",
    "7": "#####|....#|...#.|..#..|.#...|.#...|.#...|.....",
    "8": ".###.|#...#|#...#|.###.|#...#|#...#|.###.|.....",
    "9": ".###.|#...#|#...#|.####|....#|...#.|.##..|.....",
    " ": ".....|.....|.....|.....|.....|.....|.....|.....",
    ".": ".....|.....|.....|.....|.....|.##..|.##..|.....",
    ",": ".....|.....|.....|.....|.....|.##..|..#..|.#...",
    ":": ".....|.##..|.##..|.....|.##..|.##..|.....|.....",
    "-": ".....|.....|.....|#####|.....|.....|.....|.....",
    "+": ".....|..#..|..#..|#####|..#..|..#..|.....|.....",
    "=": ".....|.....|#####|.....|#####|.....|.....|.....",
    "(": "...#.|..#..|.#...|.#...|.#...|..#..|...#.|.....",
    ")": ".#...|..#..|...#.|...#.|...#.|..#..|.#...|.....",
    "/": "....#|....#|...#.|..#..|.#...|#....|#....|.....",
    "<": "...#.|..#..|.#...|#....|.#...|..#..|...#.|.....",
    ">": ".#...|..#..|...#.|....#|...#.|..#..|.#...|.....",
    "_": ".....|.....|.....|.....|.....|.....|.....|#####",
    "^": "..#..|.#.#.|#...#|.....|.....|.....|.....|.....",
    "%": "##..#|##.#.|...#.|..#..|.#...|.#.##|#..##|.....",
    "'": "..#..|..#..|.....|.....|.....|.....|.....|.....",
    "µ": ".....|.....|#...#|#...#|#...#|##.##|#.#.#|#....",
    "?": ".###.|#...#|...#.|..#..|..#..|.....|..#..|.....",
    "&": ".##..|#..#.|#.#..|.#...|#.#.#|#..#.|.##.#|.....",
    "*": ".....|..#..|#.#.#|.###.|#.#.#|..#..|.....|.....",
    "[": ".###.|.#...|.#...|.#...|.#...|.#...|.###.|.....",
    "]": ".###.|...#.|...#.|...#.|...#.|...#.|.###.|.....",
    "$": "..#..|.####|#.#..|.###.|..#.#|####.|..#..|.....",
}
_FONT = {ch: [row for row in rows.split("|")] for ch, rows in _GLYPHS.items()}
GLYPH_W, GLYPH_H = 5, 8


class Canvas:
    def __init__(self, width: int, height: int, background: Color = WHITE):
        self.width = width
        self.height = height
        self.pixels = bytearray(bytes(background) * (width * height))

    def set(self, x: int, y: int, color: Color) -> None:
        if 0 <= x < self.width and 0 <= y < self.height:
            i = 3 * (y * self.width + x)
            self.pixels[i:i + 3] = bytes(color)

    def rect(self, x0: int, y0: int, x1: int, y1: int, color: Color) -> None:
        for y in range(max(0, y0), min(self.height, y1 + 1)):
            for x in range(max(0, x0), min(self.width, x1 + 1)):
                self.set(x, y, color)

    def line(self, x0, y0, x1, y1, color: Color, width: int = 1) -> None:
        x0, y0, x1, y1 = int(round(x0)), int(round(y0)), int(round(x1)), int(round(y1))
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        err = dx + dy
        half = width // 2
        while True:
            self.rect(x0 - half, y0 - half, x0 - half + width - 1, y0 - half + width - 1, color)
            if x0 == x1 and y0 == y1:
                return
            e2 = 2 * err
            if e2 >= dy:
                err += dy
                x0 += sx
            if e2 <= dx:
                err += dx
                y0 += sy

    def text(self, x: int, y: int, text: str, color: Color = BLACK, scale: int = 2) -> int:
        """Draw `text` with its top-left corner at (x, y); returns the width drawn."""
        cx = x
        for ch in text:
            glyph = _FONT.get(ch) or _FONT.get(ch.lower()) or _FONT["?"]
            for row, bits in enumerate(glyph):
                for col, bit in enumerate(bits):
                    if bit == "#":
                        self.rect(cx + col * scale, y + row * scale,
                                  cx + (col + 1) * scale - 1, y + (row + 1) * scale - 1, color)
            cx += (GLYPH_W + 1) * scale
        return cx - x

    def png(self) -> bytes:
        raw = b"".join(b"\x00" + bytes(self.pixels[3 * y * self.width:3 * (y + 1) * self.width])
                       for y in range(self.height))

        def chunk(kind: bytes, data: bytes) -> bytes:
            return (struct.pack(">I", len(data)) + kind + data
                    + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def text_width(text: str, scale: int = 2) -> int:
    return len(text) * (GLYPH_W + 1) * scale


def _decades(lo: float, hi: float) -> List[int]:
    return list(range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1))


def _label(exponent: int, unit_axis: bool) -> str:
    if unit_axis and -2 <= exponent <= 4:
        value = 10.0 ** exponent
        return f"{value:g}"
    return f"1e{exponent}"


Series = Dict[str, List[Tuple[float, float]]]


def loglog_panel(canvas: Canvas, box: Tuple[int, int, int, int], title: str,
                 series: Series, colors: Dict[str, Color], x_label: str, y_label: str,
                 y_range: Tuple[float, float]) -> None:
    """One log-log panel in `box` = (left, top, right, bottom) of the canvas."""
    left, top, right, bottom = box
    canvas.text(left + 10, top + 6, title, scale=2)
    px0, py0, px1, py1 = left + 80, top + 54, right - 16, bottom - 50
    xs = [x for pts in series.values() for x, _ in pts] or [1e3, 1e6]
    xd = _decades(min(xs), max(xs))
    if len(xd) < 2:
        xd = [xd[0], xd[0] + 1]
    yd = _decades(*y_range)
    if len(yd) < 2:
        yd = [yd[0], yd[0] + 1]

    def to_px(x, y):
        fx = (math.log10(x) - xd[0]) / (xd[-1] - xd[0])
        fy = (math.log10(y) - yd[0]) / (yd[-1] - yd[0])
        return px0 + fx * (px1 - px0), py1 - fy * (py1 - py0)

    for e in yd[:-1]:
        for m in range(2, 10):
            _, y = to_px(10.0 ** xd[0], m * 10.0 ** e)
            canvas.line(px0, y, px1, y, MINOR)
    for e in xd[:-1]:
        for m in range(2, 10):
            x, _ = to_px(m * 10.0 ** e, 10.0 ** yd[0])
            canvas.line(x, py0, x, py1, MINOR)
    for e in xd:
        x, _ = to_px(10.0 ** e, 10.0 ** yd[0])
        canvas.line(x, py0, x, py1, GRID)
        label = _label(e, False)
        canvas.text(int(x - text_width(label) / 2), py1 + 8, label, AXIS)
    for e in yd:
        _, y = to_px(10.0 ** xd[0], 10.0 ** e)
        canvas.line(px0, y, px1, y, GRID)
        label = _label(e, True)
        canvas.text(px0 - 8 - text_width(label), int(y - 8), label, AXIS)
    canvas.line(px0, py0, px0, py1, AXIS)
    canvas.line(px0, py1, px1, py1, AXIS)
    canvas.text(int((px0 + px1) / 2 - text_width(x_label) / 2), py1 + 30, x_label, AXIS)
    canvas.text(left + 10, py0 - 24, y_label, AXIS)
    for name, points in series.items():
        pts = sorted((x, y) for x, y in points if x > 0 and y > 0)
        color = colors[name]
        previous = None
        for x, y in pts:
            cx, cy = to_px(x, y)
            canvas.rect(int(cx) - 3, int(cy) - 3, int(cx) + 3, int(cy) + 3, color)
            if previous is not None:
                canvas.line(previous[0], previous[1], cx, cy, color, width=2)
            previous = (cx, cy)


def per_hit_figure(panels: Sequence[Tuple[str, Series]], names: Sequence[str],
                   path: str, colors: Dict[str, Color] = None) -> None:
    """A grid of log-log panels (two per row) sharing one legend, written to `path`."""
    colors = dict(colors or {})
    spare = [c for c in PALETTE if c not in colors.values()] or PALETTE
    for i, name in enumerate(n for n in names if n not in colors):
        colors[name] = spare[i % len(spare)]
    values = [y for _, s in panels for pts in s.values() for _, y in pts if y > 0]
    y_range = (min(values), max(values)) if values else (1.0, 1000.0)
    panel_w, panel_h = 620, 440
    columns = 2
    rows = (len(panels) + columns - 1) // columns
    legend_rows = (len(names) + 2) // 3
    width = panel_w * columns
    height = panel_h * rows + 30 + 26 * legend_rows + 20
    canvas = Canvas(width, height)
    for index, (title, series) in enumerate(panels):
        col, row = index % columns, index // columns
        box = (col * panel_w, row * panel_h, (col + 1) * panel_w, (row + 1) * panel_h)
        loglog_panel(canvas, box, title, series, colors, "hits n", "µs per hit", y_range)
    y = panel_h * rows + 20
    for index, name in enumerate(names):
        col, row = index % 3, index // 3
        x = 20 + col * (width // 3)
        yy = y + row * 26
        canvas.rect(x, yy + 4, x + 24, yy + 10, colors[name])
        canvas.text(x + 32, yy, name)
    with open(path, "wb") as f:
        f.write(canvas.png())
