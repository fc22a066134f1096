"""Every native library the app needs is loaded when it starts, none while it answers a request.

A shared library loaded on one of the server's worker threads (dlopen under the dynamic loader's
lock, while its constructors wait for Python's GIL) can deadlock against another thread that holds
the GIL and needs the loader: the whole process stops, the queue and the HTTP front with it. A CI
run's load test hung exactly so, on the first two concurrent reconstructions, one thread in USD's
module loading (for the .usdz export), the other in trimesh. So requests must find everything
loaded already. The check runs in a fresh interpreter: this one has loaded everything long ago.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """
import json, sys, tempfile
from pathlib import Path
sys.path.insert(0, {root!r})

def native_libraries():
    return {{line.split()[-1] for line in open("/proc/self/maps") if ".so" in line.split()[-1]}}

import app
from tests.bad_inputs import GOOD_CORNERS, SCENE_SIZE, furniture_photo

loaded = native_libraries()
added = {{}}
photo = sorted(Path({root!r}, "examples", "furniture").glob("*.jpg"))[0]
scene = Path(tempfile.mkdtemp()) / "scene.png"
furniture_photo(SCENE_SIZE, seed=3).save(scene)
quiet = lambda *args, **kwargs: None
calls = {{
    "reconstruct": lambda: app.reconstruct(str(photo), progress=quiet),  # every export format
    "random_furniture": lambda: app.random_furniture(3),
}}
outputs = {{}}
for name, call in calls.items():
    outputs[name] = call()
    now = native_libraries()
    added[name] = sorted(now - loaded)
    loaded = now
app.place(str(scene), json.dumps(GOOD_CORNERS), outputs["reconstruct"][0])
added["place"] = sorted(native_libraries() - loaded)
print("ADDED " + json.dumps(added))
"""


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/maps").is_file(), reason="reads /proc/self/maps (Linux)")
def test_requests_load_no_native_library():
    result = subprocess.run([sys.executable, "-c", SCRIPT.format(root=str(ROOT))], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("ADDED ")]
    added = json.loads(line.removeprefix("ADDED "))
    assert set(added) == {"reconstruct", "random_furniture", "place"}
    assert added == {name: [] for name in added}, f"loaded while answering a request: {added}"
