//! WS-Management Identify (DSP0226 §11; `Test-WSMan`, `winrm id`): asks a service which protocol
//! version, vendor and product it runs, before (or without) any other operation.
//!
//! Identify is not a WS-Addressing message: the request has an empty `s:Header` (no `a:Action`,
//! no `a:MessageID`) and the body `wsmid:Identify`; the reply's header is empty too. That is why
//! these types encode and decode whole envelopes of their own instead of being [`Body`]
//! variants of an [`Envelope`], whose header always carries an action and a message id.
//!
//! ```text
//!  client ── <s:Header/><s:Body><wsmid:Identify/></s:Body> ──► service
//!  client ◄── <s:Body><wsmid:IdentifyResponse> ProtocolVersion, ProductVendor,
//!             ProductVersion, SecurityProfiles </wsmid:IdentifyResponse></s:Body> ── service
//! ```
//!
//! Windows answers an Identify without credentials when the HTTP request carries the header
//! [`HTTP_HEADER`]`: `[`HTTP_HEADER_UNAUTHENTICATED`] (what `Test-WSMan` sends by default); it
//! then hides the OS version ([`UNAUTHENTICATED_PRODUCT_VERSION`]) and the security profiles.
//! Adding that header is the transport's business: this module only builds and reads the XML.
//!
//! [`Body`]: crate::Body
//! [`Envelope`]: crate::Envelope

use crate::codec::{self, sub};
use crate::error::DecodeError;
use crate::ns;
use crate::xml::{self, DecodeLimits, Element, Writer};

/// The HTTP header asking for an unauthenticated Identify (MS-WSMV; sent by `Test-WSMan`).
pub const HTTP_HEADER: &str = "WSMANIDENTIFY";
/// The value of [`HTTP_HEADER`] for an Identify sent without credentials.
pub const HTTP_HEADER_UNAUTHENTICATED: &str = "unauthenticated";

/// The `ProtocolVersion` of WS-Management 1.x (DSP0226), what Windows reports.
pub const PROTOCOL_VERSION_WSMAN_1: &str = ns::WSMAN;
/// The `ProductVendor` Windows reports.
pub const VENDOR_MICROSOFT: &str = "Microsoft Corporation";
/// The `ProductVersion` Windows reports to an unauthenticated Identify: the OS version hidden.
pub const UNAUTHENTICATED_PRODUCT_VERSION: &str = "OS: 0.0.0 SP: 0.0 Stack: 3.0";

/// DSP0226 Annex C security profile: HTTP Basic.
pub const PROFILE_HTTP_BASIC: &str =
    "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/http/basic";
/// DSP0226 Annex C security profile: HTTP Digest.
pub const PROFILE_HTTP_DIGEST: &str =
    "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/http/digest";
/// DSP0226 Annex C security profile: SPNEGO (Kerberos or NTLM) over HTTP.
pub const PROFILE_HTTP_SPNEGO_KERBEROS: &str =
    "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/http/spnego-kerberos";
/// DSP0226 Annex C security profile: HTTPS with Basic.
pub const PROFILE_HTTPS_BASIC: &str =
    "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/basic";
/// DSP0226 Annex C security profile: SPNEGO (Kerberos or NTLM) over HTTPS.
pub const PROFILE_HTTPS_SPNEGO_KERBEROS: &str =
    "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/spnego-kerberos";
/// DSP0226 Annex C security profile: HTTPS with a client certificate (mutual TLS).
pub const PROFILE_HTTPS_MUTUAL: &str =
    "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/mutual";

/// The Identify request (`wsmid:Identify`, empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Identify;

