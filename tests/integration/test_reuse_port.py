"""Several processes of one service share a port on one host (`CRM_HTTP_REUSE_PORT`): the kernel spreads new
connections over them, and each answers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time

import httpx

APP = textwrap.dedent(
    """
    import os, sys
    from fastapi import FastAPI
    from cdp_common.app import serve
    from cdp_common.settings import ServiceSettings

    app = FastAPI()

    @app.get("/pid")
    async def pid() -> dict[str, int]:
        return {"pid": os.getpid()}

    serve(app, ServiceSettings(service_name="reuse-probe", http_port=int(sys.argv[1]), http_reuse_port=True))
    """
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_two_processes_share_one_port_and_both_answer() -> None:
    port = free_port()
    procs = [
        subprocess.Popen([sys.executable, "-c", APP, str(port)], env={**os.environ, "CRM_ENVIRONMENT": "test"})
        for _ in range(2)
    ]
    try:
        pids: set[int] = set()
        deadline = time.monotonic() + 30
        while len(pids) < 2 and time.monotonic() < deadline:
            try:
                with httpx.Client(timeout=2) as fresh:  # a new connection each time: the kernel picks a process
                    pids.add(fresh.get(f"http://127.0.0.1:{port}/pid").json()["pid"])
            except httpx.TransportError:
                time.sleep(0.1)
        assert pids == {p.pid for p in procs}
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(10)
