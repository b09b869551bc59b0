//! Client-certificate logons (WS-Management `secprofile/https/mutual`): what the TLS layer
//! learnt about the peer's certificate, and the mapping table that turns it into an account,
//! as Windows' `WSMan:\localhost\ClientCertificate` (Subject = the certificate's UPN, Issuer =
//! the issuing CA's thumbprint, UserName = the local account).
//!
//! The certificate is read with a small DER walker: only the issuer and subject names and the
//! subjectAltName extension are looked at, every length is checked, nothing panics.

use sha1::{Digest, Sha1};

use crate::config::{Config, User, normalize_thumbprint};

/// The `Authorization` value asking for certificate authentication.
pub(crate) const MUTUAL_PROFILE: &str =
    "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/mutual";

/// szOID_NT_PRINCIPAL_NAME, 1.3.6.1.4.1.311.20.2.3 (content octets).
const UPN_OID: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x14, 0x02, 0x03];
/// id-ce-subjectAltName, 2.5.29.17.
const SAN_OID: &[u8] = &[0x55, 0x1d, 0x11];
/// id-at-commonName, 2.5.4.3.
const CN_OID: &[u8] = &[0x55, 0x04, 0x03];

/// What a connection's client certificate says, established once after the TLS handshake.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct PeerCertificate {
    /// The chain verified against the configured CAs (signature, validity, client-auth usage).
    pub(crate) verified: bool,
    /// The UPN from the subjectAltName otherName, if any.
    pub(crate) upn: Option<String>,
    /// The subject's common name, if any.
    pub(crate) common_name: Option<String>,
    /// SHA-1 thumbprint (uppercase hex) of the CA certificate that issued it, when known.
    pub(crate) issuer_thumbprint: Option<String>,
}

impl PeerCertificate {
    /// Reads `leaf` (DER); `issuers` are the candidate CA certificates (configured roots and
    /// presented intermediates), matched by subject name against the leaf's issuer name.
    pub(crate) fn read(leaf: &[u8], verified: bool, issuers: &[&[u8]]) -> Self {
        let Some(names) = CertNames::parse(leaf) else {
            return Self::default();
        };
        let issuer_thumbprint = issuers
            .iter()
            .find(|ca| CertNames::parse(ca).is_some_and(|n| n.subject == names.issuer))
            .map(|ca| thumbprint(ca));
        Self {
            verified,
            upn: names.upn,
            common_name: names.common_name,
            issuer_thumbprint,
        }
    }

    /// The name mappings compare with: the UPN, else the common name.
    fn subject(&self) -> Option<&str> {
        self.upn.as_deref().or(self.common_name.as_deref())
    }
}

/// SHA-1 of a DER certificate, uppercase hex (how Windows shows thumbprints).
pub(crate) fn thumbprint(der: &[u8]) -> String {
    Sha1::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// The account a request with the mutual header logs on as: the connection must carry a
/// verified certificate matching a mapping whose account exists. `None` = 401.
pub(crate) fn logon(config: &Config, peer: Option<&PeerCertificate>) -> Option<User> {
    let Some(peer) = peer else {
        tracing::info!("certificate logon refused: no client certificate on the connection");
        return None;
    };
    if !peer.verified {
        tracing::info!("certificate logon refused: certificate not trusted");
        return None;
    }
    let subject = peer.subject();
    let mapping = config.client_certificates.mappings.iter().find(|m| {
        let subject_ok = m.subject.trim() == "*"
            || subject.is_some_and(|s| s.eq_ignore_ascii_case(m.subject.trim()));
        let issuer_ok = match &m.issuer {
            None => true,
            Some(want) => normalize_thumbprint(want).is_some_and(|want| {
                peer.issuer_thumbprint
                    .as_deref()
                    .is_some_and(|have| have == want)
            }),
        };
        subject_ok && issuer_ok
    });
    let Some(mapping) = mapping else {
        tracing::info!(
            subject = subject.unwrap_or("-"),
            "certificate logon refused: no mapping"
        );
        return None;
    };
    config.user(&mapping.user).cloned()
}

/// The parts of a certificate used here (slices of the DER).
struct CertNames<'a> {
    issuer: &'a [u8],
    subject: &'a [u8],
    common_name: Option<String>,
    upn: Option<String>,
}