/// `wsmid:IdentifyResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IdentifyResponse {
    /// `wsmid:ProtocolVersion`, one or more (Windows: [`PROTOCOL_VERSION_WSMAN_1`]).
    pub protocol_versions: Vec<String>,
    /// `wsmid:ProductVendor` (Windows: [`VENDOR_MICROSOFT`]).
    pub product_vendor: Option<String>,
    /// `wsmid:ProductVersion` (Windows: `OS: 10.0.17763 SP: 0.0 Stack: 3.0`).
    pub product_version: Option<String>,
    /// `wsmid:SecurityProfiles/wsmid:SecurityProfileName`; `None` when the element is absent
    /// (Windows leaves it out of unauthenticated answers).
    pub security_profiles: Option<Vec<String>>,
    /// Other children (vendor extensions, e.g. OMI's `wsmb:Capability_FaultIncludesCIMError`),
    /// kept so they round-trip.
    pub other: Vec<Element>,
}

impl Identify {
    /// Encodes the request envelope: an empty header, `wsmid:Identify` in the body.
    pub fn encode(&self) -> String {
        let mut w = Writer::with_capacity(256, BINDINGS);
        w.start("s:Envelope");
        w.attr("xmlns:s", ns::SOAP);
        w.attr("xmlns:wsmid", ns::IDENTITY);
        w.end_start();
        w.start("s:Header");
        w.end_empty();
        w.start("s:Body");
        w.end_start();
        w.start("wsmid:Identify");
        w.end_empty();
        w.close("s:Body");
        w.close("s:Envelope");
        w.out
    }

    /// Decodes an Identify request with the default [`DecodeLimits`]. Headers are ignored
    /// (Identify carries none that matter; some clients add WS-Addressing ones anyway).
    ///
    /// # Errors
    /// A [`DecodeError`]: malformed XML, not a SOAP envelope, no `s:Body`, or a body whose
    /// first element is not `wsmid:Identify` ([`DecodeError::MissingElement`], or
    /// [`DecodeError::UnexpectedNamespace`] for an `Identify` in another namespace).
    pub fn decode(input: impl AsRef<[u8]>) -> Result<Self, DecodeError> {
        Self::decode_with(input.as_ref(), &DecodeLimits::default())
    }

    /// Decodes an Identify request with explicit limits; see [`Identify::decode`].
    ///
    /// # Errors
    /// As [`Identify::decode`].
    pub fn decode_with(input: &[u8], limits: &DecodeLimits) -> Result<Self, DecodeError> {
        let root = xml::parse(input, limits)?;
        body_element(&root, "Identify")?;
        Ok(Self)
    }
}

impl IdentifyResponse {
    /// Encodes the reply envelope as Windows lays it out: `xml:lang` on the envelope, an empty
    /// header, `wsmid` declared on `wsmid:IdentifyResponse`, children in schema order.
    pub fn encode(&self) -> String {
        let mut w = Writer::with_capacity(1024, BINDINGS);
        w.start("s:Envelope");
        w.attr("xml:lang", "en-US");
        w.attr("xmlns:s", ns::SOAP);
        w.end_start();
        w.start("s:Header");
        w.end_empty();
        w.start("s:Body");
        w.end_start();
        w.start("wsmid:IdentifyResponse");
        w.attr("xmlns:wsmid", ns::IDENTITY);
        w.end_start();
        for v in &self.protocol_versions {
            w.leaf("wsmid:ProtocolVersion", v);
        }
        codec::opt_leaf(
            &mut w,
            "wsmid:ProductVendor",
            self.product_vendor.as_deref(),
        );
        codec::opt_leaf(
            &mut w,
            "wsmid:ProductVersion",
            self.product_version.as_deref(),
        );
        if let Some(profiles) = &self.security_profiles {
            w.start("wsmid:SecurityProfiles");
            w.end_start();
            for p in profiles {
                w.leaf("wsmid:SecurityProfileName", p);
            }
            w.close("wsmid:SecurityProfiles");
        }
        for e in &self.other {
            w.element(e);
        }
        w.close("wsmid:IdentifyResponse");
        w.close("s:Body");
        w.close("s:Envelope");
        w.out
    }

