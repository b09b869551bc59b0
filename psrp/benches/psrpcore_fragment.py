"""Time psrpcore fragmenting and reassembling the same 1 MiB message as benches/fragment.rs.

Run with the pinned venv: .venv/bin/python psrp/benches/psrpcore_fragment.py

Fragmenting goes through psrpcore's public sans-IO path (RunspacePool.data_to_send(amount)) over
a queued PSRPMessage. psrpcore has no standalone defragmenter (it is inside next_event, which
also parses CLIXML), so reassembly repeats next_event's fragment loop with psrpcore's own
unpack_fragment, leaving out the CLIXML step.
"""

import statistics
import time
import uuid

import psrpcore
from psrpcore._payload import PSRPMessage, PSRPPayload, unpack_fragment
from psrpcore.types import PSRPMessageType

MESSAGE_LEN = 1 << 20
ROOMS = (153_600, 512_000)
MESSAGE = bytes((i * 31 % 251) for i in range(MESSAGE_LEN))


POOL = psrpcore.ClientRunspacePool()


def fragment(room):
    pool = POOL
    pool._send_buffer.append(
        PSRPMessage(PSRPMessageType.PipelineOutput, bytearray(MESSAGE), pool.runspace_pool_id, None, 1)
    )
    payloads = []
    while True:
        payload = pool.data_to_send(room)
        if payload is None:
            return payloads
        payloads.append(payload)


def reassemble(payloads):
    receive_buffer = bytearray()
    for p in payloads:
        receive_buffer += p.data
    incoming = {}
    out = None
    while receive_buffer:
        frag = unpack_fragment(receive_buffer)
        receive_buffer = receive_buffer[21 + len(frag.data) :]
        buffer = incoming.setdefault(frag.object_id, [])
        assert frag.fragment_id == len(buffer)
        buffer.append(frag.data)
        if frag.end:
            out = bytes(b"".join(buffer))
            del incoming[frag.object_id]
    return out


def timeit(fn, *args, seconds=3.0):
    fn(*args)  # warm up
    samples = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(samples) < 5:
        start = time.perf_counter()
        fn(*args)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), len(samples)


def main():
    for room in ROOMS:
        payloads = fragment(room)
        assert reassemble(payloads) == MESSAGE
        f, n1 = timeit(fragment, room)
        r, n2 = timeit(reassemble, payloads)
        print(f"psrpcore room={room}: fragment {f * 1e3:.3f} ms (n={n1}), reassemble {r * 1e3:.3f} ms (n={n2})")


if __name__ == "__main__":
    main()
