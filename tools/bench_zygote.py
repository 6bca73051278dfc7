"""Zygote fork benchmark: the CPU one fork of the test suite's zygote costs (``tests/zygote.py``),
parent and child together, as the zygote preloads today against the same preload with the
MCP server (the mcp SDK) added, as it was before.

Every page a process maps is copied into each fork's page tables and torn down when the
child exits, so what the zygote imports is paid again by every child the suite forks (well
over a thousand a session). Each variant runs in its own interpreter: preload, freeze the
collector as the zygote does, then ``--forks`` children that exit at once; CPU from
``getrusage`` (self and children). The last line is the ratio ours/baseline (below 1 is
cheaper).

    python tools/bench_zygote.py [--forks N]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROBE = """
import gc, os, resource, sys
from tests.zygote import preload
preload()
if sys.argv[1] == "with-mcp":
    import chargen_es.cli.mcp_server
gc.freeze()
def cpu():
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime
n = int(sys.argv[2])
start = cpu()
for _ in range(n):
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
print((cpu() - start) / n, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def per_fork(variant: str, forks: int) -> tuple[float, float]:
    done = subprocess.run([sys.executable, "-c", PROBE, variant, str(forks)], cwd=REPO, check=True,
                          capture_output=True, text=True, env={"PYTHONPATH": str(REPO), "PATH": ""})
    seconds, rss_mb = done.stdout.split()
    return float(seconds), float(rss_mb)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--forks", type=int, default=1000)
    args = parser.parse_args()
    ours, ours_rss = per_fork("as-today", args.forks)
    bare, bare_rss = per_fork("with-mcp", args.forks)
    print(f"zygote with the MCP server preloaded: {bare * 1000:.2f} ms of CPU per fork ({bare_rss:.0f} MB)")
    print(f"zygote as it preloads today: {ours * 1000:.2f} ms of CPU per fork ({ours_rss:.0f} MB)")
    print(f"ratio ours/baseline = {ours / bare:.3f}")


if __name__ == "__main__":
    main()
