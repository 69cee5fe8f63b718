"""Repeats, least-squares fit and per-hit costs (the method is METHOD below)."""
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

METHOD = """
- Every point (configuration, workload, hits H) is run `repeats` times and
  the minimum wall time is kept (the machine is shared and has 2 cores;
  the minimum is the run least disturbed by other work).
- Wall time is the whole process: gdb from its start to its exit (program
  started with `starti`, breakpoint set, `continue` to the one stop, the
  stop checked, `continue` to the exit), or the program alone from its exec.
- Per-hit cost of a configuration = slope of wall time against H (ordinary
  least squares over all its H values, the tiny H included) minus the slope
  of the program alone: the time the configuration adds to each hit.  The
  intercept is the fixed cost (start-up, exit), which the slope ignores.
- CPU time (user + system of every process of the run: gdb, gdbserver, the
  program, from wait4/getrusage) is fitted the same way.  Wall time is what
  a user waits; CPU time is much less disturbed by other work on the machine,
  but leaves out the time processes spend waiting for each other (wake-ups).
- Per-hit cost at one H (for the plot and the flatness check) =
  ((T(H) - T(H0)) - (T_alone(H) - T_alone(H0))) / (H - H0), with H0 the
  tiny run of the same configuration: start-up cost measured separately at
  tiny N and subtracted.
"""


@dataclass
class Point:
    hits: int
    samples: List[float] = field(default_factory=list)       # wall seconds
    cpu_samples: List[float] = field(default_factory=list)   # user + system seconds

    @property
    def best(self) -> float:
        return min(self.samples)

    @property
    def best_cpu(self) -> float:
        return min(self.cpu_samples)


def least_squares(xs: Sequence[float], ys: Sequence[float]) -> Tuple[float, float]:
    """(slope, intercept) of the ordinary least-squares line through the points."""
    n = len(xs)
    if n < 2:
        raise ValueError("a line needs two points")
    mean_x = sum(xs) / n
    mean_y = sum(ys) / n
    sxx = sum((x - mean_x) ** 2 for x in xs)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys))
    slope = sxy / sxx
    return slope, mean_y - slope * mean_x


def fit(points: Sequence[Point], cpu: bool = False) -> Optional[Tuple[float, float]]:
    """(seconds per hit, fixed seconds) over the points' minimum wall (or CPU) times."""
    if len(points) < 2:
        return None
    return least_squares([p.hits for p in points],
                         [p.best_cpu if cpu else p.best for p in points])


def per_hit_at(points: Sequence[Point], alone: Sequence[Point]) -> Dict[int, float]:
    """Seconds per hit at each H > H0, start-up (the tiny run) and the program's own
    time subtracted; {} when either series lacks its tiny run."""
    if not points or not alone:
        return {}
    base = points[0]
    alone_at = {p.hits: p.best for p in alone}
    if base.hits not in alone_at:
        return {}
    result = {}
    for p in points[1:]:
        if p.hits not in alone_at:
            continue
        added = (p.best - base.best) - (alone_at[p.hits] - alone_at[base.hits])
        result[p.hits] = added / (p.hits - base.hits)
    return result


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    if not n:
        raise ValueError("median of nothing")
    middle = n // 2
    return ordered[middle] if n % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def per_hit(workload_record: dict, name: str, key: str = "per_hit") -> Optional[float]:
    """A configuration's derived per-hit cost (`key`) in a workload's record, None if it failed."""
    for c in workload_record["configs"]:
        if c["name"] == name and c["ok"]:
            return c.get(key)
    return None


# gdbserver evaluates a condition itself where it can compile it (not `$_streq`, say); GDB
# evaluates it over gdbserver otherwise.  A comparison with gdbserver takes the first measured.
GDBSERVER = ("gdbserver target-cond", "gdbserver host-cond")


def first_per_hit(workload_record: dict, names: Sequence[str],
                  key: str = "per_hit") -> Tuple[Optional[str], Optional[float]]:
    """The first of `names` measured in the record and its per-hit cost, else (None, None)."""
    for name in names:
        value = per_hit(workload_record, name, key)
        if value is not None:
            return name, value
    return None, None
