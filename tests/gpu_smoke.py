"""What the smoke tests of scripts/gpu_*.py share: running a script end to
end on the CPU with --smoke, and the JSON file it must write."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_smoke(script, args, out):
    """Run scripts/<script> with `args`, --out `out`, --smoke on the CPU in
    one thread; check that it succeeded and says it wrote `out`; return
    the file's data, whose provenance has the fields every script writes."""
    cmd = [sys.executable, str(ROOT / "scripts" / script), *args]
    cmd += ["--out", str(out), "--smoke", "--device", "cpu"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert f"wrote {out}" in proc.stdout
    data = json.loads(out.read_text())
    prov = data["provenance"]
    assert {"command", "device", "date_utc", "wall_time_s", "torch"} <= set(prov)
    return data
