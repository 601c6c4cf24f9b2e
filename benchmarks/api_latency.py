"""API latency under a steady load, against a trivial endpoint on the same kind of server.

Starts a real daemon (`reconciler serve`) on a generated repository of N File resources,
waits until it is ready, then sends RATE requests/s for SECONDS to each of
`/api/v1/resources`, `/api/v1/sources` and the baseline, one second at a time in turn (so
drifting machine load hits all three alike). Scheduling is open-loop: request i is due at
start + i/RATE whatever happened to earlier ones, and its latency is counted from when it
was due, so a slow server cannot hide its queueing by slowing the client down. The
baseline is a Starlette endpoint returning a constant JSON, served by the same
`HttpServer` (uvicorn) in its own process. Prints p50/p99 per endpoint and `ratio` lines
(endpoint / baseline, lower is better); the target is p99 <= 50 ms.

    python benchmarks/api_latency.py [--rate 200] [--seconds 10] [--resources 50] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import timing

SERVING = re.compile(r"serving (http://\S+)")

BASELINE_SERVER = """
import asyncio, sys
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from reconciler.api.server import HttpServer

def constant(request):
    return JSONResponse({"status": "ok", "items": [1, 2, 3]})

async def main():
    server = HttpServer(Starlette(routes=[Route("/constant", constant)]), host="127.0.0.1", port=0)
    stop = asyncio.Event()
    task = asyncio.create_task(server.serve(stop))
    while not server.started:
        await asyncio.sleep(0.01)
    print(f"serving http://127.0.0.1:{server.port}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    stop.set()
    await task

asyncio.run(main())
"""


def git(repo: Path, *args: str) -> None:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    ident = ["-c", "user.name=bench", "-c", "user.email=bench@example.com"]
    subprocess.run(["git", *ident, *args], cwd=repo, env=env, check=True, capture_output=True)


def make_repo(root: Path, *, resources: int) -> Path:
    repo, out = root / "repo", root / "out"
    (repo / "resources").mkdir(parents=True)
    (repo / "reconciler.yaml").write_text(
        "apiVersion: reconciler.dev/v1\nkind: Settings\nmetadata: {name: bench}\n"
        "spec: {providers: {File: file}}\n"
    )
    docs = [
        f"apiVersion: reconciler.dev/v1\nkind: File\n"
        f"metadata: {{name: file-{i}, labels: {{owner: bench}}}}\n"
        f'spec: {{path: {out}/file-{i}, content: "file {i}\\n", mode: "0644"}}\n'
        for i in range(resources)
    ]
    (repo / "resources" / "files.yaml").write_text("---\n".join(docs))
    git(repo, "init", "--quiet", "--initial-branch=main")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", "bench")
    return repo


@contextmanager
def server(argv: list[str]) -> Iterator[str]:
    """Start a server process that prints `serving URL`; yield the URL; stop it."""
    process = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert process.stdout is not None and process.stdin is not None
    try:
        for line in process.stdout:
            if found := SERVING.search(line):
                yield found.group(1).replace("0.0.0.0", "127.0.0.1")
                break
        else:
            raise SystemExit(f"{argv[0]} exited before serving")
    finally:
        process.stdin.close()
        process.terminate()
        process.wait(timeout=60)


def wait_ready(url: str) -> None:
    deadline = time.monotonic() + 60
    while httpx.get(f"{url}/readyz").status_code != 200:
        if time.monotonic() > deadline:
            raise SystemExit("the daemon did not become ready")
        time.sleep(0.05)


async def load(url: str, *, rate: float, seconds: float) -> np.ndarray:
    """Open-loop load; latencies in ms, each counted from its request's due time."""
    count = int(rate * seconds)
    latencies = np.zeros(count)
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        await client.get(url)  # open a connection before the clock starts
        loop = asyncio.get_running_loop()
        start = loop.time() + 0.05

        async def one(i: int) -> None:
            due = start + i / rate
            await asyncio.sleep(max(0.0, due - loop.time()))
            response = await client.get(url)
            response.raise_for_status()
            latencies[i] = (loop.time() - due) * 1000

        await asyncio.gather(*(one(i) for i in range(count)))
    return latencies


def report(name: str, ms: np.ndarray) -> tuple[float, float]:
    p50, p99 = timing.percentiles(ms, 50, 99)
    print(f"{name}: p50 {p50:.2f} ms  p99 {p99:.2f} ms  max {ms.max():.2f} ms  ({len(ms)} req)")
    return p50, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--resources", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="50 req/s for 1 s, 5 resources")
    args = parser.parse_args()
    if args.quick:
        args.rate, args.seconds, args.resources = 50.0, 1.0, 5
    with tempfile.TemporaryDirectory() as tmp:
        repo = make_repo(Path(tmp), resources=args.resources)
        serve = [sys.executable, "-m", "reconciler", "serve", str(repo), "--port", "0"]
        serve += ["--data-dir", f"{tmp}/data", "--interval", "1h"]
        baseline_argv = [sys.executable, "-c", BASELINE_SERVER]
        with server(serve) as api, server(baseline_argv) as baseline:
            wait_ready(api)
            print(f"{args.resources} File resources; {args.rate:.0f} req/s for {args.seconds} s")
            targets = {
                "baseline /constant": f"{baseline}/constant",
                "/api/v1/resources": f"{api}/api/v1/resources",
                "/api/v1/sources": f"{api}/api/v1/sources",
            }
            found = interleaved(targets, rate=args.rate, seconds=args.seconds)
            base = report("baseline /constant", found.pop("baseline /constant"))
            for path, ms in found.items():
                p50, p99 = report(path, ms)
                verdict = "met" if p99 <= 50 else "MISSED"
                print(f"{path}: target p99 <= 50 ms: {verdict}")
                against = "the constant endpoint"
                timing.ratio(f"{path} p50", p50, base[0], against=against)
                timing.ratio(f"{path} p99", p99, base[1], against=against)


def interleaved(targets: dict[str, str], *, rate: float, seconds: float) -> dict[str, np.ndarray]:
    """Load each target one second at a time in turn, so drifting machine load hits all."""
    parts: dict[str, list[np.ndarray]] = {name: [] for name in targets}
    for _ in range(max(1, round(seconds))):
        for name, url in targets.items():
            parts[name].append(asyncio.run(load(url, rate=rate, seconds=1.0)))
    return {name: np.concatenate(chunks) for name, chunks in parts.items()}


if __name__ == "__main__":
    main()
