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


@pytest.mark.slow
def test_smoke_load_every_request_answered(tmp_path):
    report_path = tmp_path / "load.json"
    result = subprocess.run(
        [sys.executable, "scripts/load_test.py", "--smoke", "--json", str(report_path), "--max-growth-mb", "1500"],
        cwd=ROOT, capture_output=True, text=True, timeout=480,
    )
    print(result.stdout[-3000:])  # the summary table, shown with -s or on failure
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
    spec = importlib.util.spec_from_file_location("load_test", ROOT / "scripts" / "load_test.py")
    load_test = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "load_test", load_test)  # its dataclasses look their module up there
    spec.loader.exec_module(load_test)
    url = f"http://127.0.0.1:{load_test._free_port()}/"  # nothing listens there
    jobs = [load_test.Job("reconstruct", "/reconstruct", (), label=f"photo-{k}") for k in range(3)]
    outcomes, finished = load_test.run_clients(url, jobs, clients=2, timeout=60, downloads=tmp_path)
    assert finished
    assert sorted(o.label for o in outcomes) == ["photo-0", "photo-1", "photo-2"]
    assert not any(o.ok for o in outcomes)
    assert all(o.detail.startswith("client could not connect") for o in outcomes)
