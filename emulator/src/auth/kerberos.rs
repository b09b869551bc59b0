//! The Kerberos acceptor: one AP-REQ from the client, checked against the configured keytab,
//! answered with an AP-REP when the client asks for mutual authentication.
//!
//! sspi's Kerberos server does the RFC 4120 checks (authenticator decryption, client name in
//! ticket and authenticator, clock skew, ticket times) and builds the AP-REP with a fresh
//! acceptor subkey; its context then wraps and unwraps the RFC 4121 tokens that seal the
//! HTTP bodies. What it lacks is done here first, over picky-krb:
//!
//! - the token framing: a raw GSS krb5 token (`Authorization: Kerberos`, or `Negotiate` as
//!   pyspnego sends for `protocol='kerberos'`) or SPNEGO whose first mechanism is krb5 or
//!   MS-krb5 (gokrb5, Windows); the answer uses the client's framing;
//! - the key: the keytab entry matching the ticket's server principal, realm, enctype and key
//!   version (sspi takes one key per name);
//! - the client: the ticket is decrypted here to read the whole client principal (sspi keeps
//!   only its first component), which must be `user@REALM` with the keytab's realm and a
//!   configured user name;
//! - replays: sspi remembers authenticators per context only; a process-wide cache refuses
//!   an authenticator seen before on any connection, as an MIT or Windows acceptor does.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use picky_krb::constants::key_usages::{AP_REQ_AUTHENTICATOR, TICKET_REP};
use picky_krb::crypto::CipherSuite;
use picky_krb::data_types::{Authenticator, EncTicketPart, PrincipalName};
use picky_krb::messages::ApReq;
use sspi::kerberos::ServerProperties;
use sspi::{KdcResolution, Kerberos, KerberosConfig, Secret, SecurityStatus};

use super::spnego;
use crate::config::{Config, User};
use crate::keytab::KeytabEntry;

/// `1.2.840.113554.1.2.2`, Kerberos V5 (RFC 1964), as DER content bytes.
pub(crate) const KRB5_OID: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02];
/// `1.2.840.48018.1.2.2`, the OID Windows announces for Kerberos.
pub(crate) const MS_KRB5_OID: &[u8] = &[0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02];
/// GSS krb5 token id of an AP-REQ.
const AP_REQ_TOKEN_ID: [u8; 2] = [0x01, 0x00];
/// aes256-cts-hmac-sha1-96: the session key type sspi's acceptor builds AP-REPs and subkeys
/// with.
const AES256: u8 = 18;

/// How the client framed its token; the answer is framed the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// A bare GSS krb5 token.
    Raw,
    /// SPNEGO; the mechanism (OID content bytes) to name in the answer.
    Spnego(&'static [u8]),
}

/// A client's first Kerberos token.
#[derive(Debug)]
pub(crate) struct Offer<'a> {
    pub(crate) framing: Framing,
    /// The GSS-framed AP-REQ.
    gss_token: &'a [u8],
    /// The AP-REQ itself (DER).
    ap_req: &'a [u8],
}

/// Recognises a Kerberos first token (raw or inside SPNEGO); `None` for anything else.
pub(crate) fn offer(token: &[u8]) -> Option<Offer<'_>> {
    if let Some(ap_req) = gss_ap_req(token) {
        return Some(Offer {
            framing: Framing::Raw,
            gss_token: token,
            ap_req,
        });
    }
    let init = spnego::parse_init(token)?;
    let mech = if init.first_mech == KRB5_OID {
        KRB5_OID
    } else if init.first_mech == MS_KRB5_OID {
        MS_KRB5_OID
    } else {
        return None;
    };
    let gss_token = init.mech_token?;
    let ap_req = gss_ap_req(gss_token)?;
    Some(Offer {
        framing: Framing::Spnego(mech),
        gss_token,
        ap_req,
    })
}

