"""The benchmark keeps working: run it with tiny sizes. (No timing is asserted here.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_benchmark_runs_with_tiny_sizes_and_writes_every_measure(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--quick", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    names = [row["name"] for row in json.loads(out.read_text())]
    assert any(n.startswith("chaoskit via requests") for n in names)
    assert any(n.startswith("chaoskit via stripe-python") for n in names)
    assert any(n.startswith("server mode") for n in names)
    assert any(n.startswith("one scenario, pytest -n 2 / -n 0") for n in names)
    assert "example vs floor" in names and "import chaoskit" in names
    assert any(n.startswith("time to first detection") for n in names)
    assert any(n.startswith("profile: ") for n in names)
    assert out.with_suffix(".md").read_text().startswith("| measure | figure | target | met |")
    assert any(n.startswith("memory growth") for n in names)
    assert any(n.startswith("report:") for n in names)
    assert any(n.startswith("claims classifier") for n in names)
    assert any(n.startswith("pytest --co, 1 test: with plugin") for n in names)
