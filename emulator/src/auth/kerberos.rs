//! The Kerberos acceptor: one AP-REQ from the client, checked against the configured keytab,
//! answered with an AP-REP when the client asks for mutual authentication, then the RFC 4121
//! wrap tokens that seal the HTTP bodies.
//!
//! All of it is done here over picky-krb's types and ciphers (sspi's Kerberos server builds
//! its AP-REP, acceptor subkey and wrap tokens with aes256 whatever the ticket's session key,
//! and flags its wrap tokens as sealed with an acceptor subkey even when none was sent):
//!
//! - the token framing: a raw GSS krb5 token (`Authorization: Kerberos`, or `Negotiate` as
//!   pyspnego sends for `protocol='kerberos'`) or SPNEGO whose first mechanism is krb5 or
//!   MS-krb5 (gokrb5, Windows); the answer uses the client's framing;
//! - the key: the keytab entry matching the ticket's server principal, realm, enctype and key
//!   version;
//! - the RFC 4120 checks: the ticket and authenticator decrypt, name the same client, the
//!   authenticator's time is within the skew and the ticket is valid now;
//! - the client: `user@REALM` with the keytab's realm and a configured user name;
//! - replays: a process-wide cache refuses an authenticator seen before on any connection, as
//!   an MIT or Windows acceptor does;
//! - the session keys: aes128- or aes256-cts-hmac-sha1-96. With mutual authentication the
//!   AP-REP is encrypted with the ticket session key and carries a fresh acceptor subkey of
//!   the initiator subkey's type (or the session key's), which then seals both ways; without
//!   it the initiator's subkey (or the session key) does, and the AcceptorSubkey flag stays
//!   clear (RFC 4121 2 and 4.2.2).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use picky_krb::constants::key_usages::{
    ACCEPTOR_SEAL, AP_REP_ENC, AP_REQ_AUTHENTICATOR, INITIATOR_SEAL, TICKET_REP,
};
use picky_krb::crypto::CipherSuite;
use picky_krb::data_types::{
    Authenticator, EncTicketPart, EncryptionKey, KerberosTime, PrincipalName,
};
use picky_krb::messages::ApReq;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

use super::spnego;
use crate::config::{Config, User};
use crate::keytab::KeytabEntry;

/// `1.2.840.113554.1.2.2`, Kerberos V5 (RFC 1964), as DER content bytes.
pub(crate) const KRB5_OID: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02];
/// `1.2.840.48018.1.2.2`, the OID Windows announces for Kerberos.
pub(crate) const MS_KRB5_OID: &[u8] = &[0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02];
/// GSS krb5 token id of an AP-REQ.
const AP_REQ_TOKEN_ID: [u8; 2] = [0x01, 0x00];
/// GSS krb5 token id of an AP-REP.
const AP_REP_TOKEN_ID: [u8; 2] = [0x02, 0x00];
/// RFC 4121 wrap token id.
const WRAP_TOKEN_ID: [u8; 2] = [0x05, 0x04];
/// Wrap token flags (RFC 4121 4.2.2).
const SENT_BY_ACCEPTOR: u8 = 0x01;
const SEALED: u8 = 0x02;
const ACCEPTOR_SUBKEY: u8 = 0x04;
/// The rotation WinRM's framing expects (MS-KILE 3.4.5.4.1): the encrypted header copy and
/// the checksum move to the front.
const RRC: u16 = 28;
/// The header part of a sealed body as WinRM frames it: the 16-byte token header, the
/// rotated 28 bytes and the 16-byte confounder; the rest is as long as the plaintext.
const WRAP_HEADER_LEN: usize = 16 + RRC as usize + 16;
/// ap-options mutual-required (RFC 4120 5.5.1: bit 2 of the first octet).
const MUTUAL_REQUIRED: u8 = 0x20;

/// How the client framed its token; the answer is framed the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// A bare GSS krb5 token.
    Raw,
    /// SPNEGO; the mechanism (OID content bytes) to name in the answer.
    Spnego(&'static [u8]),
}