/// `[APPLICATION 0] { OID krb5, 01 00, AP-REQ }` → the AP-REQ bytes.
fn gss_ap_req(token: &[u8]) -> Option<&[u8]> {
    let (tag, inner, rest) = spnego::tlv(token)?;
    if tag != 0x60 || !rest.is_empty() {
        return None;
    }
    let (tag, oid, rest) = spnego::tlv(inner)?;
    if tag != 0x06 || (oid != KRB5_OID && oid != MS_KRB5_OID) {
        return None;
    }
    let ap_req = rest.strip_prefix(&AP_REQ_TOKEN_ID[..])?;
    // An AP-REQ is `[APPLICATION 14]`.
    (ap_req.first() == Some(&0x6e)).then_some(ap_req)
}

/// Why an AP-REQ was refused (logged; the client sees a bare 401, as from Windows).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum Refusal {
    #[error("malformed ap-req")]
    Malformed,
    #[error("no key in the keytab for {0}")]
    NoKey(String),
    #[error("ticket does not decrypt with the service key")]
    Ticket,
    #[error("session key type {0} is not aes256-cts-hmac-sha1-96")]
    Enctype(String),
    #[error("client {0} is not of the service's realm")]
    ForeignRealm(String),
    #[error("client {0} is not a configured user")]
    UnknownUser(String),
    #[error("authenticator replayed")]
    Replay,
    #[error("ap-req refused by the acceptor (bad authenticator, clock skew or expired ticket)")]
    Acceptor,
}

/// An accepted AP-REQ.
pub(crate) struct Accepted {
    /// The established context (wraps / unwraps).
    pub(crate) ctx: Box<Kerberos>,
    /// The configured user the client principal maps to.
    pub(crate) user: User,
    /// The answer token, framed as the client's (`None`: nothing to send).
    pub(crate) reply: Option<Vec<u8>>,
}

