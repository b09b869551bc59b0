"""A minimal WinRM-style HTTP endpoint whose Kerberos acceptor is MIT krb5's GSS-API (through
pyspnego 0.12 + gssapi), a real peer for the transport's Kerberos client; driven by
transport/tests/kerberos_mit.rs.

Usage: kerberos_acceptor.py  (KRB5_CONFIG and KRB5_KTNAME name the test realm and its service
keytab). Prints `PORT <n>` once listening on 127.0.0.1.

Per connection: `Authorization: Kerberos <b64 GSS krb5 token>` is accepted by MIT's
gss_accept_sec_context; on success the reply is 200 with the mutual-authentication token in
`WWW-Authenticate: Kerberos <b64>`, otherwise 401 with a bare `WWW-Authenticate: Kerberos`.
Afterwards each body must be sealed (MS-WSMV 2.2.9.1, application/HTTP-Kerberos-session-encrypted);
it is unsealed with pyspnego's unwrap_winrm (MIT gss_unwrap_iov) and answered, sealed with
wrap_winrm, with `<echo user="..." length="N"/>` followed by the plaintext received. A plaintext
body is answered 400: the test only sends sealed ones.

`kerberos_acceptor.py negotiate` accepts `Authorization: Negotiate <b64 SPNEGO token>` instead,
through pyspnego's SPNEGO acceptor (`protocol='negotiate'`, MIT krb5 underneath): as many legs
as SPNEGO needs (401 with `WWW-Authenticate: Negotiate <b64>` while incomplete, 200 with the
last token once complete), bodies sealed as application/HTTP-SPNEGO-session-encrypted, and the
echo also names the mechanism SPNEGO chose and whether the client's mechListMIC was received
(and verified) and the initiator's mechTypes:
`<echo user="..." mech="kerberos" mic="yes" mechs="OID,OID" length="N"/>`.
"""

import base64
import sys

import spnego
from winrm_http import Handler, frame, serve, unframe

NEGOTIATE = sys.argv[1:] == ["negotiate"]
SCHEME = "Negotiate" if NEGOTIATE else "Kerberos"
PROTOCOL = (
    "application/HTTP-SPNEGO-session-encrypted"
    if NEGOTIATE
    else "application/HTTP-Kerberos-session-encrypted"
)


class Acceptor(Handler):
    def do_POST(self):
        body = self.read_body()
        auth = self.headers.get("Authorization", "")
        prefix = SCHEME + " "
        if auth.startswith(prefix):
            if self.ctx is None or self.ctx.complete:
                self.ctx = spnego.server(protocol=SCHEME.lower())
            try:
                out = self.ctx.step(base64.b64decode(auth[len(prefix):]))
            except Exception as e:  # a refused token: a bare challenge, as Windows
                sys.stderr.write("acceptor: %s\n" % e)
                self.ctx = None
                return self.reply(401, [("WWW-Authenticate", SCHEME)])
            headers = []
            if out:
                headers.append(("WWW-Authenticate", prefix + base64.b64encode(out).decode()))
            if not self.ctx.complete:
                if NEGOTIATE and out:  # another SPNEGO leg
                    return self.reply(401, headers)
                sys.stderr.write("acceptor: context not complete after one token\n")
                self.ctx = None
                return self.reply(401, [("WWW-Authenticate", SCHEME)])
            if not body:
                return self.reply(200, headers)
        if self.ctx is None or not self.ctx.complete:
            return self.reply(401, [("WWW-Authenticate", SCHEME)])
        content_type = self.headers.get("Content-Type", "")
        if PROTOCOL.lower() not in content_type.lower():
            return self.reply(400, body=b"expected a sealed body of " + PROTOCOL.encode() + b", got " + content_type.encode())
        try:
            plain = b"".join(self.ctx.unwrap_winrm(h, d) for h, d in unframe(body))
        except Exception as e:
            sys.stderr.write("acceptor: unwrap failed: %s\n" % e)
            return self.reply(400, body=("unwrap failed: %s" % e).encode())
        user = self.ctx.client_principal or ""
        mech = ""
        if NEGOTIATE:
            # Whether the client's mechListMIC arrived (and verified: pyspnego raises otherwise);
            # a private attribute of pyspnego 0.12's SPNEGO proxy, read for the test only.
            mic = "yes" if getattr(self.ctx, "_mic_recv", False) else "no"
            # The initiator's mechTypes, as parsed from its NegTokenInit (same attribute set).
            mechs = ",".join(getattr(self.ctx, "_mech_list", None) or [])
            mech = ' mech="%s" mic="%s" mechs="%s"' % (self.ctx.negotiated_protocol, mic, mechs)
        answer = ('<echo user="%s"%s length="%d"/>' % (user, mech, len(plain))).encode() + plain
        sealed, reply_type = frame(self.ctx, answer, PROTOCOL)
        self.reply(200, [("Content-Type", reply_type)], sealed)


if __name__ == "__main__":
    serve(Acceptor)