/// A client's Kerberos token.
#[derive(Debug)]
pub(crate) struct Offer<'a> {
    pub(crate) framing: Framing,
    /// The AP-REQ itself (DER).
    ap_req: &'a [u8],
}

/// Recognises a Kerberos first token (raw or inside SPNEGO); `None` for anything else.
pub(crate) fn offer(token: &[u8]) -> Option<Offer<'_>> {
    if let Some(ap_req) = gss_ap_req(token) {
        return Some(Offer {
            framing: Framing::Raw,
            ap_req,
        });
    }
    let init = spnego::parse_init(token)?;
    let mech = krb5_mech(init.first_mech)?;
    let ap_req = gss_ap_req(init.mech_token?)?;
    Some(Offer {
        framing: Framing::Spnego(mech),
        ap_req,
    })
}

/// The AP-REQ that follows an accept-incomplete naming `mech`: a NegTokenResp whose
/// responseToken is the GSS krb5 token.
pub(crate) fn offer_in_resp<'a>(
    resp: &spnego::NegTokenResp<'a>,
    mech: &'static [u8],
) -> Option<Offer<'a>> {
    let ap_req = gss_ap_req(resp.response_token?)?;
    Some(Offer {
        framing: Framing::Spnego(mech),
        ap_req,
    })
}

/// krb5 or MS-krb5 as the static OID to answer with; `None` for other mechanisms.
pub(crate) fn krb5_mech(oid: &[u8]) -> Option<&'static [u8]> {
    if oid == KRB5_OID {
        Some(KRB5_OID)
    } else if oid == MS_KRB5_OID {
        Some(MS_KRB5_OID)
    } else {
        None
    }
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
    #[error("key type {0} is not aes128- or aes256-cts-hmac-sha1-96")]
    Enctype(String),
    #[error("client {0} is not of the service's realm")]
    ForeignRealm(String),
    #[error("client {0} is not a configured user")]
    UnknownUser(String),
    #[error("authenticator does not decrypt with the session key")]
    Authenticator,
    #[error("ticket and authenticator name different clients")]
    ClientMismatch,
    #[error("authenticator time is off by more than the allowed skew")]
    Skew,
    #[error("ticket is not yet valid or has expired")]
    TicketTime,
    #[error("authenticator replayed")]
    Replay,
}

/// An accepted AP-REQ.
pub(crate) struct Accepted {
    /// The established context (wraps / unwraps).
    pub(crate) ctx: Box<Session>,
    /// The configured user the client principal maps to.
    pub(crate) user: User,
    /// The answer token, framed as the client's (`None`: nothing to send).
    pub(crate) reply: Option<Vec<u8>>,
}

