"""What the by-hand Kerberos / SPNEGO peers share (krb_peer.py, spnego_fallback.py): base64
fields, a WinRS Create envelope, one request sealed with a pyspnego context (MS-WSMV 2.2.9.1
multipart/encrypted, one part) and its sealed reply unsealed, and the one result line a peer
prints.
"""

import base64
import sys


def b64(data):
    """Base64 of bytes (or UTF-8 text); `-` for empty."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return base64.b64encode(data).decode("ascii") or "-"


def create_shell(url, message_id):
    """A WinRS Create (cmd shell) envelope to `url` with MessageID `uuid:<message_id>`."""
    return (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" '
        'xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell"><s:Header>'
        "<a:To>%s</a:To>"
        '<w:ResourceURI s:mustUnderstand="true">'
        "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd</w:ResourceURI>"
        '<a:ReplyTo><a:Address s:mustUnderstand="true">'
        "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo>"
        '<a:Action s:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/09/transfer/Create</a:Action>'
        '<w:MaxEnvelopeSize s:mustUnderstand="true">153600</w:MaxEnvelopeSize>'
        "<a:MessageID>uuid:%s</a:MessageID>"
        "<w:OperationTimeout>PT20S</w:OperationTimeout></s:Header><s:Body>"
        "<rsp:Shell><rsp:InputStreams>stdin</rsp:InputStreams>"
        "<rsp:OutputStreams>stdout stderr</rsp:OutputStreams></rsp:Shell>"
        "</s:Body></s:Envelope>" % (url, message_id)
    )


def post_sealed(session, ctx, url, protocol, envelope):
    """Posts `envelope` sealed with ctx.wrap_winrm as `protocol`; (response, the unsealed reply,
    or None when the reply is not multipart/encrypted)."""
    wrapped = ctx.wrap_winrm(envelope)
    body = (
        b"--Encrypted Boundary\r\n"
        b"\tContent-Type: " + protocol.encode() + b"\r\n"
        b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length="
        + str(len(envelope)).encode()
        + b"\r\n--Encrypted Boundary\r\n"
        b"\tContent-Type: application/octet-stream\r\n"
        + len(wrapped.header).to_bytes(4, "little")
        + wrapped.header
        + wrapped.data
        + b"--Encrypted Boundary--\r\n"
    )
    r = session.post(
        url,
        data=body,
        headers={
            "Content-Type": 'multipart/encrypted;protocol="%s";boundary="Encrypted Boundary"'
            % protocol
        },
        verify=False,
    )
    if not r.headers.get("Content-Type", "").startswith("multipart/encrypted"):
        return r, None
    content = r.content
    marker = b"application/octet-stream\r\n"
    start = content.index(marker) + len(marker)
    hlen = int.from_bytes(content[start : start + 4], "little")
    blob = content[start + 4 : content.rindex(b"--Encrypted Boundary--")]
    return r, ctx.unwrap_winrm(blob[:hlen], blob[hlen:])


def report(run, *args):
    """Prints the one result line of `run(*args)`, or `ERROR <type>: <text>` when it raises
    (the tests assert on the type and text)."""
    try:
        line = run(*args)
    except Exception as e:
        line = "ERROR %s: %s" % (type(e).__name__, str(e).replace("\n", " "))
    sys.stdout.write(line + "\n")
