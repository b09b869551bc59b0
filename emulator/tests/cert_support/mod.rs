//! Certificates minted with rcgen for the certificate-authentication tests: CAs (root or
//! intermediate) and client certificates carrying a UPN. Also used by
//! `transport/tests/client_cert.rs` (through `#[path]`: both test crates already have `rcgen`
//! and `emulator` as dev-dependencies, so no crate is needed for it).

#![allow(dead_code)]

use emulator::tls::certificate_thumbprint;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    OtherNameValue, SanType,
};

/// The szOID_NT_PRINCIPAL_NAME other name (a UPN) of a client certificate.
pub const UPN_OID: [u64; 10] = [1, 3, 6, 1, 4, 1, 311, 20, 2, 3];

/// A certificate authority: its certificate (PEM), thumbprint and signing half.
pub struct Ca {
    pub pem: String,
    pub thumbprint: String,
    pub issuer: Issuer<'static, KeyPair>,
}

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params
}

/// A self-signed root CA named `name`.
pub fn ca(name: &str) -> Ca {
    let params = ca_params(name);
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    Ca {
        pem: cert.pem(),
        thumbprint: certificate_thumbprint(cert.der()),
        issuer: Issuer::new(params, key),
    }
}

impl Ca {
    /// An intermediate CA named `name`, signed by this one.
    pub fn intermediate(&self, name: &str) -> Ca {
        let params = ca_params(name);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Ca {
            pem: cert.pem(),
            thumbprint: certificate_thumbprint(cert.der()),
            issuer: Issuer::new(params, key),
        }
    }
}

/// A client certificate (PEM, key PEM) for `upn` (its common name and UPN), issued by `ca`.
pub fn client_cert(ca: &Ca, upn: &str) -> (String, String) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, upn);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.subject_alt_names = vec![SanType::OtherName((
        UPN_OID.to_vec(),
        OtherNameValue::Utf8String(upn.into()),
    ))];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}