impl<'a> CertNames<'a> {
    fn parse(der: &'a [u8]) -> Option<Self> {
        let (cert, _) = Tlv::read(der, 0x30)?;
        let (tbs, _) = Tlv::read(cert.content, 0x30)?;
        let mut rest = tbs.content;
        if rest.first() == Some(&0xa0) {
            rest = Tlv::read(rest, 0xa0)?.1;
        }
        let (_serial, rest) = Tlv::read(rest, 0x02)?;
        let (_signature, rest) = Tlv::read(rest, 0x30)?;
        let (issuer, rest) = Tlv::read(rest, 0x30)?;
        let (_validity, rest) = Tlv::read(rest, 0x30)?;
        let (subject, mut rest) = Tlv::read(rest, 0x30)?;
        let (_spki, r) = Tlv::read(rest, 0x30)?;
        rest = r;
        let mut upn = None;
        while let Some((item, r)) = Tlv::any(rest) {
            rest = r;
            if item.tag == 0xa3 {
                upn = Tlv::read(item.content, 0x30).and_then(|(exts, _)| san_upn(exts.content));
            }
        }
        Some(Self {
            issuer: issuer.whole,
            subject: subject.whole,
            common_name: common_name(subject.content),
            upn,
        })
    }
}

/// The first commonName of a Name (SEQUENCE OF SET OF AttributeTypeAndValue).
fn common_name(mut rdns: &[u8]) -> Option<String> {
    while let Some((set, rest)) = Tlv::read(rdns, 0x31) {
        rdns = rest;
        let mut attrs = set.content;
        while let Some((attr, rest)) = Tlv::read(attrs, 0x30) {
            attrs = rest;
            let Some((oid, value)) = Tlv::read(attr.content, 0x06) else {
                continue;
            };
            if oid.content != CN_OID {
                continue;
            }
            // UTF8String, PrintableString, T61String, IA5String.
            if let Some((v, _)) = Tlv::any(value)
                && matches!(v.tag, 0x0c | 0x13 | 0x14 | 0x16)
            {
                return String::from_utf8(v.content.to_vec()).ok();
            }
        }
    }
    None
}

/// The UPN otherName of the subjectAltName extension, if any.
fn san_upn(mut exts: &[u8]) -> Option<String> {
    while let Some((ext, rest)) = Tlv::read(exts, 0x30) {
        exts = rest;
        let Some((oid, mut fields)) = Tlv::read(ext.content, 0x06) else {
            continue;
        };
        if oid.content != SAN_OID {
            continue;
        }
        if fields.first() == Some(&0x01) {
            fields = Tlv::read(fields, 0x01)?.1;
        }
        let (value, _) = Tlv::read(fields, 0x04)?;
        let (names, _) = Tlv::read(value.content, 0x30)?;
        let mut names = names.content;
        while let Some((name, rest)) = Tlv::any(names) {
            names = rest;
            // otherName [0] { type-id OID, value [0] EXPLICIT ANY }
            if name.tag != 0xa0 {
                continue;
            }
            let Some((type_id, value)) = Tlv::read(name.content, 0x06) else {
                continue;
            };
            if type_id.content != UPN_OID {
                continue;
            }
            let (explicit, _) = Tlv::read(value, 0xa0)?;
            let (text, _) = Tlv::read(explicit.content, 0x0c)?;
            return String::from_utf8(text.content.to_vec()).ok();
        }
    }
    None
}

/// One DER element.
struct Tlv<'a> {
    tag: u8,
    content: &'a [u8],
    whole: &'a [u8],
}

impl<'a> Tlv<'a> {
    /// The element at the start of `input` and what follows it.
    fn any(input: &'a [u8]) -> Option<(Self, &'a [u8])> {
        let tag = *input.first()?;
        if tag & 0x1f == 0x1f {
            return None; // multi-byte tags do not occur in the parts read here
        }
        let first = *input.get(1)?;
        let (len, header) = if first < 0x80 {
            (usize::from(first), 2)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 {
                return None;
            }
            let bytes = input.get(2..2 + n)?;
            let len = bytes
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (len, 2 + n)
        };
        let end = header.checked_add(len)?;
        let content = input.get(header..end)?;
        let whole = input.get(..end)?;
        let rest = input.get(end..)?;
        Some((
            Self {
                tag,
                content,
                whole,
            },
            rest,
        ))
    }