    /// Decodes a reply with the default [`DecodeLimits`].
    ///
    /// # Errors
    /// A [`DecodeError`]: malformed XML, not a SOAP envelope, no `s:Body`, a body whose first
    /// element is not `wsmid:IdentifyResponse` (a SOAP fault, for instance), or a response
    /// without `wsmid:ProtocolVersion` (the one child DSP0226 requires).
    pub fn decode(input: impl AsRef<[u8]>) -> Result<Self, DecodeError> {
        Self::decode_with(input.as_ref(), &DecodeLimits::default())
    }

    /// Decodes a reply with explicit limits; see [`IdentifyResponse::decode`].
    ///
    /// # Errors
    /// As [`IdentifyResponse::decode`].
    pub fn decode_with(input: &[u8], limits: &DecodeLimits) -> Result<Self, DecodeError> {
        let root = xml::parse(input, limits)?;
        let el = body_element(&root, "IdentifyResponse")?;
        let path = sub(BODY_PATH, "IdentifyResponse");
        let mut r = Self::default();
        for child in el.elements() {
            if child.ns.as_deref() != Some(ns::IDENTITY) {
                r.other.push(child.clone());
                continue;
            }
            match child.name.as_str() {
                "ProtocolVersion" => r.protocol_versions.push(codec::trimmed(child)),
                "ProductVendor" => r.product_vendor = Some(codec::trimmed(child)),
                "ProductVersion" => r.product_version = Some(codec::trimmed(child)),
                "SecurityProfiles" => {
                    let p = sub(&path, "SecurityProfiles");
                    let mut names = Vec::new();
                    for n in child.elements() {
                        if !n.is(ns::IDENTITY, "SecurityProfileName") {
                            return Err(DecodeError::invalid(
                                &p,
                                "child (expected SecurityProfileName)",
                                &n.name,
                            ));
                        }
                        names.push(codec::trimmed(n));
                    }
                    r.security_profiles = Some(names);
                }
                _ => r.other.push(child.clone()),
            }
        }
        if r.protocol_versions.is_empty() {
            return Err(DecodeError::missing(&path, "ProtocolVersion"));
        }
        Ok(r)
    }

    /// The OS version Windows reports in `ProductVersion` (`OS: 10.0.17763 SP: 0.0 Stack: 3.0`
    /// → `10.0.17763`); `None` for other formats and for the hidden `0.0.0`.
    pub fn os_version(&self) -> Option<&str> {
        let rest = self
            .product_version
            .as_deref()?
            .trim()
            .strip_prefix("OS:")?;
        let version = rest.split_whitespace().next()?;
        (version != "0.0.0").then_some(version)
    }

    /// Whether the reply is the unauthenticated form (no security profiles, OS version hidden).
    pub fn is_unauthenticated(&self) -> bool {
        self.security_profiles.is_none()
            && self.product_version.as_deref() == Some(UNAUTHENTICATED_PRODUCT_VERSION)
    }
}

const BODY_PATH: &str = "Envelope/Body";

/// Prefixes in scope while encoding.
const BINDINGS: &[(&str, &str)] = &[("s", ns::SOAP), ("wsmid", ns::IDENTITY), ("xml", ns::XML)];

