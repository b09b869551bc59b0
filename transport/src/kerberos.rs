//! Kerberos plumbing around `sspi`'s Kerberos client: naming the KDC and the client principal,
//! and answering the KDC requests the security package yields (Kerberos over TCP, RFC 4120
//! 7.2.2), with deadlines and typed failures.
//!
//! `sspi` builds the AS-REQ / TGS-REQ itself and hands each one out as a
//! [`sspi::NetworkRequest`] whose data already carries the 4-byte big-endian length prefix of
//! the TCP transport; the reply is given back the same way (prefix included).

use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::error::{KdcError, TransportError};

/// The Kerberos port.
const KDC_PORT: u16 = 88;
/// Largest KDC reply accepted (tickets with a large PAC stay far below this).
const MAX_KDC_REPLY: usize = 1024 * 1024;

/// KRB-ERROR codes (RFC 4120 7.5.9) that name a cause the user can act on.
const KDC_ERR_C_PRINCIPAL_UNKNOWN: u32 = 6;
const KDC_ERR_S_PRINCIPAL_UNKNOWN: u32 = 7;
const KDC_ERR_PREAUTH_FAILED: u32 = 24;
const KDC_ERR_PREAUTH_REQUIRED: u32 = 25;
const KRB_AP_ERR_SKEW: u32 = 37;
const KDC_ERR_CLIENT_REVOKED: u32 = 18;
const KDC_ERR_KEY_EXPIRED: u32 = 23;
const KDC_ERR_ETYPE_NOSUPP: u32 = 14;

/// A client principal split into its name and realm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Principal {
    pub name: String,
    pub realm: String,
}

impl std::fmt::Display for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.name, self.realm)
    }
}

/// `alice@REALM`, `REALM\alice`, or `alice` with `default_realm` (krb5.conf's). The realm is
/// upper-cased, as Windows domains' realms are.
pub(crate) fn principal(
    user: &str,
    default_realm: Option<String>,
) -> Result<Principal, TransportError> {
    let user = user.trim();
    let (name, realm) = if let Some((name, realm)) = user.rsplit_once('@') {
        (name, Some(realm.to_owned()))
    } else if let Some((realm, name)) = user.split_once('\\') {
        (name, Some(realm.to_owned()))
    } else {
        (user, default_realm)
    };
    let realm = realm.filter(|r| !r.trim().is_empty()).ok_or_else(|| {
        TransportError::Config(format!(
            "kerberos needs the realm of user {user:?}: give it as {user}@REALM (or set default_realm in krb5.conf)"
        ))
    })?;
    if name.is_empty() {
        return Err(TransportError::Config("kerberos needs a user name".into()));
    }
    Ok(Principal {
        name: name.to_owned(),
        realm: realm.trim().to_ascii_uppercase(),
    })
}

/// The krb5.conf files MIT would read: `KRB5_CONFIG` (a colon-separated list), else
/// `/etc/krb5.conf`.
fn krb5_conf_files(env: &dyn Fn(&str) -> Option<String>) -> Vec<PathBuf> {
    match env("KRB5_CONFIG").filter(|v| !v.trim().is_empty()) {
        Some(list) => list
            .split(':')
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .collect(),
        None => vec![PathBuf::from("/etc/krb5.conf")],
    }
}

/// What krb5.conf says about realms: `[libdefaults] default_realm` and each realm's first
/// `kdc`. A small reader for the common layout, not a full profile parser.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Krb5Conf {
    pub default_realm: Option<String>,
    pub kdcs: Vec<(String, String)>,
}

