"""A minimal WinRM-style HTTP endpoint whose CredSSP acceptor is pyspnego's (a real peer for the
transport's CredSSP client), driven by transport/tests/credssp_pyspnego.rs.

Usage: credssp_acceptor.py  (NTLM_USER_FILE names the accepted accounts, `DOMAIN:user:password`)
Prints `PORT <n>` once listening on 127.0.0.1. Per connection: 401 `WWW-Authenticate: CredSSP`
until the CredSSP exchange completes, then each request body, sealed with the inner TLS session
(MS-WSMV 2.2.9.1.3 framing), is unsealed and answered, sealed, with
`<echo user="..." length="N" sha1="..."/>` about the plaintext.
"""

import base64
import hashlib
import http.server
import struct
import sys

import spnego

BOUNDARY = b"--Encrypted Boundary"
PROTOCOL = "application/HTTP-CredSSP-session-encrypted"
CHUNK = 16384


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


def frame(ctx, plain):
    out = b""
    chunks = [plain[i:i + CHUNK] for i in range(0, len(plain), CHUNK)] or [b""]
    for chunk in chunks:
        wrapped = ctx.wrap_winrm(chunk)
        out += BOUNDARY + b"\r\n"
        out += ("\tContent-Type: %s\r\n" % PROTOCOL).encode()
        out += ("\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=%d\r\n" % len(chunk)).encode()
        out += BOUNDARY + b"\r\n"
        out += b"\tContent-Type: application/octet-stream\r\n"
        out += struct.pack("<I", len(wrapped.header)) + wrapped.header + wrapped.data
    out += BOUNDARY + b"--\r\n"
    kind = "multipart/x-multi-encrypted" if len(chunks) > 1 else "multipart/encrypted"
    return out, '%s;protocol="%s";boundary="Encrypted Boundary"' % (kind, PROTOCOL)


class Handler(http.server.BaseHTTPRequestHandler):
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

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        auth = self.headers.get("Authorization", "")
        if auth.startswith("CredSSP "):
            if self.ctx is None or self.ctx.complete:
                self.ctx = spnego.server(protocol="credssp")
            try:
                out = self.ctx.step(base64.b64decode(auth[8:]))
            except Exception as e:  # a refused logon: a bare challenge, as Windows
                sys.stderr.write("acceptor: %s\n" % e)
                self.ctx = None
                return self.reply(401, [("WWW-Authenticate", "CredSSP")])
            if not self.ctx.complete:
                return self.reply(401, [("WWW-Authenticate", "CredSSP " + base64.b64encode(out or b"").decode())])
        if self.ctx is None or not self.ctx.complete:
            return self.reply(401, [("WWW-Authenticate", "CredSSP")])
        if not body:
            return self.reply(200)
        plain = b"".join(self.ctx.unwrap_winrm(h, d) for h, d in unframe(body))
        user = self.ctx.client_principal or ""
        answer = ('<echo user="%s" length="%d" sha1="%s"/>'
                  % (user, len(plain), hashlib.sha1(plain).hexdigest())).encode()
        answer += b" " * (len(plain) // 2)  # a reply of several parts when the request had them
        sealed, content_type = frame(self.ctx, answer)
        self.reply(200, [("Content-Type", content_type)], sealed)


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    sys.stdout.write("PORT %d\n" % server.server_address[1])
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
