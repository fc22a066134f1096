"""The load test's smoke mode (scripts/load_test.py --smoke): 4 gradio_client users, 20 requests
against a real `python app.py` subprocess. Every good request must succeed, every bad one get its
own error, and the queue must finish well within the time limit.

Memory growth is gated (100 MB) by the full run (`python scripts/load_test.py`, 200
reconstructions); over 20 requests RSS still mostly reflects allocator warm-up, so here it is only
reported, with a loose ceiling that catches a gross leak.
"""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load_test_module(monkeypatch):
    spec = importlib.util.spec_from_file_location("load_test", ROOT / "scripts" / "load_test.py")
    load_test = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "load_test", load_test)  # its dataclasses look their module up there
    spec.loader.exec_module(load_test)
    return load_test


@pytest.mark.slow
def test_smoke_load_every_request_answered(tmp_path):
    report_path = tmp_path / "load.json"
    result = subprocess.run(
        [sys.executable, "scripts/load_test.py", "--smoke", "--json", str(report_path), "--max-growth-mb", "1500"],
        cwd=ROOT, capture_output=True, text=True, timeout=480,
    )
    print(result.stdout[-8000:])  # the summary table (and a stuck server's stacks), shown on failure
    assert report_path.is_file(), result.stderr[-3000:]
    report = json.loads(report_path.read_text())
    assert report["finished"], "the queue did not finish in time (deadlock?)"
    assert report["requests"] == 20 and report["clients"] == 4
    assert report["failures"] == [], report["failures"]
    assert report["warm_up"]["failures"] == [], report["warm_up"]["failures"]
    table = report["table"]
    assert table["reconstruct"]["ok"] == table["reconstruct"]["requests"] > 0
    assert table["place"]["ok"] == table["place"]["requests"] > 0
    assert table["bad"]["ok"] == table["bad"]["requests"] > 0
    assert result.returncode == 0, result.stdout[-2000:]


def test_a_client_that_cannot_connect_fails_its_requests_with_the_reason(tmp_path, monkeypatch):
    load_test = _load_test_module(monkeypatch)
    url = f"http://127.0.0.1:{load_test._free_port()}/"  # nothing listens there
    jobs = [load_test.Job("reconstruct", "/reconstruct", (), label=f"photo-{k}") for k in range(3)]
    outcomes, finished = load_test.run_clients(url, jobs, clients=2, timeout=60, downloads=tmp_path)
    assert finished
    assert sorted(o.label for o in outcomes) == ["photo-0", "photo-1", "photo-2"]
    assert not any(o.ok for o in outcomes)
    assert all(o.detail.startswith("client could not connect") for o in outcomes)


def test_a_stack_dump_keeps_the_busy_threads_and_drops_the_idle_ones(monkeypatch):
    # A real faulthandler dump of a process with one thread computing and one waiting on an event.
    script = (
        "import faulthandler, threading, time\n"
        "stop = threading.Event()\n"
        "def spin_the_numbers():\n"
        "    while not stop.is_set(): sum(range(1000))\n"
        "threading.Thread(target=spin_the_numbers).start()\n"
        "threading.Thread(target=stop.wait).start()\n"
        "time.sleep(0.3)\n"
        "print('server started')\n"
        "faulthandler.dump_traceback(all_threads=True)\n"
        "stop.set()\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    lines = (result.stdout + result.stderr).splitlines()
    tail, stacks = _load_test_module(monkeypatch).split_stacks(lines)
    assert tail == ["server started"]
    threads = [line for line in stacks if not line.startswith("  ")]
    assert any("spin_the_numbers" in line for line in stacks)
    assert not any(line.endswith(" in wait") for line in stacks), stacks  # the idle thread is left out
    assert len(threads) == 2, stacks  # the spinning thread and the main one (dumping)


@pytest.mark.slow
def test_a_run_that_runs_out_of_time_reports_the_servers_threads(tmp_path):
    # Three seconds cannot hold the warm-up: the run is given up as a stuck queue would be.
    report_path = tmp_path / "load.json"
    result = subprocess.run(
        [sys.executable, "scripts/load_test.py", "--smoke", "--timeout", "3", "--json", str(report_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 2, result.stdout[-3000:]
    report = json.loads(report_path.read_text())
    assert not report["finished"] and not report["passed"]
    assert report["unfinished"] == report["requests"] == 20  # the mix does not run after a stuck warm-up
    assert any(line.startswith(("Thread 0x", "Current thread 0x")) for line in report["server_stacks"])
    assert "the server's threads when the run gave up" in result.stdout