impl Krb5Conf {
    pub(crate) fn parse(text: &str) -> Self {
        let mut conf = Self::default();
        let mut section = String::new();
        let mut realm: Option<String> = None;
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = name.trim().to_ascii_lowercase();
                realm = None;
                continue;
            }
            if line.starts_with('}') {
                realm = None;
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let (key, value) = (key.trim(), value.trim());
            match section.as_str() {
                "libdefaults" if key.eq_ignore_ascii_case("default_realm") => {
                    conf.default_realm.get_or_insert_with(|| value.to_owned());
                }
                "realms" if value == "{" => realm = Some(key.to_owned()),
                "realms" if key.eq_ignore_ascii_case("kdc") => {
                    if let Some(r) = &realm
                        && !conf.kdcs.iter().any(|(k, _)| k == r)
                    {
                        conf.kdcs.push((r.clone(), value.to_owned()));
                    }
                }
                _ => {}
            }
        }
        conf
    }

    fn read(env: &dyn Fn(&str) -> Option<String>) -> Self {
        let mut all = Self::default();
        for file in krb5_conf_files(env) {
            if let Ok(text) = std::fs::read_to_string(&file) {
                let conf = Self::parse(&text);
                if all.default_realm.is_none() {
                    all.default_realm = conf.default_realm;
                }
                all.kdcs.extend(conf.kdcs);
            }
        }
        all
    }

    fn kdc(&self, realm: &str) -> Option<&str> {
        self.kdcs
            .iter()
            .find(|(r, _)| r.eq_ignore_ascii_case(realm))
            .map(|(_, k)| k.as_str())
    }
}

/// The default realm from krb5.conf, for a user given without one.
pub(crate) fn default_realm(env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    Krb5Conf::read(env).default_realm
}

/// `host:port` of the KDC for `realm`: the configured one, else `PSRM_KDC`, else the realm's
/// `kdc` in krb5.conf (`KRB5_CONFIG` or `/etc/krb5.conf`).
pub(crate) fn kdc_for(
    configured: Option<&str>,
    realm: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, TransportError> {
    let named = configured
        .map(str::to_owned)
        .or_else(|| env("PSRM_KDC"))
        .filter(|k| !k.trim().is_empty())
        .or_else(|| Krb5Conf::read(env).kdc(realm).map(str::to_owned))
        .ok_or_else(|| TransportError::NoKdc {
            realm: realm.to_owned(),
        })?;
    normalize_kdc(&named)
}

/// `host`, `host:port`, `tcp/host:port`, `tcp://host:port` → `host:port`.
fn normalize_kdc(named: &str) -> Result<String, TransportError> {
    let rest = named.trim();
    let rest = rest
        .strip_prefix("tcp://")
        .or_else(|| rest.strip_prefix("tcp/"))
        .unwrap_or(rest);
    if rest.contains("://") || rest.starts_with("udp/") || rest.contains('/') {
        return Err(TransportError::Config(format!(
            "kdc {named:?}: only kerberos over tcp is supported (host or host:port)"
        )));
    }
    let (host, port) = crate::config::split_host_port(rest)
        .filter(|(h, _)| !h.is_empty())
        .ok_or_else(|| TransportError::Config(format!("kdc {named:?} is not host[:port]")))?;
    let port = port.unwrap_or(KDC_PORT);
    Ok(if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    })
}

/// Answers the KDC requests of one context establishment and remembers what went wrong.
#[derive(Debug)]
pub(crate) struct KdcLink {
    /// The KDC (`host:port`) the realm's requests go to.
    pub kdc: String,
    /// Connect and reply deadline, each.
    pub timeout: Duration,
    /// A transport failure talking to the KDC (reported instead of sspi's wrapping of it).
    pub failure: Option<KdcError>,
    /// The last KRB-ERROR code the KDC answered (other than "pre-authentication required").
    pub krb_error: Option<u32>,
    /// AS-REQs sent so far.
    as_requests: usize,
}

impl KdcLink {
    pub(crate) fn new(kdc: String, timeout: Duration) -> Self {
        Self {
            kdc,
            timeout,
            failure: None,
            krb_error: None,
            as_requests: 0,
        }
    }

