"""Runs inside GDB: one differential session over rel_diff, by rounds.

Sourced after `python REL_PLAN = "/path/plan.json"`.  The plan holds the mode ("break" for
GDB's own `break LOCATION if CONDITION`, "hbreak-if" for the plugin), the rounds (each a list
of {id, location, gdb, hbreak}: one condition per slot, so no two breakpoints of a round share
an address) and the path of the JSON result.  At round_start(r) the previous round's
breakpoints are deleted and round r's are set (round 0's before `run` with arm_before_run);
every other stop is recorded as (round, g_tick, breakpoint ids) and continued.  Both modes
run the same program with the same arguments and the same rounds, so the program's state at
a hit is the same in both.
"""
import json
import os
import sys
import time

import gdb

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # sourced by GDB
from gdb_process import fds as _fds, rss_kib as _rss_kib  # noqa: E402

MAX_STOPS = 200_000


class Session:
    def __init__(self, plan):
        self.plan = plan
        self.mode = plan["mode"]
        self.result = {"mode": self.mode, "stops": [], "unexpected": [], "conditions": {},
                       "exit_code": None, "fds_before": _fds(), "rss_before": _rss_kib()}
        self.armed = {}          # GDB breakpoint number -> condition id
        self.armed_round = None  # a round armed before its round_start stop (before `run`)
        self.texts = {e["id"]: e["gdb"] for r in plan["rounds"] for e in r}
        self.events = []
        self.exited = False
        gdb.events.stop.connect(self.events.append)
        gdb.events.exited.connect(self._on_exit)
        self.start = gdb.Breakpoint("round_start", internal=True)
        self.start.silent = True
        self.checks = {}         # hbreak-if number -> hits the kernel let through
        if self.mode == "hbreak-if":
            self._count_rechecks()

    def _count_rechecks(self):
        """Count the hits the kernel let through to GDB: a kernel filter may over-approximate,
        and how much it does is worth knowing.  Each reaches GDB's own breakpoint (the
        carrier), whose condition GDB then checks; the ones it rejects are those that did not
        stop (disarm)."""
        from gdb_plugin.gdbside import carriers
        original = carriers.carried

        def counted(bp, pc, thread):
            if not (bp.software or pc in bp.int3_at):    # there GDB decides every hit
                self.checks[bp.number] = self.checks.get(bp.number, 0) + 1
            return original(bp, pc, thread)
        carriers.carried = counted

    def _on_exit(self, event):
        self.exited = True
        self.result["exit_code"] = getattr(event, "exit_code", None)

    # -- arming -----------------------------------------------------------------------------
    def _command(self, entry):
        if self.mode == "break":
            return f"break {entry['location']} if {entry['gdb']}"
        return f"hbreak-if {entry['location']} {entry['hbreak']}"

    def arm(self, round_number):
        rounds = self.plan["rounds"]
        if round_number >= len(rounds):
            return
        for entry in rounds[round_number]:
            record = self.result["conditions"].setdefault(str(entry["id"]), {})
            before = {bp.number for bp in gdb.breakpoints()}
            started = time.monotonic()
            try:
                output = gdb.execute(self._command(entry), to_string=True)
            except gdb.error as error:
                record["rejected"] = str(error)
                continue
            record["set_seconds"] = round(time.monotonic() - started, 4)
            record["output"] = output
            # The first hbreak-if also makes the catchpoint all of them share.
            created = [bp for bp in gdb.breakpoints()
                       if bp.number not in before and bp.visible
                       and bp.condition != "$_hbreak_if_hit(0)"]
            if len(created) != 1:
                record["rejected"] = f"created {len(created)} breakpoints"
                for bp in created:
                    bp.delete()
                continue
            number = created[0].number
            self.armed[number] = entry["id"]
            record["number"] = number
            if self.mode == "hbreak-if":
                handle = self._handle(number)
                record["tier"] = handle.tier if handle else None
                record["reason"] = handle.reason if handle else None

    @staticmethod
    def _handle(number):
        import gdb_plugin
        for handle in gdb_plugin.breakpoints():
            if handle.number == number:
                return handle
        return None

    @staticmethod
    def _model(number):
        from gdb_plugin.gdbside.model import registry
        return registry.get(number)

    def disarm(self):
        for number, cid in self.armed.items():
            record = self.result["conditions"][str(cid)]
            if self.mode == "hbreak-if":
                handle = self._handle(number)
                if handle is not None:
                    record["hits"] = handle.hits
                    record["stops"] = handle.stops
                    record["tier_at_end"] = handle.tier
                    record["reason_at_end"] = handle.reason
                    record["rechecked"] = self.checks.get(number, 0)
                    record["rejected_by_gdb"] = max(0, record["rechecked"] - handle.stops)
                    record["notes"] = [str(n) for n in self._model(number).notes]
            for bp in gdb.breakpoints():
                if bp.number == number:
                    record["gdb_hit_count"] = bp.hit_count
                    bp.delete()
        self.armed = {}

    # -- running ----------------------------------------------------------------------------
    @staticmethod
    def _errs(expression):
        try:
            gdb.parse_and_eval(expression)
            return False
        except gdb.error:
            return True

    def _value(self, expression):
        try:
            return int(gdb.parse_and_eval(expression))
        except gdb.error:
            return None

    def handle_stop(self):
        event = self.events[-1] if self.events else None
        self.events.clear()
        numbers = []
        if isinstance(event, gdb.BreakpointEvent):
            if self.start.is_valid() and any(bp == self.start for bp in event.breakpoints):
                round_number = self._value("round")
                if round_number != self.armed_round:
                    self.disarm()
                    self.arm(round_number)
                self.armed_round = None
                return
            # GDB lists every breakpoint at the address, and every catchpoint of the signal,
            # whatever its condition said: for hbreak-if, $_hbreak_if names the one that hit.
            if self.mode == "break":
                numbers = [bp.number for bp in event.breakpoints
                           if bp.is_valid() and bp.number in self.armed]
        if self.mode == "hbreak-if":
            hbreak = gdb.convenience_variable("_hbreak_if")
            if hbreak is not None:
                numbers = [int(hbreak)]
                gdb.set_convenience_variable("_hbreak_if", None)
        ids = [self.armed[n] for n in numbers if n in self.armed]
        frame_pc = self._value("$pc")
        stop = {"round": self._value("g_round"), "tick": self._value("g_tick"), "ids": ids,
                "pc": frame_pc}
        if self.mode == "break" and ids:
            # Which conditions stopped by an error (GDB stops when it cannot evaluate one):
            # evaluated again here, in the same frame, as GDB just did.
            stop["errors"] = [cid for cid in ids if self._errs(self.texts[cid])]
        if not ids:
            stop["event"] = type(event).__name__ if event is not None else None
            if isinstance(event, gdb.SignalEvent):
                stop["signal"] = event.stop_signal
            self.result["unexpected"].append(stop)
        else:
            self.result["stops"].append(stop)

    def run(self):
        started = time.monotonic()
        if self.plan.get("arm_before_run"):
            # As users mostly do: set before `run`, resolved and armed while the program starts.
            self.arm(0)
            self.armed_round = 0
        gdb.execute("run")
        count = 0
        while not self.exited and gdb.selected_inferior().pid > 0:
            count += 1
            if count > MAX_STOPS:
                self.result["aborted"] = f"more than {MAX_STOPS} stops"
                gdb.execute("kill")
                break
            self.handle_stop()
            gdb.execute("continue")
        self.result["seconds"] = round(time.monotonic() - started, 3)
        self.result["fds_after"] = _fds()
        self.result["rss_after"] = _rss_kib()


def main(plan_path):
    with open(plan_path) as f:
        plan = json.load(f)
    session = Session(plan)
    try:
        session.run()
    except Exception as error:  # recorded: the test reports it with the transcript
        session.result["driver_error"] = f"{type(error).__name__}: {error}"
    with open(plan["out"], "w") as f:
        json.dump(session.result, f)


main(REL_PLAN)  # noqa: F821 - defined by the `python REL_PLAN = ...` line before `source`