/// Checks an AP-REQ and establishes the context.
pub(crate) fn accept(config: &Config, offer: &Offer<'_>) -> Result<Accepted, Refusal> {
    let ap_req: ApReq = picky_asn1_der::from_bytes(offer.ap_req).map_err(|_| Refusal::Malformed)?;
    let ap_req = &ap_req.0;
    if int(&ap_req.pvno.0.0) != Some(5) || int(&ap_req.msg_type.0.0) != Some(14) {
        return Err(Refusal::Malformed);
    }
    let ticket = &ap_req.ticket.0.0;
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
    let part = candidates
        .iter()
        .find_map(|e| {
            let plain = cipher.decrypt(&e.key, TICKET_REP, &enc.cipher.0.0).ok()?;
            picky_asn1_der::from_bytes::<EncTicketPart>(&plain).ok()
        })
        .ok_or(Refusal::Ticket)?
        .0;
    let session = SessionKey::from_asn1(&part.key.0)?;
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

    // The authenticator, under the session key (and of its type).
    let auth_enc = &ap_req.authenticator.0;
    if int(&auth_enc.etype.0.0) != Some(session.etype) {
        return Err(Refusal::Authenticator);
    }
    let auth = session
        .suite
        .cipher()
        .decrypt(&session.key, AP_REQ_AUTHENTICATOR, &auth_enc.cipher.0.0)
        .ok()
        .and_then(|plain| picky_asn1_der::from_bytes::<Authenticator>(&plain).ok())
        .ok_or(Refusal::Authenticator)?
        .0;
    if auth.crealm.0 != part.crealm.0 || auth.cname.0 != part.cname.0 {
        return Err(Refusal::ClientMismatch);
    }
    let skew = Duration::from_secs(kerberos.max_clock_skew_secs);
    let skew_secs = i64::try_from(kerberos.max_clock_skew_secs).unwrap_or(i64::MAX);
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_secs()).ok())
        .unwrap_or(0);
    let ctime = unix(&auth.ctime.0).ok_or(Refusal::Malformed)?;
    if ctime.abs_diff(now) > kerberos.max_clock_skew_secs {
        return Err(Refusal::Skew);
    }
    let start = match part.starttime.0.as_ref() {
        Some(t) => unix(&t.0),
        None => unix(&part.auth_time.0),
    }
    .ok_or(Refusal::Malformed)?;
    let end = unix(&part.endtime.0).ok_or(Refusal::Malformed)?;
    if start > now.saturating_add(skew_secs) || now > end.saturating_add(skew_secs) {
        return Err(Refusal::TicketTime);
    }
    let mut replay_id = client.clone().into_bytes();
    replay_id.extend(picky_asn1_der::to_vec(&auth.ctime.0).map_err(|_| Refusal::Malformed)?);
    replay_id.extend(picky_asn1_der::to_vec(&auth.cusec.0).map_err(|_| Refusal::Malformed)?);
    replay_id.extend(service.as_bytes());

    let initiator_subkey = match auth.subkey.0.as_ref() {
        Some(k) => Some(SessionKey::from_asn1(&k.0)?),
        None => None,
    };
    let initiator_seq = auth
        .seq_number
        .0
        .as_ref()
        .and_then(|s| int(&s.0.0))
        .and_then(|s| u32::try_from(s & 0xffff_ffff).ok())
        .unwrap_or(0);
    let mutual = ap_req
        .ap_options
        .0
        .0
        .as_bytes()
        .get(1)
        .is_some_and(|b| b & MUTUAL_REQUIRED != 0);
    let initiator_key = initiator_subkey.unwrap_or_else(|| session.clone());

    if !remember(replay_id, skew) {
        return Err(Refusal::Replay);
    }
    let (ctx, ap_rep) = if mutual {
        let mut rng = fresh_rng();
        let mut value = vec![0; initiator_key.suite.cipher().key_size()];
        rng.fill_bytes(&mut value);
        let subkey = SessionKey {
            suite: initiator_key.suite.clone(),
            etype: initiator_key.etype,
            key: value,
        };
        let seq = rng.next_u32();
        let ap_rep = ap_rep(&session, &auth.ctime.0, &auth.cusec.0, &subkey, seq)?;
        let ctx = Session {
            acceptor_key: Some(subkey),
            initiator_key,
            send_seq: u64::from(seq),
        };
        (ctx, Some(gss_ap_rep(&ap_rep)))
    } else {
        // RFC 4121 2: without an AP-REP the acceptor's sequence numbers start at the
        // initiator's.
        let ctx = Session {
            acceptor_key: None,
            initiator_key,
            send_seq: u64::from(initiator_seq),
        };
        (ctx, None)
    };
    let reply = match offer.framing {
        Framing::Raw => ap_rep,
        Framing::Spnego(mech) => Some(spnego::encode_resp(&spnego::NegTokenResp {
            neg_state: Some(spnego::ACCEPT_COMPLETED),
            supported_mech: Some(mech),
            response_token: ap_rep.as_deref(),
            mech_list_mic: None,
        })),
    };
    tracing::debug!(
        client = %client,
        service = %service,
        mutual,
        etype = session.etype,
        "kerberos logon"
    );
    Ok(Accepted {
        ctx: Box::new(ctx),
        user,
        reply,
    })
}

/// A key and its (AES) enctype.
#[derive(Clone)]
struct SessionKey {
    suite: CipherSuite,
    etype: i64,
    key: Vec<u8>,
}

