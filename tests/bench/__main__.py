"""`make bench`: run every ``tests/bench/bench_*.py`` module's ``main()`` in turn, in one process each."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path


def main() -> int:
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    only = set(sys.argv[1:])
    failed = []
    for name in names:
        if only and name.removeprefix("bench_") not in only and name not in only:
            continue
        print(f"\n=== {name} ===", flush=True)
        if subprocess.call([sys.executable, "-m", f"tests.bench.{name}"]) != 0:
            failed.append(name)
    if failed:
        print(f"\nbenchmarks failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