    /// Sends one length-prefixed Kerberos message over TCP and returns the length-prefixed
    /// reply.
    pub(crate) async fn exchange(
        &mut self,
        request: &sspi::NetworkRequest,
    ) -> sspi::Result<Vec<u8>> {
        let result = if request.protocol == sspi::NetworkProtocol::Tcp {
            let addr = match (request.url.host_str(), request.url.port()) {
                (Some(host), port) => {
                    let host = host.trim_matches(['[', ']']);
                    let port = port.unwrap_or(KDC_PORT);
                    if host.contains(':') {
                        format!("[{host}]:{port}")
                    } else {
                        format!("{host}:{port}")
                    }
                }
                (None, _) => self.kdc.clone(),
            };
            self.kdc = addr;
            tcp_exchange(&self.kdc, &request.data, self.timeout).await
        } else {
            Err(KdcError::Unreachable(format!(
                "kerberos over {:?} is not supported",
                request.protocol
            )))
        };
        let as_req = request.data.get(4) == Some(&AS_REQ_TAG);
        if as_req {
            self.as_requests += 1;
        }
        match result {
            Ok(reply) if as_req && self.as_requests == 1 && reply.get(4) == Some(&AS_REP_TAG) => {
                // sspi's first AS-REQ carries no pre-authentication, to learn the salt from
                // KDC_ERR_PREAUTH_REQUIRED, and it refuses a ticket issued without it. MIT
                // KDCs issue one when the principal lacks `requires_preauth` (their default):
                // answer sspi as a KDC requiring pre-authentication would, with the salt
                // information of that AS-REP, so that it sends the encrypted timestamp next.
                tracing::debug!(
                    "kdc issued a ticket without pre-authentication; asking again with it"
                );
                Ok(framed(&preauth_required(
                    reply.get(4..).unwrap_or_default(),
                )))
            }
            Ok(reply) => {
                if let Some(code) = krb_error_code(reply.get(4..).unwrap_or_default())
                    && code != KDC_ERR_PREAUTH_REQUIRED
                {
                    self.krb_error = Some(code);
                }
                Ok(reply)
            }
            Err(e) => {
                let message = e.to_string();
                self.failure = Some(e);
                Err(sspi::Error::new(
                    sspi::ErrorKind::NoAuthenticatingAuthority,
                    message,
                ))
            }
        }
    }

    /// The typed error for a failed establishment: the KDC transport failure or the KDC's
    /// refusal when there was one, else `fallback` (sspi's own error).
    pub(crate) fn explain(
        &mut self,
        principal: &Principal,
        spn: &str,
        fallback: TransportError,
    ) -> TransportError {
        let error = if let Some(failure) = self.failure.take() {
            failure
        } else if let Some(code) = self.krb_error.take() {
            match code {
                KDC_ERR_PREAUTH_FAILED => KdcError::WrongPassword {
                    principal: principal.to_string(),
                },
                KDC_ERR_C_PRINCIPAL_UNKNOWN => KdcError::UnknownPrincipal {
                    principal: principal.to_string(),
                },
                KDC_ERR_S_PRINCIPAL_UNKNOWN => KdcError::UnknownService {
                    spn: spn.to_owned(),
                },
                KRB_AP_ERR_SKEW => KdcError::ClockSkew,
                KDC_ERR_CLIENT_REVOKED => KdcError::Revoked {
                    principal: principal.to_string(),
                },
                KDC_ERR_KEY_EXPIRED => KdcError::PasswordExpired {
                    principal: principal.to_string(),
                },
                KDC_ERR_ETYPE_NOSUPP => KdcError::Other {
                    code,
                    detail: "no common encryption type (psrm uses aes256/aes128-cts-hmac-sha1-96)"
                        .into(),
                },
                code => KdcError::Other {
                    code,
                    detail: match fallback {
                        TransportError::Security(s) => s,
                        other => other.to_string(),
                    },
                },
            }
        } else {
            return fallback;
        };
        TransportError::Kdc {
            kdc: self.kdc.clone(),
            error,
        }
    }
}

async fn tcp_exchange(addr: &str, data: &[u8], timeout: Duration) -> Result<Vec<u8>, KdcError> {
    let mut tcp = tokio::time::timeout(timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| KdcError::Timeout(timeout))?
        .map_err(|e| KdcError::Unreachable(e.to_string()))?;
    let io = |e: std::io::Error| KdcError::Unreachable(e.to_string());
    let exchange = async {
        tcp.write_all(data).await.map_err(io)?;
        let mut len = [0u8; 4];
        tcp.read_exact(&mut len).await.map_err(io)?;
        let n = usize::try_from(u32::from_be_bytes(len)).unwrap_or(usize::MAX);
        if n > MAX_KDC_REPLY {
            return Err(KdcError::Unreachable(format!(
                "kdc reply of {n} bytes is too large"
            )));
        }
        let mut reply = Vec::with_capacity(n + 4);
        reply.extend_from_slice(&len);
        reply.resize(n + 4, 0);
        tcp.read_exact(reply.get_mut(4..).unwrap_or_default())
            .await
            .map_err(io)?;
        Ok(reply)
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| KdcError::Timeout(timeout))?
}