/// Checks an AP-REQ and establishes the context.
pub(crate) fn accept(config: &Config, offer: &Offer<'_>) -> Result<Accepted, Refusal> {
    let ap_req: ApReq = picky_asn1_der::from_bytes(offer.ap_req).map_err(|_| Refusal::Malformed)?;
    let ticket = &ap_req.0.ticket.0.0;
    let realm = ticket.realm.0.to_string();
    let sname = names(&ticket.sname.0);
    let service = format!("{}@{realm}", sname.join("/"));
    let enc = &ticket.enc_part.0;
    let etype = int(&enc.etype.0.0).ok_or(Refusal::Malformed)?;
    let kvno = enc.kvno.0.as_ref().and_then(|k| int(&k.0.0));
    let kerberos = &config.kerberos;
    let mut candidates: Vec<&KeytabEntry> = kerberos
        .keys
        .entries
        .iter()
        .filter(|e| {
            e.realm == realm
                && e.components == sname
                && i64::from(e.enctype) == etype
                && kerberos.accepts(e)
        })
        .collect();
    // The ticket's key version first, then the newest.
    candidates.sort_by_key(|e| (Some(i64::from(e.kvno)) != kvno, std::cmp::Reverse(e.kvno)));
    if candidates.is_empty() {
        return Err(Refusal::NoKey(service));
    }
    let cipher = CipherSuite::try_from(enc.etype.0.0.as_slice())
        .map_err(|_| Refusal::Malformed)?
        .cipher();
    let (key, part) = candidates
        .iter()
        .find_map(|e| {
            let plain = cipher.decrypt(&e.key, TICKET_REP, &enc.cipher.0.0).ok()?;
            let part: EncTicketPart = picky_asn1_der::from_bytes(&plain).ok()?;
            Some((e.key.clone(), part))
        })
        .ok_or(Refusal::Ticket)?;
    let part = part.0;
    let session_type = int(&part.key.0.key_type.0.0).unwrap_or(-1);
    if session_type != i64::from(AES256) {
        return Err(Refusal::Enctype(session_type.to_string()));
    }
    let cname = names(&part.cname.0);
    let crealm = part.crealm.0.to_string();
    let client = format!("{}@{crealm}", cname.join("/"));
    if crealm != realm {
        return Err(Refusal::ForeignRealm(client));
    }
    let [account] = cname.as_slice() else {
        return Err(Refusal::UnknownUser(client));
    };
    let user = config
        .users
        .iter()
        .find(|u| u.name.eq_ignore_ascii_case(account))
        .cloned()
        .ok_or_else(|| Refusal::UnknownUser(client.clone()))?;

    // The authenticator's identity, for the process-wide replay cache.
    let session_key = &part.key.0.key_value.0.0;
    let auth_enc = &ap_req.0.authenticator.0;
    let replay_key = CipherSuite::try_from(auth_enc.etype.0.0.as_slice())
        .ok()
        .and_then(|c| {
            c.cipher()
                .decrypt(session_key, AP_REQ_AUTHENTICATOR, &auth_enc.cipher.0.0)
                .ok()
        })
        .and_then(|plain| picky_asn1_der::from_bytes::<Authenticator>(&plain).ok())
        .and_then(|a| {
            let mut id = client.clone().into_bytes();
            id.extend(picky_asn1_der::to_vec(&a.0.ctime).ok()?);
            id.extend(picky_asn1_der::to_vec(&a.0.cusec).ok()?);
            id.extend(service.as_bytes());
            Some(id)
        })
        .ok_or(Refusal::Acceptor)?;

    let skew = Duration::from_secs(kerberos.max_clock_skew_secs);
    let sname_refs: Vec<&str> = sname.iter().map(String::as_str).collect();
    let properties = ServerProperties::new(&sname_refs, None, skew, Some(Secret::from(key)))
        .map_err(|_| Refusal::Malformed)?;
    let sspi_config = KerberosConfig {
        kdc_resolution: KdcResolution::KdcUrl(None),
        client_computer_name: config.computer_name.clone(),
    };
    let mut ctx = Kerberos::new_server_from_config(sspi_config, properties)
        .map(Box::new)
        .map_err(|_| Refusal::Acceptor)?;
    let (status, out) =
        super::accept(&mut *ctx, &mut None, offer.gss_token).map_err(|()| Refusal::Acceptor)?;
    if status != SecurityStatus::Ok {
        return Err(Refusal::Acceptor);
    }
    if !remember(replay_key, skew) {
        return Err(Refusal::Replay);
    }
    let mutual = !out.is_empty();
    let reply = match offer.framing {
        Framing::Raw => mutual.then_some(out),
        Framing::Spnego(mech) => Some(spnego::encode_resp(&spnego::NegTokenResp {
            neg_state: Some(spnego::ACCEPT_COMPLETED),
            supported_mech: Some(mech),
            response_token: mutual.then_some(out.as_slice()),
            mech_list_mic: None,
        })),
    };
    tracing::debug!(client = %client, service = %service, mutual, "kerberos logon");
    Ok(Accepted { ctx, user, reply })
}

/// Records an authenticator; `false` when it was seen within the last two skews.
fn remember(id: Vec<u8>, skew: Duration) -> bool {
    static SEEN: OnceLock<Mutex<HashMap<Vec<u8>, Instant>>> = OnceLock::new();
    let mut seen = SEEN
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    let now = Instant::now();
    let keep = skew.saturating_mul(2);
    seen.retain(|_, at| now.duration_since(*at) <= keep);
    if seen.contains_key(&id) {
        return false;
    }
    seen.insert(id, now);
    true
}

fn names(name: &PrincipalName) -> Vec<String> {
    name.name_string.0.0.iter().map(|s| s.to_string()).collect()
}

