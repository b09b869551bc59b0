"""Kerberos peers (MIT krb5 through python-gssapi / pyspnego), driven by
emulator/tests/interop_kerberos.rs.

Usage: krb_peer.py <mode> <url> <principal> [args...]
The password comes from $PSRM_TEST_PASSWORD (never on the command line, never printed);
KRB5_CONFIG and KRB5CCNAME name the test realm and a private credential cache.

Modes:
  pywinrm_cmd URL PRINCIPAL COMMAND [ARGS...]   pywinrm transport='kerberos' run_cmd
  pywinrm_ps URL PRINCIPAL SCRIPT               pywinrm transport='kerberos' run_ps
  pypsrp URL PRINCIPAL SCRIPT                   pypsrp WSMan(auth='kerberos') + RunspacePool
  negotiate URL PRINCIPAL SPN                   pyspnego protocol='negotiate' (SPNEGO) by hand:
                                                one sealed WinRS Create
  skewed URL PRINCIPAL SPN SECONDS             raw, Kerberos scheme, from a credential cache
                                                whose clock offset is SECONDS (MIT applies it)
  raw URL PRINCIPAL SPN SCHEME                  pyspnego protocol='kerberos' by hand, the
                                                token under SCHEME; prints the status
pywinrm's Kerberos transport takes no password: the peer first gets alice's TGT from her
password (gss_acquire_cred_with_password, the AS exchange done by MIT) into $KRB5CCNAME.

Prints one line: `OK <rc> <base64 stdout> <base64 stderr>` (empty is `-`), `PS <text>`,
`HTTP <status> <detail>`, or `ERROR <type>: <text>`.
"""

import base64
import os
import sys

from winrm_by_hand import b64, create_shell, post_sealed, report


def kinit(principal):
    """alice's TGT from her password, stored in $KRB5CCNAME."""
    import gssapi
    import gssapi.raw

    name = gssapi.Name(principal, gssapi.NameType.kerberos_principal)
    creds = gssapi.raw.acquire_cred_with_password(
        name, os.environ["PSRM_TEST_PASSWORD"].encode(), usage="initiate"
    ).creds
    gssapi.raw.store_cred_into(
        {"ccache": os.environ["KRB5CCNAME"]}, creds, usage="initiate", overwrite=True
    )


def shift_clock(seconds):
    """Makes MIT think our clock is `seconds` off the KDC's: the FILE ccache (v4) header's
    time-offset tag, which MIT adds to the time it puts in authenticators (kdc_timesync)."""
    path = os.environ["KRB5CCNAME"].split(":", 1)[-1]
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] != b"\x05\x04":
        raise RuntimeError("credential cache is not version 4")
    header_len = int.from_bytes(data[2:4], "big")
    rest = data[4 + header_len :]
    tag = (1).to_bytes(2, "big") + (8).to_bytes(2, "big")
    tag += int(seconds).to_bytes(4, "big", signed=True) + (0).to_bytes(4, "big")
    with open(path, "wb") as f:
        f.write(b"\x05\x04" + len(tag).to_bytes(2, "big") + tag + rest)


def pywinrm_session(url, principal):
    import winrm

    kinit(principal)
    return winrm.Session(
        url,
        auth=(principal, None),
        transport="kerberos",
        message_encryption="auto",
        server_cert_validation="ignore",
    )


def pywinrm_cmd(url, principal, command, *args):
    r = pywinrm_session(url, principal).run_cmd(command, list(args))
    return "OK %d %s %s" % (r.status_code, b64(r.std_out), b64(r.std_err))


def pywinrm_ps(url, principal, script):
    r = pywinrm_session(url, principal).run_ps(script)
    return "OK %d %s %s" % (r.status_code, b64(r.std_out), b64(r.std_err))


def pypsrp(url, principal, script):
    from urllib.parse import urlparse

    from pypsrp.powershell import PowerShell, RunspacePool
    from pypsrp.wsman import WSMan

    u = urlparse(url)
    wsman = WSMan(
        u.hostname,
        port=u.port,
        ssl=u.scheme == "https",
        auth="kerberos",
        username=principal,
        password=os.environ["PSRM_TEST_PASSWORD"],
        cert_validation=False,
        encryption="auto",
        negotiate_service="WSMAN",
    )
    with wsman, RunspacePool(wsman) as pool:
        ps = PowerShell(pool)
        ps.add_script(script)
        out = ps.invoke()
        return "PS %s|%s" % (
            b64("\n".join(str(o) for o in out)),
            "error" if ps.had_errors else "ok",
        )


def by_hand(url, principal, spn, protocol, scheme, password=True):
    """One request authenticated by pyspnego itself; returns (response, context)."""
    import requests
    import spnego

    service, host = spn.split("/", 1)
    ctx = spnego.client(
        principal,
        os.environ["PSRM_TEST_PASSWORD"] if password else None,
        hostname=host,
        service=service,
        protocol=protocol,
    )
    token = ctx.step()
    session = requests.Session()
    r = session.post(
        url,
        data=b"",
        headers={"Authorization": "%s %s" % (scheme, b64(token))},
        verify=False,
    )
    if r.status_code == 200:
        header = r.headers.get("WWW-Authenticate", "")
        parts = header.split(" ", 1)
        if len(parts) == 2 and parts[0] == scheme:
            ctx.step(base64.b64decode(parts[1]))
    return session, r, ctx


def raw(url, principal, spn, scheme):
    _, r, ctx = by_hand(url, principal, spn, "kerberos", scheme)
    return "HTTP %d %s complete=%s" % (
        r.status_code,
        r.headers.get("WWW-Authenticate", "-").replace(" ", "_"),
        ctx.complete,
    )


def skewed(url, principal, spn, seconds):
    """The raw Kerberos leg from a client whose clock is `seconds` ahead (credential cache)."""
    kinit(principal)
    shift_clock(seconds)
    _, r, ctx = by_hand(url, principal, spn, "kerberos", "Kerberos", password=False)
    return "HTTP %d complete=%s" % (r.status_code, ctx.complete)


def negotiate(url, principal, spn):
    """SPNEGO through pyspnego's own Negotiate over MIT krb5, then one sealed WinRS Create."""
    session, r, ctx = by_hand(url, principal, spn, "negotiate", "Negotiate")
    if r.status_code != 200 or not ctx.complete:
        return "HTTP %d complete=%s" % (r.status_code, ctx.complete)
    envelope = create_shell(url, "11111111-2222-4333-8444-555555555555").encode()
    r, plain = post_sealed(session, ctx, url, "application/HTTP-Kerberos-session-encrypted", envelope)
    if plain is None:
        return "HTTP %d reply not sealed" % r.status_code
    return "OK %d %s -" % (r.status_code, b64(plain))


MODES = {
    "pywinrm_cmd": pywinrm_cmd,
    "pywinrm_ps": pywinrm_ps,
    "pypsrp": pypsrp,
    "negotiate": negotiate,
    "raw": raw,
    "skewed": skewed,
}


def main():
    mode, url, principal = sys.argv[1:4]
    report(MODES[mode], url, principal, *sys.argv[4:])


if __name__ == "__main__":
    main()