    /// The element at the start of `input` if it has this tag.
    fn read(input: &'a [u8], tag: u8) -> Option<(Self, &'a [u8])> {
        Self::any(input).filter(|(t, _)| t.tag == tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, OtherNameValue, SanType,
    };

    fn ca(name: &str) -> (rcgen::Certificate, rcgen::Issuer<'static, KeyPair>) {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        (cert, rcgen::Issuer::new(params, key))
    }

    #[test]
    fn reads_upn_common_name_and_issuer() {
        let (ca_cert, issuer) = ca("Test CA");
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, "Alice");
        params.subject_alt_names = vec![
            SanType::DnsName("client.example".try_into().unwrap()),
            SanType::OtherName((
                vec![1, 3, 6, 1, 4, 1, 311, 20, 2, 3],
                OtherNameValue::Utf8String("alice@example.test".into()),
            )),
        ];
        let key = KeyPair::generate().unwrap();
        let leaf = params.signed_by(&key, &issuer).unwrap();
        let other = ca("Other CA").0;
        let peer = PeerCertificate::read(
            leaf.der(),
            true,
            &[other.der().as_ref(), ca_cert.der().as_ref()],
        );
        assert_eq!(peer.upn.as_deref(), Some("alice@example.test"));
        assert_eq!(peer.common_name.as_deref(), Some("Alice"));
        assert_eq!(
            peer.issuer_thumbprint.as_deref(),
            Some(thumbprint(ca_cert.der()).as_str())
        );
        assert_eq!(peer.subject(), Some("alice@example.test"));
        // Without a UPN the common name is the subject.
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, "bob");
        let leaf = params.signed_by(&key, &issuer).unwrap();
        let peer = PeerCertificate::read(leaf.der(), true, &[]);
        assert_eq!(peer.subject(), Some("bob"));
        assert_eq!(peer.issuer_thumbprint, None);
    }

    #[test]
    fn hostile_der_is_read_as_nothing() {
        let (ca_cert, _) = ca("Test CA");
        let der = ca_cert.der().to_vec();
        for cut in 0..der.len() {
            let _ = PeerCertificate::read(&der[..cut], true, &[&der[..cut]]);
        }
        for junk in [&b""[..], &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff], &[0x3f; 8]] {
            assert_eq!(
                PeerCertificate::read(junk, true, &[]),
                PeerCertificate {
                    verified: false,
                    ..Default::default()
                }
            );
        }
    }

    #[test]
    fn logon_needs_a_verified_mapped_certificate() {
        let config = Config::from_toml(
            r#"
[[users]]
name = "alice"
password = "pw"
[[users]]
name = "bob"
password = "pw"
[service]
auth = ["certificate"]
[client_certificates]
ca_pem = "unused here"
[[client_certificates.mappings]]
subject = "alice@example.test"
issuer = "00112233445566778899AABBCCDDEEFF00112233"
user = "alice"
[[client_certificates.mappings]]
subject = "*"
issuer = "FFEEDDCCBBAA99887766554433221100FFEEDDCC"
user = "bob"
"#,
        )
        .unwrap();
        let peer = |upn: &str, issuer: &str, verified| PeerCertificate {
            verified,
            upn: Some(upn.into()),
            common_name: None,
            issuer_thumbprint: Some(issuer.into()),
        };
        let name = |p: Option<&PeerCertificate>| logon(&config, p).map(|u| u.name);
        let a = "00112233445566778899AABBCCDDEEFF00112233";
        let b = "FFEEDDCCBBAA99887766554433221100FFEEDDCC";
        assert_eq!(
            name(Some(&peer("ALICE@example.test", a, true))),
            Some("alice".into())
        );
        assert_eq!(name(Some(&peer("alice@example.test", a, false))), None);
        assert_eq!(name(Some(&peer("carol@example.test", a, true))), None);
        assert_eq!(
            name(Some(&peer("carol@example.test", b, true))),
            Some("bob".into())
        );
        assert_eq!(name(None), None);
    }
}
