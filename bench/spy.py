"""Sample the gunicorn workers with py-spy while wrk loads one API case; print where time goes.

    .venv/bin/pip install py-spy
    python bench/spy.py list50|list1000|create [--seconds 10] [--database-url …]

Prints (stderr) the share of samples per function, inclusive ("in this call or below") and
self, over both workers, idle samples excluded. Not part of `make bench`; a tool to explain it.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_api import CIS_PATH, LIST_CASES, Load, ensure_bench_type
from common import (
    DEFAULT_DATABASE_URL,
    PYTHON,
    delete_bench_created,
    ensure_api_token,
    gunicorn,
    log,
)

#: Frames of a worker waiting for a request, not serving one.
IDLE = (
    "wait (selectors.py",
    "select (selectors.py",
    "sleep (gunicorn/workers",
    "accept (socket.py",
)


def _frame_key(frame: str) -> str:
    # py-spy raw frames look like "function (path/to/file.py:123)"; drop the line number.
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    path, _, _line = where.rpartition(":")
    for marker in ("site-packages/", "/work/main/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{name} ({path})"


def summarize(raw: Path, top: int) -> None:
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        if any(marker in frames[-1] for marker in IDLE):
            continue
        n = int(count)
        total += n
        keys = [_frame_key(f) for f in frames[1:]]  # frames[0] is the process/thread
        for key in set(keys):
            inclusive[key] += n
        if keys:
            own[keys[-1]] += n
    print(f"--- {total} busy samples", file=sys.stderr)
    print("--- inclusive (% of busy samples)", file=sys.stderr)
    for key, n in inclusive.most_common(top):
        print(f"  {100 * n / total:5.1f}%  {key}", file=sys.stderr)
    print("--- self", file=sys.stderr)
    for key, n in own.most_common(top // 2):
        print(f"  {100 * n / total:5.1f}%  {key}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("case", choices=["list50", "list1000", "create"])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--top", type=int, default=60)
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    args = parser.parse_args()
    spy = shutil.which("py-spy") or str(Path(PYTHON).with_name("py-spy"))
    if not Path(spy).exists():
        raise SystemExit("py-spy not found: .venv/bin/pip install py-spy")
    token = ensure_api_token(args.database_url)
    ensure_bench_type(args.database_url)
    from django.db import connection

    connection.close()
    raw = Path(tempfile.mkstemp(prefix="bench-spy-", suffix=".txt")[1])
    try:
        with gunicorn(args.database_url) as server:
            load = Load(server, token, args.connections)
            path = CIS_PATH
            prefix = None
            if args.case == "list50":
                path += LIST_CASES["page_50"]
            elif args.case == "list1000":
                path += LIST_CASES["page_1000"]
            else:
                prefix = f"bench-spy-{int(time.time())}"
            load.run(path, 2, post_prefix=prefix and prefix + "-warm")
            cmd = [
                spy,
                "record",
                "--format",
                "raw",
                "--subprocesses",
                "--rate",
                str(args.rate),
                "--duration",
                str(int(args.seconds)),
                "--pid",
                str(server.proc.pid),
                "--output",
                str(raw),
                "--nonblocking",
            ]
            spying = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            time.sleep(1)
            result: dict = {}
            thread = threading.Thread(
                target=lambda: result.update(load.run(path, args.seconds - 1, post_prefix=prefix))
            )
            thread.start()
            thread.join()
            spying.wait(timeout=60)
            log(f"wrk: {result.get('requests')} requests in {args.seconds - 1:.0f}s")
        summarize(raw, args.top)
    finally:
        raw.unlink(missing_ok=True)
        if args.case == "create":
            delete_bench_created(args.database_url)


if __name__ == "__main__":
    main()