/// `[APPLICATION 10]` AS-REQ and `[APPLICATION 11]` AS-REP.
const AS_REQ_TAG: u8 = 0x6a;
const AS_REP_TAG: u8 = 0x6b;

/// A DER TLV.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        let significant = bytes.get(skip..).unwrap_or_default();
        out.push(0x80 | significant.len() as u8);
        out.extend_from_slice(significant);
    }
    out.extend_from_slice(content);
    out
}

/// The 4-byte length prefix of Kerberos over TCP.
fn framed(message: &[u8]) -> Vec<u8> {
    let mut out = u32::try_from(message.len())
        .unwrap_or(u32::MAX)
        .to_be_bytes()
        .to_vec();
    out.extend_from_slice(message);
    out
}

/// The content of field `[n]` of the SEQUENCE inside an `[APPLICATION x]` message.
fn app_field(message: &[u8], n: u8) -> Option<&[u8]> {
    let (_, start, _) = der_header(message, 0)?;
    let (seq, mut pos, len) = der_header(message, start)?;
    if seq != 0x30 {
        return None;
    }
    let end = pos.checked_add(len)?.min(message.len());
    while pos < end {
        let (field, content, flen) = der_header(message, pos)?;
        let next = content.checked_add(flen)?;
        if field == 0xa0 | n {
            return message.get(content..next);
        }
        pos = next;
    }
    None
}

/// A KRB-ERROR KDC_ERR_PREAUTH_REQUIRED for the realm of `as_rep`, whose e-data repeats the
/// AS-REP's pre-authentication data (PA-ETYPE-INFO2: the salt and enctype of the user's key).
fn preauth_required(as_rep: &[u8]) -> Vec<u8> {
    let int = |v: u8| tlv(0x02, &[v]);
    let realm = app_field(as_rep, 3)
        .map(<[u8]>::to_vec)
        .unwrap_or_else(|| tlv(0x1b, b""));
    let realm_name = der_header(&realm, 0)
        .and_then(|(_, at, len)| realm.get(at..at.checked_add(len)?))
        .unwrap_or_default()
        .to_vec();
    let sname = tlv(
        0x30,
        &[
            tlv(0xa0, &int(2)),
            tlv(
                0xa1,
                &tlv(
                    0x30,
                    &[tlv(0x1b, b"krbtgt"), tlv(0x1b, &realm_name)].concat(),
                ),
            ),
        ]
        .concat(),
    );
    let mut fields = [
        tlv(0xa0, &int(5)),
        tlv(0xa1, &int(30)),
        tlv(0xa4, &tlv(0x18, b"19700101000000Z")),
        tlv(0xa5, &int(0)),
        tlv(0xa6, &int(KDC_ERR_PREAUTH_REQUIRED as u8)),
        tlv(0xa9, &realm),
        tlv(0xaa, &sname),
    ]
    .concat();
    if let Some(padata) = app_field(as_rep, 2) {
        fields.extend(tlv(0xac, &tlv(0x04, padata)));
    }
    tlv(0x7e, &tlv(0x30, &fields))
}

/// One DER header: (tag, content range start, content length).
fn der_header(data: &[u8], pos: usize) -> Option<(u8, usize, usize)> {
    let tag = *data.get(pos)?;
    let first = *data.get(pos + 1)?;
    if first < 0x80 {
        return Some((tag, pos + 2, usize::from(first)));
    }
    let count = usize::from(first & 0x7f);
    if count == 0 || count > 4 {
        return None;
    }
    let mut len = 0usize;
    for i in 0..count {
        len = (len << 8) | usize::from(*data.get(pos + 2 + i)?);
    }
    Some((tag, pos + 2 + count, len))
}