/// The first element of the envelope's body, which must be `wsmid:<name>`.
fn body_element<'a>(root: &'a Element, name: &str) -> Result<&'a Element, DecodeError> {
    if root.name != "Envelope" {
        return Err(DecodeError::NotAnEnvelope {
            found: root.name.clone(),
        });
    }
    if root.ns.as_deref() != Some(ns::SOAP) {
        return Err(DecodeError::UnexpectedNamespace {
            path: "Envelope".into(),
            expected: ns::SOAP,
            found: root.ns.as_deref().unwrap_or_default().to_owned(),
        });
    }
    let body = root
        .child(ns::SOAP, "Body")
        .ok_or_else(|| DecodeError::missing("Envelope", "Body"))?;
    let Some(first) = body.elements().next() else {
        return Err(DecodeError::missing(BODY_PATH, name));
    };
    if first.name != name {
        return Err(DecodeError::missing(BODY_PATH, name));
    }
    if first.ns.as_deref() != Some(ns::IDENTITY) {
        return Err(DecodeError::UnexpectedNamespace {
            path: sub(BODY_PATH, name),
            expected: ns::IDENTITY,
            found: first.ns.as_deref().unwrap_or_default().to_owned(),
        });
    }
    Ok(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Windows Server 2012 R2 answer to an authenticated (Basic) Identify, as captured with
    /// curl and published (IBM developer recipe "Multiple Jumphosts in Ansible Tower, part 6").
    const WINDOWS_2012R2: &str = concat!(
        r#"<s:Envelope xml:lang="en-US" xmlns:s="http://www.w3.org/2003/05/soap-envelope">"#,
        r#"<s:Header></s:Header><s:Body><wsmid:IdentifyResponse "#,
        r#"xmlns:wsmid="http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd">"#,
        r#"<wsmid:ProtocolVersion>http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"#,
        r#"</wsmid:ProtocolVersion><wsmid:ProductVendor>Microsoft Corporation"#,
        r#"</wsmid:ProductVendor><wsmid:ProductVersion>OS: 6.3.9600 SP: 0.0 Stack: 3.0"#,
        r#"</wsmid:ProductVersion><wsmid:SecurityProfiles><wsmid:SecurityProfileName>"#,
        r#"http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/http/basic"#,
        r#"</wsmid:SecurityProfileName><wsmid:SecurityProfileName>"#,
        r#"http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/http/spnego-kerberos"#,
        r#"</wsmid:SecurityProfileName></wsmid:SecurityProfiles></wsmid:IdentifyResponse>"#,
        r#"</s:Body></s:Envelope>"#
    );

    #[test]
    fn windows_reply_decodes_and_reencodes_identically() {
        let r = IdentifyResponse::decode(WINDOWS_2012R2).unwrap();
        assert_eq!(r.protocol_versions, [PROTOCOL_VERSION_WSMAN_1]);
        assert_eq!(r.product_vendor.as_deref(), Some(VENDOR_MICROSOFT));
        assert_eq!(r.os_version(), Some("6.3.9600"));
        assert_eq!(
            r.security_profiles.as_deref(),
            Some(
                &[
                    PROFILE_HTTP_BASIC.to_owned(),
                    PROFILE_HTTP_SPNEGO_KERBEROS.to_owned()
                ][..]
            )
        );
        assert!(!r.is_unauthenticated());
        // Byte for byte but for the empty header's spelling.
        assert_eq!(
            r.encode(),
            WINDOWS_2012R2.replace("<s:Header></s:Header>", "<s:Header/>")
        );
    }

    #[test]
    fn request_round_trips_and_has_an_empty_header() {
        let xml = Identify.encode();
        assert!(xml.contains("<s:Header/>"), "{xml}");
        assert!(!xml.contains("Action"), "{xml}");
        assert_eq!(Identify::decode(&xml), Ok(Identify));
    }

    #[test]
    fn os_version_parsing() {
        let with = |v: &str| IdentifyResponse {
            product_version: Some(v.to_owned()),
            ..IdentifyResponse::default()
        };
        assert_eq!(
            with("OS: 10.0.17763 SP: 0.0 Stack: 3.0").os_version(),
            Some("10.0.17763")
        );
        assert_eq!(with(UNAUTHENTICATED_PRODUCT_VERSION).os_version(), None);
        assert!(with(UNAUTHENTICATED_PRODUCT_VERSION).is_unauthenticated());
        assert_eq!(with("openwsman 2.6").os_version(), None);
        assert_eq!(IdentifyResponse::default().os_version(), None);
    }
}