impl SessionKey {
    /// An aes128 / aes256 key of the right length; anything else is refused.
    fn from_asn1(key: &EncryptionKey) -> Result<Self, Refusal> {
        let etype = int(&key.key_type.0.0).unwrap_or(-1);
        let suite = match etype {
            17 => CipherSuite::Aes128CtsHmacSha196,
            18 => CipherSuite::Aes256CtsHmacSha196,
            _ => return Err(Refusal::Enctype(etype.to_string())),
        };
        let key = key.key_value.0.0.clone();
        if key.len() != suite.cipher().key_size() {
            return Err(Refusal::Malformed);
        }
        Ok(Self { suite, etype, key })
    }
}

/// A generator seeded from the operating system's random source.
fn fresh_rng() -> ChaCha20Rng {
    ChaCha20Rng::from_entropy()
}

/// The AP-REP (RFC 4120 5.5.2) encrypted with the ticket session key.
fn ap_rep(
    session: &SessionKey,
    ctime: &KerberosTime,
    cusec: &picky_krb::data_types::Microseconds,
    subkey: &SessionKey,
    seq: u32,
) -> Result<Vec<u8>, Refusal> {
    use spnego::wrap;
    let ctime = picky_asn1_der::to_vec(ctime).map_err(|_| Refusal::Malformed)?;
    let cusec = picky_asn1_der::to_vec(cusec).map_err(|_| Refusal::Malformed)?;
    let mut key = wrap(0xa0, &der_int(subkey.etype));
    key.extend(wrap(0xa1, &wrap(0x04, &subkey.key)));
    let mut part = wrap(0xa0, &ctime);
    part.extend(wrap(0xa1, &cusec));
    part.extend(wrap(0xa2, &wrap(0x30, &key)));
    part.extend(wrap(0xa3, &der_int(i64::from(seq))));
    // EncAPRepPart ::= [APPLICATION 27] SEQUENCE
    let part = wrap(0x7b, &wrap(0x30, &part));
    let sealed = session
        .suite
        .cipher()
        .encrypt(&session.key, AP_REP_ENC, &part)
        .map_err(|_| Refusal::Malformed)?;
    let mut enc = wrap(0xa0, &der_int(session.etype));
    enc.extend(wrap(0xa2, &wrap(0x04, &sealed)));
    let mut rep = wrap(0xa0, &der_int(5));
    rep.extend(wrap(0xa1, &der_int(15)));
    rep.extend(wrap(0xa2, &wrap(0x30, &enc)));
    // AP-REP ::= [APPLICATION 15] SEQUENCE
    Ok(wrap(0x6f, &wrap(0x30, &rep)))
}

/// `[APPLICATION 0] { OID krb5, 02 00, AP-REP }`.
fn gss_ap_rep(ap_rep: &[u8]) -> Vec<u8> {
    let mut inner = spnego::wrap(0x06, KRB5_OID);
    inner.extend(AP_REP_TOKEN_ID);
    inner.extend_from_slice(ap_rep);
    spnego::wrap(0x60, &inner)
}

/// A DER INTEGER (minimal two's complement).
fn der_int(v: i64) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let mut start = 0;
    while start < 7 {
        let (b, next) = (bytes[start], bytes[start + 1]);
        if (b == 0 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    spnego::wrap(0x02, &bytes[start..])
}

/// A KerberosTime as seconds since the Unix epoch.
fn unix(t: &KerberosTime) -> Option<i64> {
    let d = &t.0;
    let (y, m, day) = (
        i64::from(d.year()),
        i64::from(d.month()),
        i64::from(d.day()),
    );
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    // Days from the civil date (proleptic Gregorian), March-based year.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(
        days * 86_400
            + i64::from(d.hour()) * 3600
            + i64::from(d.minute()) * 60
            + i64::from(d.second()),
    )
}

/// An established Kerberos context: RFC 4121 wrap tokens (sealed, EC 0, RRC 28).
pub(crate) struct Session {
    /// The acceptor subkey sent in the AP-REP, when one was.
    acceptor_key: Option<SessionKey>,
    /// The initiator's subkey, or the ticket session key without one.
    initiator_key: SessionKey,
    /// The next sequence number to send.
    send_seq: u64,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("acceptor_subkey", &self.acceptor_key.is_some())
            .field("etype", &self.initiator_key.etype)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// The key this side seals with and its AcceptorSubkey flag.
    fn sending_key(&self) -> (&SessionKey, u8) {
        match &self.acceptor_key {
            Some(k) => (k, ACCEPTOR_SUBKEY),
            None => (&self.initiator_key, 0),
        }
    }

