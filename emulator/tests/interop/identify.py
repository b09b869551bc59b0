"""Identify (Test-WSMan) from real Python HTTP clients, driven by emulator/tests/interop_identify.rs.

Each subcommand prints one JSON line: the HTTP status and, when the reply is an
IdentifyResponse, its fields as Python's own XML parser reads them.

  raw URL HEADER BODY               requests.post; HEADER 1 adds `WSMANIDENTIFY: unauthenticated`;
                                    BODY identify | get (a WS-Man Get, which is not an Identify)
  pypsrp HOST PORT USER AUTH ENC    pypsrp's WSMan.transport.send (auth, message encryption)
  pywinrm URL USER TRANSPORT ENC    pywinrm's Transport.send_message

The password comes from PSRM_TEST_PASSWORD and is never printed.
"""

import json
import os
import sys
import xml.etree.ElementTree as ET

WSMID_NS = "http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd"
SOAP_NS = "http://www.w3.org/2003/05/soap-envelope"
IDENTIFY = (
    '<s:Envelope xmlns:s="%s" xmlns:wsmid="%s"><s:Header/>'
    "<s:Body><wsmid:Identify/></s:Body></s:Envelope>" % (SOAP_NS, WSMID_NS)
)
GET = (
    '<s:Envelope xmlns:s="%s" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
    'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><s:Header>'
    "<a:Action>http://schemas.xmlsoap.org/ws/2004/09/transfer/Get</a:Action>"
    "<a:MessageID>uuid:00000000-0000-0000-0000-000000000001</a:MessageID>"
    "<w:ResourceURI>http://schemas.microsoft.com/wbem/wsman/1/config</w:ResourceURI>"
    "</s:Header><s:Body/></s:Envelope>" % SOAP_NS
)


def out(obj):
    sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")
    sys.stdout.flush()


def fields(status, text):
    result = {"status": status}
    if not text:
        return result
    root = ET.fromstring(text)
    reply = root.find("{%s}Body/{%s}IdentifyResponse" % (SOAP_NS, WSMID_NS))
    if reply is None:
        result["body"] = root.find("{%s}Body" % SOAP_NS)[0].tag
        return result
    # Test-WSMan's first column: the namespace of the reply element.
    result["wsmid"] = WSMID_NS
    for name in ("ProtocolVersion", "ProductVendor", "ProductVersion"):
        el = reply.find("{%s}%s" % (WSMID_NS, name))
        result[name] = None if el is None else el.text
    profiles = reply.find("{%s}SecurityProfiles" % WSMID_NS)
    result["SecurityProfiles"] = (
        None
        if profiles is None
        else [p.text for p in profiles.findall("{%s}SecurityProfileName" % WSMID_NS)]
    )
    result["header_children"] = len(root.find("{%s}Header" % SOAP_NS))
    return result


def cmd_raw(url, header, body):
    import requests

    headers = {"Content-Type": "application/soap+xml;charset=UTF-8"}
    if header == "1":
        headers["WSMANIDENTIFY"] = "unauthenticated"
    data = IDENTIFY if body == "identify" else GET
    r = requests.post(url, data=data.encode(), headers=headers, timeout=30)
    out(fields(r.status_code, r.text if r.status_code in (200, 500) else ""))


def cmd_pypsrp(host, port, user, auth, encryption):
    from pypsrp.exceptions import AuthenticationError
    from pypsrp.wsman import WSMan

    wsman = WSMan(
        host,
        port=int(port),
        username=user,
        password=os.environ["PSRM_TEST_PASSWORD"],
        ssl=False,
        auth=auth,
        encryption=encryption,
        cert_validation=False,
    )
    try:
        resp = wsman.transport.send(IDENTIFY.encode())
    except AuthenticationError:
        out({"status": 401})
        return
    out(fields(200, resp.decode()))


def cmd_pywinrm(url, user, transport, encryption):
    import winrm.exceptions
    import winrm.transport

    t = winrm.transport.Transport(
        endpoint=url,
        username=user,
        password=os.environ["PSRM_TEST_PASSWORD"],
        auth_method=transport,
        message_encryption=encryption,
        server_cert_validation="ignore",
    )
    try:
        resp = t.send_message(IDENTIFY)
    except winrm.exceptions.InvalidCredentialsError:
        out({"status": 401})
        return
    if isinstance(resp, bytes):
        resp = resp.decode()
    out(fields(200, resp))


if __name__ == "__main__":
    try:
        {"raw": cmd_raw, "pypsrp": cmd_pypsrp, "pywinrm": cmd_pywinrm}[sys.argv[1]](*sys.argv[2:])
    except Exception as e:  # noqa: BLE001 - reported to the Rust side
        out({"error": "%s: %s" % (type(e).__name__, e)})
