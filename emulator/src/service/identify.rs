//! Identify (DSP0226 §11, `Test-WSMan`): what the service says about itself.
//!
//! Authenticated callers get the product version of the emulated host and the security
//! profiles of the configured auth schemes; a caller without credentials (HTTP header
//! `WSMANIDENTIFY: unauthenticated`, handled by the HTTP layer) gets the OS version hidden and
//! no profiles, as Windows answers.

use wsman::DecodeLimits;
use wsman::identify::{self, Identify, IdentifyResponse};

use super::Service;
use crate::config::{AuthScheme, Config};

/// The `ProductVersion` the emulator reports to authenticated callers: Windows Server 2019's
/// (build 17763, the build the engine reports as `[Environment]::OSVersion`).
pub const PRODUCT_VERSION: &str = "OS: 10.0.17763 SP: 0.0 Stack: 3.0";

/// Identify requests are tiny: larger bodies are not even looked at (keeps the check off the
/// hot path of Send and Receive). Smaller ones are parsed only when they hold `Identify`
/// (pywinrm and pypsrp declare the `wsmid` namespace on every request, so the namespace URI
/// would not tell them apart).
const MAX_IDENTIFY_BYTES: usize = 8 * 1024;

/// How an Identify arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdentifyAccess {
    /// Without credentials (`WSMANIDENTIFY: unauthenticated`).
    Unauthenticated,
    /// After authentication; `tls` when over HTTPS (the profiles then name `https`).
    Authenticated {
        /// Whether the request came over TLS.
        tls: bool,
    },
}

impl Service {
    /// If `bytes` is an Identify request, the encoded reply for `access`; `None` otherwise (the
    /// request goes the ordinary way).
    pub fn identify(&self, bytes: &[u8], access: IdentifyAccess) -> Option<String> {
        if !is_identify(bytes, &self.config) {
            return None;
        }
        Some(identify_response(&self.config, access).encode())
    }
}

/// Whether `bytes` decode as an Identify request (within the configured envelope size).
pub fn is_identify(bytes: &[u8], config: &Config) -> bool {
    const NEEDLE: &[u8] = b"Identify";
    if bytes.len() > MAX_IDENTIFY_BYTES || !bytes.windows(NEEDLE.len()).any(|w| w == NEEDLE) {
        return false;
    }
    let limits = DecodeLimits {
        max_bytes: usize::try_from(config.max_envelope_size()).unwrap_or(usize::MAX),
        ..DecodeLimits::default()
    };
    Identify::decode_with(bytes, &limits).is_ok()
}

/// The reply to an Identify.
pub fn identify_response(config: &Config, access: IdentifyAccess) -> IdentifyResponse {
    let (product_version, security_profiles) = match access {
        IdentifyAccess::Unauthenticated => (identify::UNAUTHENTICATED_PRODUCT_VERSION, None),
        IdentifyAccess::Authenticated { tls } => {
            (PRODUCT_VERSION, Some(security_profiles(config, tls)))
        }
    };
    IdentifyResponse {
        protocol_versions: vec![identify::PROTOCOL_VERSION_WSMAN_1.to_owned()],
        product_vendor: Some(identify::VENDOR_MICROSOFT.to_owned()),
        product_version: Some(product_version.to_owned()),
        security_profiles,
        other: Vec::new(),
    }
}

/// DSP0226 Annex C profiles of the configured schemes, Basic first and SPNEGO next as Windows
/// lists them. NTLM, Negotiate and Kerberos all travel as `spnego-kerberos`; CredSSP has no
/// DMTF profile; a client certificate (`https/mutual`) only exists over TLS.
fn security_profiles(config: &Config, tls: bool) -> Vec<String> {
    let auth = &config.service.auth;
    let mut profiles = Vec::new();
    if auth.contains(&AuthScheme::Basic) {
        profiles.push(if tls {
            identify::PROFILE_HTTPS_BASIC
        } else {
            identify::PROFILE_HTTP_BASIC
        });
    }
    if auth.iter().any(|a| {
        matches!(
            a,
            AuthScheme::Ntlm | AuthScheme::Negotiate | AuthScheme::Kerberos
        )
    }) {
        profiles.push(if tls {
            identify::PROFILE_HTTPS_SPNEGO_KERBEROS
        } else {
            identify::PROFILE_HTTP_SPNEGO_KERBEROS
        });
    }
    if tls && auth.contains(&AuthScheme::Certificate) {
        profiles.push(identify::PROFILE_HTTPS_MUTUAL);
    }
    profiles.into_iter().map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(auth: &[AuthScheme]) -> Config {
        let mut config = Config::default();
        config.service.auth = auth.to_vec();
        config
    }

    #[test]
    fn authenticated_answer_names_the_configured_profiles() {
        let cfg = config(&[
            AuthScheme::Negotiate,
            AuthScheme::Basic,
            AuthScheme::Ntlm,
            AuthScheme::CredSsp,
        ]);
        let r = identify_response(&cfg, IdentifyAccess::Authenticated { tls: false });
        assert_eq!(r.product_version.as_deref(), Some(PRODUCT_VERSION));
        assert_eq!(r.os_version(), Some("10.0.17763"));
        assert_eq!(
            r.security_profiles.as_deref(),
            Some(
                &[
                    identify::PROFILE_HTTP_BASIC.to_owned(),
                    identify::PROFILE_HTTP_SPNEGO_KERBEROS.to_owned()
                ][..]
            )
        );
        let cfg = config(&[AuthScheme::Certificate, AuthScheme::Kerberos]);
        let r = identify_response(&cfg, IdentifyAccess::Authenticated { tls: true });
        assert_eq!(
            r.security_profiles.as_deref(),
            Some(
                &[
                    identify::PROFILE_HTTPS_SPNEGO_KERBEROS.to_owned(),
                    identify::PROFILE_HTTPS_MUTUAL.to_owned()
                ][..]
            )
        );
    }

    #[test]
    fn unauthenticated_answer_hides_the_version_and_profiles() {
        let r = identify_response(
            &config(&[AuthScheme::Basic]),
            IdentifyAccess::Unauthenticated,
        );
        assert!(r.is_unauthenticated());
        assert_eq!(r.protocol_versions, [identify::PROTOCOL_VERSION_WSMAN_1]);
        assert_eq!(
            r.product_vendor.as_deref(),
            Some(identify::VENDOR_MICROSOFT)
        );
    }

    #[test]
    fn only_identify_requests_are_answered() {
        let service = Service::new(config(&[AuthScheme::Basic]));
        let access = IdentifyAccess::Authenticated { tls: false };
        let reply = service
            .identify(Identify.encode().as_bytes(), access)
            .expect("answered");
        assert_eq!(
            IdentifyResponse::decode(&reply).expect("decodes"),
            identify_response(service.config(), access)
        );
        // An ordinary request, an IdentifyResponse, a padded Identify and garbage are not.
        let get = wsman::Envelope::request(
            wsman::Action::Get,
            wsman::ns::RESOURCE_CONFIG,
            wsman::MessageId::new("uuid:1"),
        )
        .body(wsman::Body::Get)
        .encode();
        let response = identify_response(service.config(), access).encode();
        let padded = Identify.encode().replace(
            "<s:Header/>",
            &format!("<s:Header>{}</s:Header>", " ".repeat(9000)),
        );
        for other in [get.as_str(), &response, &padded, "Identify", ""] {
            assert_eq!(
                service.identify(other.as_bytes(), access),
                None,
                "{other:.80}"
            );
        }
    }
}
