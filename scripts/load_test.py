"""Load test of the app: many concurrent gradio_client users against a real local server.

    python scripts/load_test.py                 # 16 clients, 200 reconstructions + AR renders + bad inputs
    python scripts/load_test.py --smoke         # 4 clients, 20 requests in all (the test suite runs this)
    python scripts/load_test.py --url http://127.0.0.1:7860/   # against a server you started

The script starts `python app.py` in a subprocess on a free port (GRADIO_SERVER_PORT), with the
embedded weights, or random-init ones in a temp folder when none are embedded yet (timings are
then still real: speed does not depend on the weights' values). It warms both models up, reads
the server's resident memory (RSS), runs the mix, reads RSS again, and prints a summary table and
writes it as JSON. Pass/fail (exit status 0/1): every good request succeeds, every bad one gets
its own error message (the warm-up's requests too), RSS grows by less than --max-growth-mb, and
everything finishes within --timeout seconds (a stuck queue shows up as that timeout; exit status
2). A client that cannot connect fails each request it takes, with the reason.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gradio_client import Client, handle_file  # noqa: E402

from tests.bad_inputs import GOOD_CORNERS, SCENE_SIZE, build_corpus, furniture_photo  # noqa: E402

BAD_IMAGES = ("empty", "text-renamed", "truncated-png", "bomb-png", "fully-transparent", "one-pixel")
BAD_CORNERS = ("corners-collinear", "corners-self-crossing", "corners-three")


@dataclass
class Job:
    kind: str  # "reconstruct", "place" or "bad"
    endpoint: str
    args: tuple
    expected_error: str | None = None  # substring of the gr.Error message for a bad input
    label: str = ""


@dataclass
class Outcome:
    kind: str
    label: str
    seconds: float
    ok: bool
    detail: str = ""


# --- the server --------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def resident_mb(pid: int) -> float:
    """Resident memory of a process in MB (psutil when installed, else /proc/<pid>/status)."""
    try:
        import psutil

        return psutil.Process(pid).memory_info().rss / 2**20
    except ImportError:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"cannot read the memory of process {pid}")


def memory_breakdown(pid: int) -> dict[str, float]:
    """Resident memory split as the kernel counts it (MB): anonymous (heaps, buffers), file-backed
    (pages of loaded libraries and files), shared memory; plus the thread count. Linux only."""
    fields = {"VmRSS": "rss_mb", "RssAnon": "anon_mb", "RssFile": "file_mb", "RssShmem": "shmem_mb"}
    found = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in fields:
                found[fields[key]] = round(int(value.split()[0]) / 1024, 1)
            elif key == "Threads":
                found["threads"] = int(value)
    except OSError:
        pass
    return found


def _weights_environment(folder: Path) -> tuple[dict, str]:
    """Environment variables pointing at usable weights, and a note on which ones."""
    env = {}
    missing = [kind for kind in ("cgan", "vae")
               if not (ROOT / "recon" / "weights" / kind / "model.safetensors").is_file()]
    if missing:
        from recon.models import CGANGenerator, VoxelVAE

        classes = {"cgan": CGANGenerator, "vae": VoxelVAE}
        for kind in missing:
            classes[kind]().save_pretrained(folder / kind)
            env[f"RECON_{kind.upper()}_WEIGHTS"] = str(folder / kind)
    note = "embedded weights" if not missing else f"random-init weights for {', '.join(missing)}"
    return env, note


def start_server(folder: Path, startup_timeout: float) -> tuple[subprocess.Popen, str, str]:
    """`python app.py` on a free port -> (process, base URL, weights note), once it answers."""
    port = _free_port()
    weights_env, note = _weights_environment(folder)
    env = dict(os.environ, **weights_env, GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(port),
               GRADIO_TEMP_DIR=str(folder / "gradio"), GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1")
    log = open(folder / "server.log", "wb")
    process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + startup_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with status {process.returncode}; see {folder / 'server.log'}")
        try:
            with urllib.request.urlopen(url + "gradio_api/info", timeout=2):
                return process, url, note
        except OSError:
            time.sleep(0.5)
    process.terminate()
    raise RuntimeError(f"the server did not answer within {startup_timeout:.0f} s")


def dump_stacks(process: subprocess.Popen, settle_s: float = 2.0) -> None:
    """Ask the server for every thread's Python stack (app.py writes them to its log on SIGUSR1)."""
    if process.poll() is None and hasattr(signal, "SIGUSR1"):
        process.send_signal(signal.SIGUSR1)
        time.sleep(settle_s)