/// A small DER INTEGER (big-endian two's complement) as i64.
fn int(bytes: &[u8]) -> Option<i64> {
    if bytes.is_empty() || bytes.len() > 8 {
        return None;
    }
    let negative = bytes.first().is_some_and(|b| b & 0x80 != 0);
    let init = if negative { -1i64 } else { 0 };
    Some(bytes.iter().fold(init, |acc, b| (acc << 8) | i64::from(*b)))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn wrap(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        if content.len() < 0x80 {
            out.push(u8::try_from(content.len()).unwrap());
        } else {
            out.push(0x82);
            out.extend(u16::try_from(content.len()).unwrap().to_be_bytes());
        }
        out.extend_from_slice(content);
        out
    }

    fn gss(oid: &[u8], ap_req: &[u8]) -> Vec<u8> {
        let mut inner = wrap(0x06, oid);
        inner.extend(AP_REQ_TOKEN_ID);
        inner.extend_from_slice(ap_req);
        wrap(0x60, &inner)
    }

    fn spnego_init(mechs: &[&[u8]], token: &[u8]) -> Vec<u8> {
        let list: Vec<u8> = mechs.iter().flat_map(|m| wrap(0x06, m)).collect();
        let mut seq = wrap(0xa0, &wrap(0x30, &list));
        seq.extend(wrap(0xa2, &wrap(0x04, token)));
        let mut app = wrap(0x06, &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x02]);
        app.extend(wrap(0xa0, &wrap(0x30, &seq)));
        wrap(0x60, &app)
    }

    #[test]
    fn recognises_raw_and_spnego_framings() {
        let ap_req = wrap(0x6e, &[0x30, 0x00]);
        let raw = gss(KRB5_OID, &ap_req);
        let o = offer(&raw).unwrap();
        assert_eq!(o.framing, Framing::Raw);
        assert_eq!(o.ap_req, ap_req.as_slice());
        let s = spnego_init(&[MS_KRB5_OID, KRB5_OID], &raw);
        assert_eq!(offer(&s).unwrap().framing, Framing::Spnego(MS_KRB5_OID));
        let s = spnego_init(&[KRB5_OID], &raw);
        assert_eq!(offer(&s).unwrap().framing, Framing::Spnego(KRB5_OID));
        // NTLM first, or a krb5 mechanism without a krb5 token: not Kerberos.
        let ntlm = [0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a];
        assert!(offer(&spnego_init(&[&ntlm, KRB5_OID], &raw)).is_none());
        assert!(offer(&spnego_init(&[KRB5_OID], b"NTLMSSP\0")).is_none());
        // Another token id (AP-REP is 02 00).
        let mut rep = wrap(0x06, KRB5_OID);
        rep.extend([2, 0]);
        rep.extend(&ap_req);
        assert!(offer(&wrap(0x60, &rep)).is_none());
    }

    #[test]
    fn integers() {
        assert_eq!(int(&[0x12]), Some(18));
        assert_eq!(int(&[0x00, 0x80]), Some(128));
        assert_eq!(int(&[0xff]), Some(-1));
        assert_eq!(int(&[]), None);
    }

    #[test]
    fn garbage_ap_req_is_refused_without_panic() {
        let config = Config::from_toml("").unwrap();
        let ap_req = wrap(0x6e, &[0x30, 0x03, 0x02, 0x01, 0x05]);
        let raw = gss(KRB5_OID, &ap_req);
        let o = offer(&raw).unwrap();
        assert!(matches!(accept(&config, &o), Err(Refusal::Malformed)));
    }

    #[test]
    fn replay_cache_refuses_a_second_sighting() {
        let id = b"alice@PSRM.TEST|test-replay".to_vec();
        assert!(remember(id.clone(), Duration::from_secs(300)));
        assert!(!remember(id, Duration::from_secs(300)));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn arbitrary_ap_reqs_never_panic(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let config = Config::from_toml("").unwrap();
            let raw = gss(KRB5_OID, &wrap(0x6e, &body));
            if let Some(o) = offer(&raw) {
                prop_assert!(accept(&config, &o).is_err());
            }
            let _ = offer(&body);
        }
    }
}
