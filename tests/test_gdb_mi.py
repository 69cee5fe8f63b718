"""hbreak-if through GDB/MI, as a front end drives it (pygdbmi, the parser gdbgui uses):
-hbreak-if-insert answers as -break-insert does, -hbreak-if-list and -hbreak-if-explain report
in MI records, errors are ^error records, and MI's own run control works with the stops."""
import pytest
from pygdbmi.gdbcontroller import GdbController

from harness.gdb import SETTINGS
from harness.paths import GDB, PLUGIN
from harness.programs import build

TIMEOUT = 60


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class MiSession:
    """gdb -i=mi3 on a program, hbreak-if sourced; every record read is kept in `records`."""

    def __init__(self, program, *args):
        self.gdb = GdbController(command=[GDB, "-nx", "-q", "--interpreter=mi3",
                                          "--args", str(program), *map(str, args)])
        self.records, self._unread = [], []
        for setting in SETTINGS:
            self.console(setting)
        self.console(f"source {PLUGIN}")

    def _read_until(self, wanted):
        """Records until one for which `wanted` holds (GDB is waited for, never slept on);
        those read after it wait for the next call."""
        while True:
            while self._unread:
                record = self._unread.pop(0)
                self.records.append(record)
                if wanted(record):
                    return record
            self._unread = self.gdb.get_gdb_response(timeout_sec=TIMEOUT,
                                                     raise_error_on_timeout=True)

    def command(self, line: str):
        """The result record of MI command `line`: (class, payload)."""
        self.gdb.write(line, read_response=False)
        record = self._read_until(lambda r: r["type"] == "result")
        return record["message"], record["payload"]

    def done(self, line: str):
        result, payload = self.command(line)
        assert result in ("done", "running"), (line, payload)
        return payload

    def console(self, line: str):
        return self.done(f"-interpreter-exec console {_quoted(line)}")

    def stopped(self):
        """The payload of the next *stopped record."""
        return self._read_until(lambda r: r["type"] == "notify"
                                and r["message"] == "stopped")["payload"]

    def run_to(self, function: str):
        self.done(f"-break-insert -t {function}")
        self.done("-exec-run")
        return self.stopped()

    def console_text(self) -> str:
        return "".join(r["payload"] for r in self.records if r["type"] == "console")

    def value(self, expression: str) -> str:
        return self.done(f"-data-evaluate-expression {_quoted(expression)}")["value"]

    def listed(self):
        return self.done("-hbreak-if-list")["hbreak-ifs"]

    def close(self):
        self.gdb.exit()


@pytest.fixture
def mi():
    sessions = []

    def start(program, *args):
        sessions.append(MiSession(program, *args))
        return sessions[-1]

    yield start
    for session in sessions:
        session.close()


HEADINGS = ["number", "type", "disp", "enabled", "addr", "func", "file", "fullname", "line",
            "thread-groups", "cond", "times", "original-location"]


def test_insert_answers_as_break_insert_does_and_the_stop_is_the_conditions(kernel_tier, mi):
    session = mi(build("loop"), 2000)
    ours = session.done('-hbreak-if-insert target "i == 500"')["bkpt"]
    # -break-insert -h needs a live process: the software breakpoint differs only in type.
    gdbs = session.done('-break-insert -c "i == 500" target')["bkpt"]
    session.done(f"-break-delete {gdbs['number']}")
    assert list(ours)[:len(HEADINGS)] == HEADINGS and ours["type"] == "hw breakpoint"
    assert {k: v for k, v in ours.items() if k in HEADINGS and k not in ("number", "type")} == {
        k: v for k, v in gdbs.items() if k not in ("number", "type")}
    assert ours["tier"] == kernel_tier.tier and ours["hits"] == "0"

    session.done("-exec-run")
    stop = session.stopped()
    assert (stop["reason"], stop["bkptno"]) == ("breakpoint-hit", ours["number"])
    assert session.value("i") == "500"
    frames = session.done("-stack-list-frames")["stack"]
    assert [(f["level"], f["func"]) for f in frames] == [("0", "target"), ("1", "main")]
    # GDB's own report, as for its own breakpoint (the console gets the plugin's own).
    assert f"Breakpoint {ours['number']}, target (i=500)" in session.console_text()
    [listed] = session.listed()
    assert (listed["number"], listed["times"], listed["hits"]) == (ours["number"], "1", "501")

    session.done(f"-break-delete {ours['number']}")
    assert session.listed() == []
    session.done("-exec-continue")
    assert session.stopped()["reason"] == "exited-normally"


@pytest.mark.parametrize("insert", ['-hbreak-if-insert target "i == 500"',
                                    '-interpreter-exec console "hbreak-if target i == 500"'])
