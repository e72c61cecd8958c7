"""handlers.__main__: an address that cannot be listened on is one line, before anything is built."""

from __future__ import annotations

import socket

import pytest

from handlers.__main__ import check_address


def test_a_port_in_use_is_named() -> None:
    """A port another socket listens on: one line naming the address and PORT."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit) as stopped:
            check_address("127.0.0.1", port)

    assert (
        stopped.value.code == f"cannot listen on 127.0.0.1:{port}: the address is already in use (set PORT)"
    )


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        pytest.param("host..invalid", "HOST does not resolve to an address", id="unresolvable"),
        pytest.param("192.0.2.1", "HOST is not an address of this machine", id="not-ours"),
    ],
)
def test_a_host_that_cannot_be_used_is_named(host: str, reason: str) -> None:
    """A HOST that names no address, or another machine's: one line saying which."""
    with pytest.raises(SystemExit) as stopped:
        check_address(host, 8000)

    assert stopped.value.code == f"cannot listen on {host}:8000: {reason}"


def test_a_free_address_passes() -> None:
    """A free loopback port is accepted (and left free)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    check_address("127.0.0.1", port)
