"""Cold start: time to import function_app and index its functions in a fresh process.

Prints the median and worst of N fresh interpreters (target: 0.5 s) and writes
bench/results/cold_start.json.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBE = (
    "import time, json, resource; t = time.perf_counter(); import function_app; "
    "n = len(function_app.app.get_functions()); d = time.perf_counter() - t; "
    "print(json.dumps({'seconds': d, 'functions': n, "
    "'max_rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))"
)


def main(runs: int = 7) -> None:
    samples = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
        samples.append(json.loads(out.strip().splitlines()[-1]))
    seconds = [s["seconds"] for s in samples]
    result = {
        "runs": runs,
        "median_s": statistics.median(seconds),
        "max_s": max(seconds),
        "functions": samples[0]["functions"],
        "max_rss_mb": max(s["max_rss_mb"] for s in samples),
        "target_s": 0.5,
    }
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "cold_start.json").write_text(json.dumps(result, indent=2))
    print(
        f"cold start: median {result['median_s']:.3f}s, worst {result['max_s']:.3f}s over "
        f"{runs} fresh processes (target {result['target_s']}s); {result['functions']} "
        f"functions indexed; peak RSS {result['max_rss_mb']:.0f} MiB"
    )


if __name__ == "__main__":
    main()