def split_stacks(lines: list[str], tail: int = 40, frames: int = 8) -> tuple[list[str], list[str]]:
    """A server log -> (its last `tail` lines before any stack dump, the dump shortened: each
    thread's innermost `frames` calls, paths cut to the package, idle threads left out)."""
    start = next((i for i, line in enumerate(lines) if line.startswith(("Thread 0x", "Current thread 0x"))), len(lines))
    stacks, thread, calls = [], None, []

    def close():
        idle = bool(calls) and any(word in calls[0] for word in ("in wait", "in select", "in _worker", "in accept"))
        if thread is not None and not idle:
            stacks.extend([thread, *calls[:frames]])

    for line in lines[start:]:
        if line.startswith(("Thread 0x", "Current thread 0x")):
            close()
            thread, calls = line, []
        elif line.strip().startswith("File "):
            path, _, rest = line.strip().removeprefix('File "').partition('", ')
            path = path.split("site-packages/")[-1].removeprefix(str(ROOT) + "/")
            calls.append(f"  {path} {rest}")
    close()
    return lines[:start][-tail:], stacks


class MemoryMonitor:
    """Samples a process's RSS every half second in a thread; stop() returns the peak (MB)."""

    def __init__(self, pid: int | None):
        self.pid, self.peak, self._done = pid, float("nan"), threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        if pid is not None:
            self.peak = resident_mb(pid)
            self._thread.start()

    def _run(self) -> None:
        while not self._done.wait(0.5):
            try:
                self.peak = max(self.peak, resident_mb(self.pid))
            except (OSError, RuntimeError):
                return

    def stop(self) -> float:
        self._done.set()
        return self.peak


# --- the requests ------------------------------------------------------------------------------


def make_jobs(reconstructions: int, places: int, bads: int, folder: Path) -> list[Job]:
    """The request mix, interleaved so that every kind runs throughout the test."""
    photos = sorted((ROOT / "examples" / "furniture").glob("*.jpg")) or [folder / "photo.png"]
    furniture_photo((200, 150)).save(folder / "photo.png")
    scene = folder / "scene.png"
    furniture_photo(SCENE_SIZE, seed=3).save(scene)
    import trimesh

    mesh = folder / "box.glb"
    trimesh.creation.box(extents=(0.8, 1.0, 0.6)).export(mesh)
    corpus = {case.name: case for case in build_corpus(folder / "corpus", surfaces=("image", "corners"))}
    bad_jobs = []
    for name in BAD_IMAGES:
        case = corpus[name]
        bad_jobs.append(Job("bad", "/reconstruct", (str(case.path),), case.app_message, name))
    for name in BAD_CORNERS:
        case = corpus[name]
        bad_jobs.append(Job("bad", "/place", (str(scene), json.dumps(case.value), str(mesh)),
                            case.app_message, name))
    jobs = [Job("reconstruct", "/reconstruct", (str(photos[i % len(photos)]),), label=photos[i % len(photos)].name)
            for i in range(reconstructions)]
    others = [Job("place", "/place", (str(scene), json.dumps(GOOD_CORNERS), str(mesh)), label="scene.png")
              for _ in range(places)]
    others += [bad_jobs[i % len(bad_jobs)] for i in range(bads)]
    others.sort(key=lambda job: job.kind)  # deterministic, then spread evenly among the reconstructions
    for index, job in enumerate(others):
        jobs.insert(round((index + 0.5) * len(jobs) / len(others)) if jobs else 0, job)
    return jobs


def run_job(client: Client, job: Job) -> Outcome:
    clock = time.perf_counter()
    try:
        files = [handle_file(arg) if arg.endswith((".png", ".jpg", ".glb", ".gif")) else arg for arg in job.args]
        client.predict(*files, api_name=job.endpoint)
        error = None
    except Exception as raised:  # AppError for a gr.Error; anything else is a failure too
        error = f"{type(raised).__name__}: {raised}"
    seconds = time.perf_counter() - clock
    if job.expected_error is None:
        return Outcome(job.kind, job.label, seconds, error is None, error or "")
    ok = error is not None and error.startswith("AppError") and job.expected_error in error
    return Outcome(job.kind, job.label, seconds, ok, error or "no error raised")


