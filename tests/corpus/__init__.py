"""The condition corpus: realistic conditions over a C and a C++ program (c.txt, cpp.txt),
built at -O0 and -O2, run against GDB's own `break target if COND` by tests/test_corpus.py;
`python3 tests/corpus/coverage.py` prints where they run."""
from pathlib import Path
from typing import List

HERE = Path(__file__).resolve().parent
# (conditions file, program in tests/programs, its language)
PROGRAMS = (("c.txt", "corpus_c", "C"), ("cpp.txt", "corpus_cpp", "C++"))
BUILDS = ("-O0", "-O2")
ITERATIONS = 300


def conditions(filename: str) -> List[str]:
    """The conditions of one file: its lines, without blank lines and # comments."""
    lines = (HERE / filename).read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]
