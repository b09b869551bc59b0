"""The HTTP skeleton the transport's python acceptors share (kerberos_acceptor.py,
credssp_acceptor.py): MS-WSMV 2.2.9.1 multipart/encrypted framing around a pyspnego context's
wrap_winrm / unwrap_winrm, a request handler base with a one-call reply, and the listener that
prints `PORT <n>` once bound to 127.0.0.1.
"""

import http.server
import struct
import sys

BOUNDARY = b"--Encrypted Boundary"


def unframe(body):
    """(header, data) pairs of a multipart/encrypted body."""
    parts = []
    marker = b"\tContent-Type: application/octet-stream\r\n"
    pos = 0
    while True:
        start = body.find(marker, pos)
        if start < 0:
            return parts
        start += len(marker)
        (header_len,) = struct.unpack("<I", body[start:start + 4])
        end = body.find(BOUNDARY, start + 4 + header_len)
        header = body[start + 4:start + 4 + header_len]
        parts.append((header, body[start + 4 + header_len:end]))
        pos = end


def frame(ctx, plain, protocol, chunk=None):
    """`plain` sealed with ctx.wrap_winrm and framed for `protocol`: one part, or one part per
    `chunk` bytes (multipart/x-multi-encrypted when that makes more than one). Returns (body,
    Content-Type)."""
    if chunk is None:
        chunks = [plain]
    else:
        chunks = [plain[i:i + chunk] for i in range(0, len(plain), chunk)] or [b""]
    out = b""
    for part in chunks:
        wrapped = ctx.wrap_winrm(part)
        out += BOUNDARY + b"\r\n"
        out += ("\tContent-Type: %s\r\n" % protocol).encode()
        out += ("\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=%d\r\n" % len(part)).encode()
        out += BOUNDARY + b"\r\n"
        out += b"\tContent-Type: application/octet-stream\r\n"
        out += struct.pack("<I", len(wrapped.header)) + wrapped.header + wrapped.data
    out += BOUNDARY + b"--\r\n"
    kind = "multipart/x-multi-encrypted" if len(chunks) > 1 else "multipart/encrypted"
    return out, '%s;protocol="%s";boundary="Encrypted Boundary"' % (kind, protocol)


class Handler(http.server.BaseHTTPRequestHandler):
    """Quiet HTTP/1.1 handler holding one security context per connection (`ctx`)."""

    protocol_version = "HTTP/1.1"
    ctx = None

    def log_message(self, *args):
        pass

    def reply(self, status, headers=(), body=b""):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))


def serve(handler):
    """Listens on an ephemeral 127.0.0.1 port, prints `PORT <n>` and serves until killed."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    sys.stdout.write("PORT %d\n" % server.server_address[1])
    sys.stdout.flush()
    server.serve_forever()
