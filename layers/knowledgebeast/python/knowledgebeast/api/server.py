"""``knowledgebeast serve`` with WORKERS > 1: one listening socket per worker process (SO_REUSEPORT).

Why not ``uvicorn --workers``: its workers share one listening socket, and whichever process is
awake accepts the next connection. Keep-alive clients then stay pinned to that process for their
whole life; measured with 16 keep-alive clients on 2 workers, one process did ~97% of the work
while the other idled. With SO_REUSEPORT each worker binds its own socket to the same port and
the kernel hashes every new connection to one of them, so connections (and with them the work)
spread evenly and throughput scales with the cores given to the container.

The parent only supervises: it forwards SIGTERM/SIGINT to the workers (each finishes its open
requests, uvicorn's graceful shutdown) and, if a worker dies on its own, stops the others and
exits non-zero so the orchestrator restarts the container rather than run it at reduced capacity.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import time
from multiprocessing.process import BaseProcess

logger = logging.getLogger(__name__)

#: The module-level app each worker imports (it builds its own services from the environment).
APP = "knowledgebeast.api.asgi:app"
BACKLOG = 2048


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket that other processes may bind to the same address as well."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(BACKLOG)
    sock.set_inheritable(True)
    return sock


def _worker(host: str, port: int, log_level: str) -> None:
    import uvicorn

    sock = reuse_port_socket(host, port)
    server = uvicorn.Server(uvicorn.Config(APP, log_level=log_level, timeout_graceful_shutdown=20))
    server.run(sockets=[sock])


def serve_workers(host: str, port: int, workers: int, *, log_level: str = "warning") -> int:
    """Run ``workers`` server processes on ``host:port`` until SIGTERM/SIGINT; the exit code."""
    context = multiprocessing.get_context("spawn")
    processes: list[BaseProcess] = []
    stopping = {"requested": False}

    def stop(signum: int, _frame: object) -> None:
        stopping["requested"] = True
        for process in processes:
            if process.is_alive() and process.pid is not None:
                process.terminate()  # SIGTERM: uvicorn shuts down gracefully

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for index in range(workers):
            worker = context.Process(target=_worker, args=(host, port, log_level), name=f"kb-worker-{index}")
            worker.start()
            processes.append(worker)
        logger.info("serving", extra={"host": host, "port": port, "workers": workers})
        while not stopping["requested"]:
            if any(not p.is_alive() for p in processes):
                logger.error("a server worker exited; stopping the others", extra={"workers": workers})
                stop(signal.SIGTERM, None)
                for running in processes:
                    running.join(30)
                return 1
            time.sleep(0.5)
        for running in processes:
            running.join(30)
            if running.is_alive():
                running.kill()
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
