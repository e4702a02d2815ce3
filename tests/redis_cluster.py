"""A Redis Cluster of 3 masters on loopback ports, for tests: started in a temporary folder,
stopped afterwards (redis-server and redis-cli from the Debian package redis-server)."""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis


def available() -> bool:
    return shutil.which("redis-server") is not None and shutil.which("redis-cli") is not None


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def cluster_port() -> int:
    """A port that is free, and whose cluster bus port (+10000) is free too."""
    for _ in range(200):
        port = random.randint(20000, 29999)
        if _bindable(port) and _bindable(port + 10000):
            return port
    raise RuntimeError("no free port pair for a cluster node")


def _wait(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return
        except redis.RedisError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{what} not ready within {timeout:.0f} s")


@contextmanager
def local_cluster(masters: int = 3) -> Iterator[list[int]]:
    """Ports of `masters` cluster nodes, slots assigned and the cluster state ok."""
    ports: list[int] = []
    processes: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="kjzy-cluster-") as tmp:
        try:
            for _ in range(masters):
                port = cluster_port()
                ports.append(port)
                processes.append(_start_node(Path(tmp), port))
            for port in ports:
                node = redis.Redis(host="127.0.0.1", port=port)
                _wait(node.ping, 15, f"redis node {port}")
                node.close()
            subprocess.run(
                [
                    "redis-cli",
                    "--cluster",
                    "create",
                    *(f"127.0.0.1:{port}" for port in ports),
                    "--cluster-replicas",
                    "0",
                    "--cluster-yes",
                ],
                check=True,
                capture_output=True,
                timeout=60,
            )
            for port in ports:
                node = redis.Redis(host="127.0.0.1", port=port)
                _wait(
                    lambda node=node: node.cluster("info")["cluster_state"] == "ok",
                    30,
                    f"cluster state on {port}",
                )
                node.close()
            yield ports
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)


def _start_node(directory: Path, port: int) -> subprocess.Popen[bytes]:
    node_dir = directory / str(port)
    node_dir.mkdir()
    return subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            "3000",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(node_dir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
