"""Writing WebSocket frames straight to a daphne connection's socket.

Through the ASGI `send`, every frame of every client goes through autobahn's
framing, then Twisted's write buffer, which registers the socket for writing
and sends it on the next reactor turn, then unregisters it: two epoll changes
and a reactor callback per frame, most of daphne's CPU when one message goes
to a thousand clients. A server-to-client text frame is the same bytes for
every client (no masking, no compression negotiated), so the fan-out builds
it once and a `Wire` sends it with one `send()` on the socket, when nothing is
waiting in Twisted's buffer (otherwise it appends to that buffer, so frames
keep their order). Pings and closes still go through autobahn.

`Wire.of(send)` returns None for anything but a plain-TCP daphne connection
(TLS, another server, test communicators): the consumer then uses `send`.
"""

from __future__ import annotations

import functools
import struct

TEXT_FIN = 0x81  # FIN + opcode 1 (text)

# Bytes a connection may leave unsent (in Twisted's buffer, beyond what the
# kernel's socket buffer took) before it counts as a slow consumer.
MAX_UNSENT_BYTES = 1 << 20


def text_frame(payload: bytes) -> bytes:
    """One unfragmented, unmasked text frame (RFC 6455, section 5.2)."""
    size = len(payload)
    if size < 126:
        header = bytes((TEXT_FIN, size))
    elif size < 1 << 16:
        header = struct.pack("!BBH", TEXT_FIN, 126, size)
    else:
        header = struct.pack("!BBQ", TEXT_FIN, 127, size)
    return header + payload


class Wire:
    def __init__(self, protocol, transport) -> None:
        self.protocol = protocol
        self.transport = transport

    @classmethod
    def of(cls, send) -> "Wire | None":
        """The connection behind daphne's ASGI send (`partial(handle_reply, protocol)`)."""
        if not isinstance(send, functools.partial) or not send.args:
            return None
        protocol = send.args[0]
        transport = getattr(protocol, "transport", None)
        if getattr(protocol, "STATE_OPEN", None) is None or getattr(transport, "TLS", True):
            return None  # not an autobahn protocol, or TLS: the socket carries ciphertext
        if not all(hasattr(transport, name) for name in ("writeSomeData", "dataBuffer", "offset", "_tempDataLen")):
            return None
        return cls(protocol, transport)

    def open(self) -> bool:
        return (self.protocol.state == self.protocol.STATE_OPEN and self.transport.connected
                and not self.transport.disconnecting)

    def unsent(self) -> int:
        """Bytes waiting in Twisted's buffer for the socket to take them."""
        transport = self.transport
        return len(transport.dataBuffer) - transport.offset + transport._tempDataLen

    def write(self, data: bytes) -> None:
        """Send now if nothing is waiting, else queue behind what is."""
        transport = self.transport
        if self.unsent():
            transport.write(data)
            return
        sent = transport.writeSomeData(data)
        if isinstance(sent, BaseException):
            return  # the connection is gone; Twisted notices on its next read
        if sent < len(data):
            transport.write(data[sent:])