/// The `error-code` of a KRB-ERROR (`[APPLICATION 30] SEQUENCE { ... [6] Int32 ... }`), or
/// `None` when `message` is something else.
pub(crate) fn krb_error_code(message: &[u8]) -> Option<u32> {
    let (tag, start, _) = der_header(message, 0)?;
    if tag != 0x7e {
        return None;
    }
    let (seq, mut pos, len) = der_header(message, start)?;
    if seq != 0x30 {
        return None;
    }
    let end = pos.checked_add(len)?.min(message.len());
    while pos < end {
        let (field, content, flen) = der_header(message, pos)?;
        if field == 0xa6 {
            let (int, at, ilen) = der_header(message, content)?;
            if int != 0x02 || ilen == 0 || ilen > 5 {
                return None;
            }
            let bytes = message.get(at..at.checked_add(ilen)?)?;
            let mut v: i64 = if bytes.first()? & 0x80 != 0 { -1 } else { 0 };
            for b in bytes {
                v = (v << 8) | i64::from(*b);
            }
            return u32::try_from(v).ok();
        }
        pos = content.checked_add(flen)?;
    }
    None
}

/// The readers of one KDC reply (without the TCP length prefix), for the fuzz targets: the
/// KRB-ERROR code, and for an AS-REP the PREAUTH_REQUIRED error synthesized from it, which
/// must read back as that error carrying the AS-REP's realm and pre-authentication data.
pub(crate) fn check_kdc_reply(reply: &[u8]) {
    let _ = krb_error_code(reply);
    if reply.first() != Some(&AS_REP_TAG) {
        return;
    }
    let error = preauth_required(reply);
    assert_eq!(krb_error_code(&error), Some(KDC_ERR_PREAUTH_REQUIRED));
    if let Some(realm) = app_field(reply, 3) {
        assert_eq!(app_field(&error, 9), Some(realm));
    }
    if let Some(padata) = app_field(reply, 2) {
        assert_eq!(app_field(&error, 12), Some(&tlv(0x04, padata)[..]));
    }
    assert_eq!(framed(&error).get(4..), Some(&error[..]));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn principals() {
        let p = principal("alice@psrm.test", None).unwrap();
        assert_eq!((p.name.as_str(), p.realm.as_str()), ("alice", "PSRM.TEST"));
        assert_eq!(p.to_string(), "alice@PSRM.TEST");
        let p = principal("PSRM.TEST\\bob", None).unwrap();
        assert_eq!(p.to_string(), "bob@PSRM.TEST");
        let p = principal("carol", Some("EXAMPLE.COM".into())).unwrap();
        assert_eq!(p.to_string(), "carol@EXAMPLE.COM");
        let e = principal("carol", None).unwrap_err().to_string();
        assert!(e.contains("carol@REALM"), "{e}");
        assert!(principal("@R", None).is_err());
    }

    #[test]
    fn krb5_conf_realms_and_kdcs() {
        let text = "[libdefaults]\n  default_realm = PSRM.TEST\n# c\n[realms]\n  PSRM.TEST = {\n    kdc = 127.0.0.1:8888\n    kdc = other:88\n  }\n  B.EXAMPLE = {\n    admin_server = x\n    kdc = tcp/kdc.b.example\n  }\n[domain_realm]\n  kdc = not-a-kdc\n";
        let conf = Krb5Conf::parse(text);
        assert_eq!(conf.default_realm.as_deref(), Some("PSRM.TEST"));
        assert_eq!(conf.kdc("psrm.test"), Some("127.0.0.1:8888"));
        assert_eq!(conf.kdc("B.EXAMPLE"), Some("tcp/kdc.b.example"));
        assert_eq!(conf.kdc("C"), None);
        assert_eq!(conf.kdcs.len(), 2);
    }

    #[test]
    fn kdc_resolution_order() {
        let dir = std::env::temp_dir().join(format!("psrm-krb5conf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("krb5.conf");
        std::fs::write(&file, "[realms]\nR.TEST = {\n kdc = conf-kdc\n}\n").unwrap();
        let path = file.display().to_string();
        let conf_env = move |k: &str| (k == "KRB5_CONFIG").then(|| path.clone());
        assert_eq!(
            kdc_for(Some("given:99"), "R.TEST", &conf_env).unwrap(),
            "given:99"
        );
        assert_eq!(kdc_for(None, "R.TEST", &conf_env).unwrap(), "conf-kdc:88");
        let psrm_env = |k: &str| (k == "PSRM_KDC").then(|| "tcp://[::1]:750".to_owned());
        assert_eq!(kdc_for(None, "R.TEST", &psrm_env).unwrap(), "[::1]:750");
        let e = kdc_for(None, "NOWHERE.TEST", &conf_env).unwrap_err();
        assert!(matches!(e, TransportError::NoKdc { .. }), "{e}");
        let msg = e.to_string();
        assert!(
            msg.contains("NOWHERE.TEST") && msg.contains("--kdc") && msg.contains("PSRM_KDC"),
            "{msg}"
        );
        assert!(kdc_for(Some("udp/x:88"), "R", &no_env).is_err());
        assert!(kdc_for(Some("https://proxy/kdc"), "R", &no_env).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn krb_error_codes_are_read_from_der() {
        // KRB-ERROR { pvno 5, msg-type 30, stime, susec, error-code 24, ... } (abridged).
        let msg = [
            0x7e, 0x17, 0x30, 0x15, 0xa0, 0x03, 0x02, 0x01, 0x05, 0xa1, 0x03, 0x02, 0x01, 0x1e,
            0xa5, 0x03, 0x02, 0x01, 0x00, 0xa6, 0x04, 0x02, 0x02, 0x00, 0x18,
        ];
        assert_eq!(krb_error_code(&msg), Some(24));
        // An AS-REP ([APPLICATION 11]) and junk are not errors.
        assert_eq!(krb_error_code(&[0x6b, 0x03, 0x30, 0x01, 0x00]), None);
        for junk in [
            &[][..],
            &[0x7e],
            &[0x7e, 0x85, 1, 2, 3, 4, 5],
            &[0x7e, 0x02, 0x30, 0x7f],
        ] {
            assert_eq!(krb_error_code(junk), None);
        }
    }

    #[test]
    fn synthesized_preauth_required_error_carries_the_as_rep_salt() {
        // AS-REP { pvno, msg-type 11, padata [2] { PA-ETYPE-INFO2 }, crealm [3] "R.TEST", ... }.
        let padata = tlv(
            0x30,
            &tlv(
                0x30,
                &[tlv(0xa1, &tlv(0x02, &[19])), tlv(0xa2, &tlv(0x04, b"x"))].concat(),
            ),
        );
        let as_rep = tlv(
            0x6b,
            &tlv(
                0x30,
                &[
                    tlv(0xa0, &tlv(0x02, &[5])),
                    tlv(0xa1, &tlv(0x02, &[11])),
                    tlv(0xa2, &padata),
                    tlv(0xa3, &tlv(0x1b, b"R.TEST")),
                ]
                .concat(),
            ),
        );
        let error = preauth_required(&as_rep);
        assert_eq!(krb_error_code(&error), Some(KDC_ERR_PREAUTH_REQUIRED));
        assert_eq!(app_field(&error, 9), Some(&tlv(0x1b, b"R.TEST")[..]));
        assert_eq!(app_field(&error, 12), Some(&tlv(0x04, &padata)[..]));
        let long = tlv(0x04, &[7; 300]);
        assert_eq!(&long[..4], &[0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(framed(b"abc"), b"\0\0\0\x03abc");
    }

    #[tokio::test]
    async fn unreachable_kdc_is_typed() {
        // A port nothing listens on: bind, note the port, close.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut link = KdcLink::new(format!("127.0.0.1:{port}"), Duration::from_secs(2));
        let request = sspi::NetworkRequest {
            protocol: sspi::NetworkProtocol::Tcp,
            url: format!("tcp://127.0.0.1:{port}").parse().unwrap(),
            data: vec![0, 0, 0, 1, 0],
        };
        assert!(link.exchange(&request).await.is_err());
        let p = principal("alice@R", None).unwrap();
        let e = link.explain(&p, "HTTP/h", TransportError::Security("x".into()));
        assert!(
            matches!(
                e,
                TransportError::Kdc {
                    error: KdcError::Unreachable(_),
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains(&format!("127.0.0.1:{port}")), "{e}");
    }
}