    /// Wraps a plaintext into (header part, encrypted data) as WinRM frames them.
    pub(crate) fn wrap(&mut self, plain: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
        let (key, subkey_flag) = self.sending_key();
        let mut header = [0u8; 16];
        header[..2].copy_from_slice(&WRAP_TOKEN_ID);
        header[2] = SENT_BY_ACCEPTOR | SEALED | subkey_flag;
        header[3] = 0xff;
        header[8..].copy_from_slice(&self.send_seq.to_be_bytes());
        let mut payload = plain.to_vec();
        payload.extend_from_slice(&header);
        let mut sealed = key
            .suite
            .cipher()
            .encrypt(&key.key, ACCEPTOR_SEAL, &payload)
            .ok()?;
        let turn = usize::from(RRC) % sealed.len().max(1);
        sealed.rotate_right(turn);
        header[6..8].copy_from_slice(&RRC.to_be_bytes());
        self.send_seq = self.send_seq.wrapping_add(1) & 0xffff_ffff;
        let mut token = header.to_vec();
        token.extend(sealed);
        let data = token.split_off(WRAP_HEADER_LEN.min(token.len()));
        Some((token, data))
    }

    /// Unwraps one sealed wrap token split as `header part | encrypted data`.
    pub(crate) fn unwrap(&mut self, head: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        let mut token = head.to_vec();
        token.extend_from_slice(sealed);
        let (header, body) = token.split_at_checked(16)?;
        let flags = *header.get(2)?;
        if header.get(..2)? != WRAP_TOKEN_ID
            || header.get(3) != Some(&0xff)
            || flags & SENT_BY_ACCEPTOR != 0
            || flags & SEALED == 0
        {
            return None;
        }
        let key = if flags & ACCEPTOR_SUBKEY != 0 {
            self.acceptor_key.as_ref()?
        } else {
            &self.initiator_key
        };
        let ec = usize::from(u16::from_be_bytes([*header.get(4)?, *header.get(5)?]));
        let rrc = usize::from(u16::from_be_bytes([*header.get(6)?, *header.get(7)?]));
        let mut body = body.to_vec();
        if body.is_empty() {
            return None;
        }
        // MS-KILE 3.4.5.4.1: Windows rotates by RRC + EC; with EC 0 (AES) the same as RFC 4121.
        let turn = (rrc + ec) % body.len();
        body.rotate_left(turn);
        let mut plain = key
            .suite
            .cipher()
            .decrypt(&key.key, INITIATOR_SEAL, &body)
            .ok()?;
        let len = plain.len().checked_sub(16 + ec)?;
        let copy = plain.get(len + ec..)?;
        // The encrypted header copy: same id, flags, EC and sequence number (its RRC is 0).
        if copy.get(..6)? != header.get(..6)? || copy.get(8..)? != header.get(8..)? {
            return None;
        }
        plain.truncate(len);
        Some(plain)
    }
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

    fn time(text: &str) -> KerberosTime {
        let mut der = vec![0x18, u8::try_from(text.len()).unwrap()];
        der.extend(text.as_bytes());
        picky_asn1_der::from_bytes(&der).unwrap()
    }

    #[test]
    fn kerberos_times_in_unix_seconds() {
        assert_eq!(unix(&time("20261122233309Z")), Some(1_795_390_389));
        assert_eq!(unix(&time("20000229120000Z")), Some(951_825_600));
        assert_eq!(unix(&time("19691231235959Z")), Some(-1));
    }

    #[test]
    fn der_integers_are_minimal() {
        assert_eq!(der_int(5), [2, 1, 5]);
        assert_eq!(der_int(128), [2, 2, 0, 128]);
        assert_eq!(der_int(-1), [2, 1, 0xff]);
        assert_eq!(der_int(0xffff_ffff), [2, 5, 0, 0xff, 0xff, 0xff, 0xff]);
        for v in [0, 17, 255, 65_536, i64::from(u32::MAX)] {
            let enc = der_int(v);
            let (_, content, _) = spnego::tlv(&enc).unwrap();
            assert_eq!(int(content), Some(v));
        }
    }

