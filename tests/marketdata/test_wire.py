"""WebSocket text frames built once by the fan-out, as a client parses them."""

from __future__ import annotations

import functools
import inspect

import daphne.server
import pytest
from autobahn.websocket.protocol import WebSocketProtocol
from twisted.internet import abstract, tcp
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from marketdata.wire import Wire, text_frame


def parsed(data: bytes) -> Frame:
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    parser = Frame.parse(reader.read_exact, mask=False)
    with pytest.raises(StopIteration) as done:
        next(parser)
    assert reader.at_eof()  # the frame is exactly the bytes built, nothing left over
    return done.value.value


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 200_000])
def test_a_text_frame_of_any_length_parses_back_to_its_payload(size):
    payload = ('{"p":"' + "7" * size + '"}').encode()

    frame = parsed(text_frame(payload))

    assert (frame.opcode, frame.fin, frame.data) == (Opcode.TEXT, True, payload)


def test_only_a_daphne_connection_has_a_wire():
    async def asgi_send(message):  # e.g. the test communicator's
        pass

    class NotAProtocol:
        transport = None

    assert Wire.of(asgi_send) is None
    assert Wire.of(functools.partial(asgi_send, NotAProtocol())) is None


def test_the_daphne_twisted_and_autobahn_internals_a_wire_reads_are_still_there():
    """Wire.of falls back to the ASGI send when these move; this says so
    before the fan-out quietly loses its direct path after an upgrade."""
    assert "send=partial(self.handle_reply, protocol)" in inspect.getsource(daphne.server.Server)
    assert WebSocketProtocol.STATE_OPEN is not None
    for name in ("writeSomeData", "dataBuffer", "offset", "connected", "disconnecting"):
        assert hasattr(tcp.Server, name), name
    assert tcp.Server.TLS is False
    assert "self._tempDataLen" in inspect.getsource(abstract.FileDescriptor)
