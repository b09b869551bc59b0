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
import sys

import spnego
from winrm_http import Handler, frame, serve, unframe

PROTOCOL = "application/HTTP-CredSSP-session-encrypted"
CHUNK = 16384


class Acceptor(Handler):
    def do_POST(self):
        body = self.read_body()
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
        sealed, content_type = frame(self.ctx, answer, PROTOCOL, CHUNK)
        self.reply(200, [("Content-Type", content_type)], sealed)


if __name__ == "__main__":
    serve(Acceptor)
