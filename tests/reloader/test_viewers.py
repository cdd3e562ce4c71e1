"""Open connections to Streamlit, read from the kernel for releases that do not count sessions."""

from __future__ import annotations

import socket
import subprocess
import sys

from streamlit_preview.reloader.viewers import connected_peers
from tests.fixtures.processes import wait_for

SERVER = """
import socket, sys, time
server = socket.create_server(("127.0.0.1", 0))
print(server.getsockname()[1], flush=True)
accepted = []
while True:
    accepted.append(server.accept()[0])
"""


def test_connections_from_others_count_and_our_own_do_not():
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())  # type: ignore[union-attr]
        assert connected_peers(server.pid, port) == frozenset()

        ours = socket.create_connection(("127.0.0.1", port))  # like the reloader's health checks
        assert connected_peers(server.pid, port) == frozenset()

        viewer = subprocess.Popen(
            [sys.executable, "-c", f"import socket, time; s = socket.create_connection(('127.0.0.1', {port})); time.sleep(60)"]
        )  # fmt: skip
        try:
            peers = wait_for(lambda: connected_peers(server.pid, port), timeout=10)
            assert len(peers) == 1
        finally:
            viewer.kill()
            viewer.wait()
        wait_for(lambda: connected_peers(server.pid, port) == frozenset(), timeout=10)
        ours.close()
    finally:
        server.kill()
        server.wait()
    assert connected_peers(server.pid, port) is None  # gone: unknown, not zero