def run_clients(url: str, jobs: list[Job], clients: int, timeout: float, downloads: Path) -> tuple[list[Outcome], bool]:
    """Run ``jobs`` from ``clients`` threads (one gradio_client each) -> (outcomes, finished in time)."""
    pending: queue.Queue[Job] = queue.Queue()
    for job in jobs:
        pending.put(job)
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    deadline = time.monotonic() + timeout

    def worker(number: int) -> None:
        client, refused = None, None
        while time.monotonic() < deadline:  # past it, take no more jobs: the run is being given up
            try:
                job = pending.get_nowait()
            except queue.Empty:
                return
            if client is None and refused is None:
                try:
                    client = Client(url, verbose=False, download_files=str(downloads / f"client-{number}"))
                except Exception as raised:  # a server that cannot be reached fails this worker's jobs, loudly
                    refused = f"client could not connect: {type(raised).__name__}: {raised}"
            outcome = run_job(client, job) if client is not None else Outcome(job.kind, job.label, 0.0, False, refused)
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return outcomes, not any(thread.is_alive() for thread in threads)


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def summarise(outcomes: list[Outcome]) -> dict:
    table = {}
    for kind in ("reconstruct", "place", "bad", "all"):
        chosen = [o for o in outcomes if kind in ("all", o.kind)]
        seconds = [o.seconds for o in chosen]
        table[kind] = {
            "requests": len(chosen),
            "ok": sum(o.ok for o in chosen),
            "p50_s": round(statistics.median(seconds), 3) if seconds else None,
            "p95_s": round(percentile(seconds, 0.95), 3) if seconds else None,
            "max_s": round(max(seconds), 3) if seconds else None,
        }
    return table