    fn key(etype: i64, byte: u8) -> SessionKey {
        let suite = if etype == 17 {
            CipherSuite::Aes128CtsHmacSha196
        } else {
            CipherSuite::Aes256CtsHmacSha196
        };
        let key = vec![byte; suite.cipher().key_size()];
        SessionKey { suite, etype, key }
    }

    /// What an initiator sends: RFC 4121 wrap token, initiator seal usage, split as WinRM does.
    fn client_wrap(key: &SessionKey, flags: u8, seq: u64, plain: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let mut header = [0u8; 16];
        header[..2].copy_from_slice(&WRAP_TOKEN_ID);
        header[2] = flags;
        header[3] = 0xff;
        header[8..].copy_from_slice(&seq.to_be_bytes());
        let mut payload = plain.to_vec();
        payload.extend(header);
        let mut sealed = key
            .suite
            .cipher()
            .encrypt(&key.key, INITIATOR_SEAL, &payload)
            .unwrap();
        sealed.rotate_right(28);
        header[6..8].copy_from_slice(&RRC.to_be_bytes());
        let mut token = header.to_vec();
        token.extend(sealed);
        let data = token.split_off(WRAP_HEADER_LEN);
        (token, data)
    }

    /// What an initiator does with an acceptor's token: the plaintext and the flags.
    fn client_unwrap(key: &SessionKey, head: &[u8], data: &[u8]) -> (Vec<u8>, u8) {
        let mut token = head.to_vec();
        token.extend(data);
        let flags = token[2];
        assert_eq!(&token[6..8], &RRC.to_be_bytes());
        let mut body = token.split_off(16);
        body.rotate_left(28);
        let mut plain = key
            .suite
            .cipher()
            .decrypt(&key.key, ACCEPTOR_SEAL, &body)
            .unwrap();
        let copy = plain.split_off(plain.len() - 16);
        assert_eq!(&copy[..6], &token[..6]);
        assert_eq!(&copy[8..], &token[8..]);
        (plain, flags)
    }

    #[test]
    fn wrap_tokens_with_and_without_an_acceptor_subkey() {
        for etype in [17, 18] {
            let initiator = key(etype, 1);
            let acceptor = key(etype, 2);
            // Mutual: the acceptor subkey seals both ways, flagged.
            let mut s = Session {
                acceptor_key: Some(acceptor.clone()),
                initiator_key: initiator.clone(),
                send_seq: 7,
            };
            let (head, data) = s.wrap(b"hello, world").unwrap();
            assert_eq!((head.len(), data.len()), (WRAP_HEADER_LEN, 12));
            assert_eq!(&head[8..16], &7u64.to_be_bytes());
            let (plain, flags) = client_unwrap(&acceptor, &head, &data);
            assert_eq!((plain.as_slice(), flags), (&b"hello, world"[..], 0x07));
            let (head, _) = s.wrap(b"next").unwrap();
            assert_eq!(&head[8..16], &8u64.to_be_bytes());
            let (h, d) = client_wrap(&acceptor, SEALED | ACCEPTOR_SUBKEY, 3, b"request");
            assert_eq!(s.unwrap(&h, &d).as_deref(), Some(&b"request"[..]));

            // Without an AP-REP: the initiator's key, no AcceptorSubkey flag either way.
            let mut s = Session {
                acceptor_key: None,
                initiator_key: initiator.clone(),
                send_seq: 0,
            };
            let (head, data) = s.wrap(b"reply").unwrap();
            let (plain, flags) = client_unwrap(&initiator, &head, &data);
            assert_eq!((plain.as_slice(), flags), (&b"reply"[..], 0x03));
            let (h, d) = client_wrap(&initiator, SEALED, 1, b"request");
            assert_eq!(s.unwrap(&h, &d).as_deref(), Some(&b"request"[..]));
            // A token claiming an acceptor subkey that was never sent, one claiming to come
            // from the acceptor, an unsealed one, and a tampered one: refused.
            let (h, d) = client_wrap(&initiator, SEALED | ACCEPTOR_SUBKEY, 1, b"x");
            assert!(s.unwrap(&h, &d).is_none());
            let (h, d) = client_wrap(&initiator, SEALED | SENT_BY_ACCEPTOR, 1, b"x");
            assert!(s.unwrap(&h, &d).is_none());
            let (h, d) = client_wrap(&initiator, 0, 1, b"x");
            assert!(s.unwrap(&h, &d).is_none());
            let (h, mut d) = client_wrap(&initiator, SEALED, 1, b"request");
            d[0] ^= 1;
            assert!(s.unwrap(&h, &d).is_none());
            // The wrong key (another enctype's size included).
            let (h, d) = client_wrap(&key(35 - etype, 1), SEALED, 1, b"request");
            assert!(s.unwrap(&h, &d).is_none());
            // Truncated or empty input.
            assert!(s.unwrap(&h[..10], &[]).is_none());
            assert!(s.unwrap(&[], &[]).is_none());
        }
    }