def test_the_stop_record_is_the_one_gdb_gives_for_its_own_breakpoint(kernel_tier, mi, insert):
    """Field by field, but for the breakpoint's number (the plugin's catchpoint takes one) and
    the CPU the thread ran on."""
    records = []
    for command in (insert, '-break-insert -c "i == 500" target'):
        session = mi(build("loop"), 1000)
        session.done(command)
        session.done("-exec-run")
        records.append(session.stopped())
    ours, gdbs = records
    assert ours["bkptno"] == "2" and gdbs["bkptno"] == "1"
    assert {k: v for k, v in ours.items() if k not in ("bkptno", "core")} == {
        k: v for k, v in gdbs.items() if k not in ("bkptno", "core")}
    assert ours["reason"] == "breakpoint-hit" and ours["frame"]["args"] == [
        {"name": "i", "value": "500"}]


def test_a_console_hbreak_if_obeys_mi_break_commands(kernel_tier, mi):
    session = mi(build("loop"), 100)
    session.console("hbreak-if target i % 10 == 7")
    session.console("hbreak-if target i == 8")
    first, second = session.listed()
    assert (first["cond"], first["func"], first["tier"]) == ("i % 10 == 7", "target",
                                                             kernel_tier.tier)
    session.done(f"-break-after {first['number']} 1")
    session.done(f"-break-disable {second['number']}")
    assert [b["enabled"] for b in session.listed()] == ["y", "n"]
    session.done("-exec-run")
    session.stopped()
    assert session.value("i") == "17"


def test_temporary_thread_specific_and_ignore_count(kernel_tier, mi):
    session = mi(build("loop"), 100)
    session.run_to("main")
    made = session.done('-hbreak-if-insert -t -p 1 -i 2 target "i % 10 == 3"')["bkpt"]
    assert (made["disp"], made["thread"], made["ignore"]) == ("del", "1", "2")
    session.done("-exec-continue")
    session.stopped()
    assert session.value("i") == "23"           # 3 and 13 ignored
    assert session.listed() == []               # temporary: gone after its stop


def test_a_watch_inserted_through_mi_stops_at_the_matching_write(kernel_tier, mi):
    session = mi(build("loop"), 1000)
    session.run_to("main")
    made = session.done('-hwatch-if-insert g_counter "$new == 300"')["wpt"]
    assert (made["exp"], made["type"], made["tier"]) == ("g_counter", "write watchpoint",
                                                         kernel_tier.tier)
    session.done("-exec-continue")
    ours = session.stopped()
    assert session.value("g_counter") == "300"
    assert "Old value = 299\nNew value = 300\n" in session.console_text()
    assert session.done('-hwatch-if-insert -r g_cur "$new != 0"')["hw-rwpt"]["exp"] == "g_cur"

    # GDB's own watchpoint stops at the same place: the stop record carries the same frame,
    # thread and stopped threads (a watchpoint-trigger reason is GDB's own watchpoints' only).
    gdbs_session = mi(build("loop"), 1000)
    gdbs_session.run_to("main")
    gdbs_session.done('-break-watch g_counter')
    gdbs_session.done('-break-condition 2 g_counter == 300')
    gdbs_session.done("-exec-continue")
    gdbs = gdbs_session.stopped()
    assert gdbs["reason"] == "watchpoint-trigger" and "reason" not in ours
    assert {k: ours[k] for k in ("frame", "thread-id", "stopped-threads")} == {
        k: gdbs[k] for k in ("frame", "thread-id", "stopped-threads")}


@pytest.mark.parametrize("line, message", [
    ("-hbreak-if-insert target", "a location and a condition are needed"),
    ('-hbreak-if-insert target "i =="', "A syntax error in expression"),
    ('-hbreak-if-insert target "nosuch > 1"', 'No symbol "nosuch" in current context.'),
    ('-hbreak-if-insert nosuch "i == 1"', "No location 'nosuch' in the program"),
    ('-hbreak-if-insert -x target "i == 1"', "unknown option -x"),
    ('-hbreak-if-insert -p 9 target "i == 1"', "Unknown thread 9."),
    ('-hwatch-if-insert g_counter "$new == 1"', "The program is not being run"),
    ("-hbreak-if-list extra", "takes no arguments"),
])
def test_errors_are_error_records_and_set_nothing(kernel_tier, mi, line, message):
    session = mi(build("loop"), 10)
    result, payload = session.command(line)
    assert result == "error" and message in payload["msg"], payload
    assert session.listed() == []
    assert session.done("-break-list")["BreakpointTable"]["body"] == []


def test_f_makes_a_location_found_nowhere_pending(kernel_tier, mi):
    session = mi(build("loop"), 10)
    made = session.done('-hbreak-if-insert -f nosuch "i == 1"')["bkpt"]
    assert (made["addr"], made["pending"]) == ("<PENDING>", "nosuch")


def test_explain_names_where_each_part_runs_and_sets_nothing(kernel_tier, mi):
    session = mi(build("loop"), 10)
    explained = session.done('-hbreak-if-explain target "i == 5 && $_regex(\\"a\\", \\"b\\")"')
    assert explained["kernel-part"] == "i == 5" and explained["exact"] == "n"
    assert [(p["text"], p["where"]) for p in explained["parts"]] == [
        ("i == 5", "kernel"), ('$_regex("a", "b")', "gdb")]
    assert "eBPF program" in explained["explanation"]
    assert session.listed() == []
