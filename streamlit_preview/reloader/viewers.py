"""Who is connected to Streamlit, asked of the operating system when Streamlit cannot say.

Streamlit releases before 1.51 publish no session count in `/_stcore/metrics`, and apps pin
such releases. Every open tab still holds a TCP connection to Streamlit's port (its
WebSocket), and the kernel lists those. No connection from anyone but this reloader means
no open tab; a new connection after a restart means a tab came back.
"""

from __future__ import annotations

import psutil

Peer = tuple[str, int]


def connected_peers(pid: int, port: int) -> frozenset[Peer] | None:
    """The remote ends of established connections to `pid` on `port`, this process's own
    excepted (its health checks); None when the system will not tell."""
    try:
        theirs = psutil.Process(pid).net_connections(kind="tcp")
        ours = psutil.Process().net_connections(kind="tcp")
    except (psutil.Error, OSError):
        return None
    own_ends = {tuple(c.laddr) for c in ours if c.raddr}
    return frozenset(
        (c.raddr[0], c.raddr[1])
        for c in theirs
        if c.status == psutil.CONN_ESTABLISHED
        and c.laddr
        and c.laddr[1] == port
        and c.raddr
        and tuple(c.raddr) not in own_ends
    )
