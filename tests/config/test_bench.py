"""`make bench` runs every bench/[!_]*.py as a script: each must be one (helpers start with `_`).

A helper module named like a script once made `make bench` fail at its end; the scripts themselves
are measured by running them (docs/benchmarks.md), never in the suite."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted(p for p in (ROOT / "bench").glob("*.py") if not p.name.startswith("_"))


def test_make_bench_runs_the_scripts_this_test_checks():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"for script in bench/\[!_\]\*\.py", makefile)
    assert {p.name for p in SCRIPTS} >= {
        "flash_sale.py",
        "settlement.py",
        "segments.py",
        "routing.py",
        "read_api.py",
        "pages.py",
    }


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_every_bench_script_starts_and_says_how_to_run_it(script):
    # --help stops before any database is made: the imports and the options are what is checked.
    done = subprocess.run(
        [sys.executable, str(script), "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: {script.name}")
    assert 'if __name__ == "__main__":' in script.read_text()