    #[test]
    fn ap_rep_is_under_the_session_key_with_a_subkey_of_its_type() {
        use picky_krb::data_types::EncApRepPart;
        use picky_krb::messages::ApRep;
        for etype in [17, 18] {
            let session = key(etype, 9);
            let subkey = key(etype, 4);
            let ctime = time("20261122233309Z");
            let cusec: picky_krb::data_types::Microseconds =
                picky_asn1_der::from_bytes(&[2, 2, 0x12, 0x34]).unwrap();
            let rep = ap_rep(&session, &ctime, &cusec, &subkey, 0x8000_0001).unwrap();
            let parsed: ApRep = picky_asn1_der::from_bytes(&rep).unwrap();
            assert_eq!(int(&parsed.0.msg_type.0.0), Some(15));
            assert_eq!(int(&parsed.0.enc_part.0.etype.0.0), Some(etype));
            let plain = session
                .suite
                .cipher()
                .decrypt(&session.key, AP_REP_ENC, &parsed.0.enc_part.0.cipher.0.0)
                .unwrap();
            let part: EncApRepPart = picky_asn1_der::from_bytes(&plain).unwrap();
            assert_eq!(unix(&part.0.ctime.0), unix(&ctime));
            assert_eq!(int(&part.0.cusec.0.0), Some(0x1234));
            let sub = &part.0.subkey.0.as_ref().unwrap().0;
            assert_eq!(int(&sub.key_type.0.0), Some(etype));
            assert_eq!(sub.key_value.0.0, subkey.key);
            let seq = part.0.seq_number.0.as_ref().unwrap();
            assert_eq!(int(&seq.0.0), Some(0x8000_0001));
            let gss = gss_ap_rep(&rep);
            assert!(gss.ends_with(&rep));
            assert_eq!(gss[gss.len() - rep.len() - 2..][..2], AP_REP_TOKEN_ID);
        }
    }

    #[test]
    fn session_keys_must_be_aes_of_the_right_length() {
        let der = |etype: u8, len: usize| {
            let mut k = spnego::wrap(0xa0, &[2, 1, etype]);
            k.extend(spnego::wrap(0xa1, &spnego::wrap(0x04, &vec![7; len])));
            let k = spnego::wrap(0x30, &k);
            picky_asn1_der::from_bytes::<EncryptionKey>(&k).unwrap()
        };
        assert!(SessionKey::from_asn1(&der(17, 16)).is_ok());
        assert!(SessionKey::from_asn1(&der(18, 32)).is_ok());
        assert!(matches!(
            SessionKey::from_asn1(&der(23, 16)),
            Err(Refusal::Enctype(_))
        ));
        assert!(matches!(
            SessionKey::from_asn1(&der(16, 24)),
            Err(Refusal::Enctype(_))
        ));
        assert!(matches!(
            SessionKey::from_asn1(&der(17, 32)),
            Err(Refusal::Malformed)
        ));
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