def print_summary(report: dict) -> None:
    print(f"\nRecon3D load test: {report['clients']} clients, {report['requests']} requests, "
          f"{report['weights']}, {report['cpu_count']} CPUs")
    print(f"{'kind':12} {'requests':>8} {'ok':>5} {'p50 s':>8} {'p95 s':>8} {'max s':>8}")
    for kind, row in report["table"].items():
        cells = [f"{row[key]:8.2f}" if row[key] is not None else f"{'-':>8}" for key in ("p50_s", "p95_s", "max_s")]
        print(f"{kind:12} {row['requests']:>8} {row['ok']:>5} {' '.join(cells)}")
    print(f"wall {report['wall_s']:.1f} s, {report['throughput_per_s']:.2f} requests/s; server RSS "
          f"{report['rss_before_mb']:.0f} MB -> {report['rss_after_mb']:.0f} MB "
          f"(growth {report['rss_growth_mb']:+.0f} MB, peak {report['rss_peak_mb']:.0f} MB); "
          f"finished in time: {report['finished']}")
    warm = report["warm_up"]
    if not warm["finished"] or warm["failures"]:
        print(f"warm-up: {warm['answered']} of {warm['requests']} requests answered in time, "
              f"{len(warm['failures'])} failed: {warm['failures'][:2]}")
    if report["memory_before"] and report["memory_after"]:
        print("server memory before -> after: " + ", ".join(
            f"{key} {report['memory_before'][key]:g} -> {report['memory_after'][key]:g}"
            for key in report["memory_before"] if key in report["memory_after"]))
    if report["soak_rounds"]:
        print(f"soak: {report['soak_rounds']} more rounds of the same mix, RSS after each: "
              f"{', '.join(f'{mb:.0f}' for mb in report['soak_rss_after_each_round_mb'])} MB; "
              f"{report['soak_failures']} failures")
    for failure in report["failures"][:10]:
        print(f"  FAILED {failure['kind']} {failure['label']}: {failure['detail'][:200]}")
    if report.get("server_log_tail"):
        print("server log (last 40 lines):", *report["server_log_tail"], sep="\n")
    if report.get("server_stacks"):
        print("the server's threads when the run gave up (innermost call first):", *report["server_stacks"], sep="\n")
    print("PASS" if report["passed"] else "FAIL")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--reconstructions", type=int, default=200)
    parser.add_argument("--places", type=int, default=None, help="AR renders (default: a quarter of the reconstructions)")
    parser.add_argument("--bad", type=int, default=None, help="bad inputs (default: a tenth of the reconstructions)")
    parser.add_argument("--smoke", action="store_true", help="4 clients, 20 requests: 14 reconstructions, 4 renders, 2 bad")
    parser.add_argument("--timeout", type=float, default=None, help="seconds for the whole mix (default 900, smoke 240)")
    parser.add_argument("--max-growth-mb", type=float, default=100.0)
    parser.add_argument("--url", default=None, help="use this running server (RSS then not measured)")
    parser.add_argument("--soak", type=int, default=0,
                        help="run the same mix this many more times on the same server, reading RSS after each "
                             "(tells a one-off plateau from a steady leak; the pass/fail growth is the first round's)")
    parser.add_argument("--json", default=str(ROOT / "runs" / "load-test.json"), help="where to write the report")
    args = parser.parse_args(argv)
    if args.smoke:
        args.clients, args.reconstructions = 4, 14
        args.places, args.bad = 4 if args.places is None else args.places, 2 if args.bad is None else args.bad
    places = args.reconstructions // 4 if args.places is None else args.places
    bads = max(1, args.reconstructions // 10) if args.bad is None else args.bad
    timeout = args.timeout or (240.0 if args.smoke else 900.0)

    with tempfile.TemporaryDirectory(prefix="recon-load-") as scratch:
        folder = Path(scratch)
        process, note = None, "server given by --url"
        finished = warm_finished = False
        try:
            if args.url:
                url = args.url
            else:
                process, url, note = start_server(folder, startup_timeout=180)
            jobs = make_jobs(args.reconstructions, places, bads, folder)
            # Warm-up, not measured: loads both models and lets every worker thread of the server
            # allocate its buffers once, so the memory figures below show growth, not start-up.
            warm_up = [job for job in jobs if job.kind == "reconstruct"][:args.clients]
            warm_up += [job for job in jobs if job.kind == "place"][:2]
            warm_outcomes, warm_finished = run_clients(url, warm_up, args.clients, timeout, folder / "downloads")
            warm_failures = [asdict(o) for o in warm_outcomes if not o.ok]
            rss_before = resident_mb(process.pid) if process else float("nan")
            memory_before = memory_breakdown(process.pid) if process else {}
            monitor = MemoryMonitor(process.pid if process else None)
            clock = time.perf_counter()
            if warm_finished:  # a server stuck in the warm-up would only fail every request of the mix
                outcomes, finished = run_clients(url, jobs, args.clients, timeout, folder / "downloads")
            else:
                outcomes, finished = [], False
            wall = time.perf_counter() - clock
            time.sleep(1.0)  # let the server drop the last requests' buffers
            rss_after = resident_mb(process.pid) if process else float("nan")
            memory_after = memory_breakdown(process.pid) if process else {}
            soak_rss, soak_failures = [], 0
            for _ in range(args.soak if finished else 0):
                more, more_finished = run_clients(url, jobs, args.clients, timeout, folder / "downloads")
                soak_failures += sum(not o.ok for o in more) + len(jobs) - len(more)
                finished = finished and more_finished
                time.sleep(1.0)
                soak_rss.append(round(resident_mb(process.pid), 1) if process else float("nan"))
            rss_peak = monitor.stop()
        finally:
            if process is not None:
                if not (finished and warm_finished):
                    dump_stacks(process)  # a stuck queue: what each of the server's threads was doing
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
        growth = rss_after - rss_before
        failures = [asdict(o) for o in outcomes if not o.ok]
        report = {
            "clients": args.clients, "requests": len(jobs), "weights": note, "cpu_count": os.cpu_count(),
            "table": summarise(outcomes), "wall_s": round(wall, 2),
            "throughput_per_s": round(len(outcomes) / wall, 3) if wall else 0.0,
            "rss_before_mb": round(rss_before, 1), "rss_after_mb": round(rss_after, 1),
            "rss_growth_mb": round(growth, 1), "rss_peak_mb": round(rss_peak, 1),
            "finished": finished and warm_finished,
            "unfinished": len(jobs) - len(outcomes), "failures": failures,
            "warm_up": {"requests": len(warm_up), "answered": len(warm_outcomes), "finished": warm_finished,
                        "failures": warm_failures},
            "memory_before": memory_before, "memory_after": memory_after,
            "soak_rounds": args.soak, "soak_rss_after_each_round_mb": soak_rss, "soak_failures": soak_failures,
        }
        report["passed"] = bool(report["finished"] and not failures and not warm_failures
                                and len(outcomes) == len(jobs) and not soak_failures
                                and not growth >= args.max_growth_mb)
        server_log = folder / "server.log"
        if not report["passed"] and server_log.is_file():  # what the server said, before the folder goes
            lines = server_log.read_text(errors="replace").splitlines()
            report["server_log_tail"], report["server_stacks"] = split_stacks(lines)
    print_summary(report)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=2))
    print(f"report written to {args.json}")
    if not report["finished"]:
        return 2
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
