//! Identify (DSP0226 §11): requests and replies as other stacks write them decode, values built
//! in code round-trip, and broken input gets a typed error.

use proptest::prelude::*;
use wsman::identify::{
    Identify, IdentifyResponse, PROFILE_HTTP_SPNEGO_KERBEROS, PROFILE_HTTPS_BASIC,
    PROTOCOL_VERSION_WSMAN_1, UNAUTHENTICATED_PRODUCT_VERSION, VENDOR_MICROSOFT,
};
use wsman::xml::Element;
use wsman::{DecodeError, DecodeLimits, Envelope, ns};

const S: &str = "http://www.w3.org/2003/05/soap-envelope";
const WSMID: &str = "http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd";

fn envelope(body: &str) -> String {
    format!(
        r#"<s:Envelope xmlns:s="{S}" xmlns:wsmid="{WSMID}"><s:Header/><s:Body>{body}</s:Body></s:Envelope>"#
    )
}

#[test]
fn requests_as_clients_send_them() {
    // curl / Test-WSMan style (prefix declared on the envelope), a default namespace, and one
    // with WS-Addressing headers some clients add anyway.
    let with_headers = format!(
        r#"<env:Envelope xmlns:env="{S}" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"><env:Header><a:Action>x</a:Action></env:Header><env:Body><Identify xmlns="{WSMID}"/></env:Body></env:Envelope>"#
    );
    for xml in [
        envelope("<wsmid:Identify/>"),
        envelope("<wsmid:Identify></wsmid:Identify>"),
        with_headers,
    ] {
        assert_eq!(Identify::decode(&xml), Ok(Identify), "{xml}");
    }
    // The ordinary envelope decoder refuses it for want of WS-Addressing headers.
    assert_eq!(
        Envelope::decode(envelope("<wsmid:Identify/>")),
        Err(DecodeError::MissingHeader("Action"))
    );
}

#[test]
fn unauthenticated_reply_as_windows_sends_it() {
    // Windows Server 2012 R2 to an unauthenticated Identify: no SecurityProfiles.
    let xml = envelope(&format!(
        "<wsmid:IdentifyResponse><wsmid:ProtocolVersion>{}</wsmid:ProtocolVersion><wsmid:ProductVendor>Microsoft Corporation</wsmid:ProductVendor><wsmid:ProductVersion>OS: 0.0.0 SP: 0.0 Stack: 3.0</wsmid:ProductVersion></wsmid:IdentifyResponse>",
        ns::WSMAN
    ));
    let r = IdentifyResponse::decode(&xml).unwrap();
    assert!(r.is_unauthenticated());
    assert_eq!(r.security_profiles, None);
    assert_eq!(r.product_vendor.as_deref(), Some(VENDOR_MICROSOFT));
    assert_eq!(r.protocol_versions, [PROTOCOL_VERSION_WSMAN_1]);
}

#[test]
fn pretty_printed_reply_with_an_extension_keeps_it() {
    // OMI-style: indented, an extension element in another namespace after the profiles.
    let xml = envelope(
        r#"
    <wsmid:IdentifyResponse>
      <wsmid:ProtocolVersion> http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd </wsmid:ProtocolVersion>
      <wsmid:ProductVendor>Open Management Infrastructure</wsmid:ProductVendor>
      <wsmid:ProductVersion>1.6.8</wsmid:ProductVersion>
      <wsmid:SecurityProfiles>
        <wsmid:SecurityProfileName>http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/basic</wsmid:SecurityProfileName>
      </wsmid:SecurityProfiles>
      <wsmb:Capability_FaultIncludesCIMError xmlns:wsmb="http://schemas.dmtf.org/wbem/wsman/1/cimbinding.xsd"/>
    </wsmid:IdentifyResponse>
"#,
    );
    let r = IdentifyResponse::decode(&xml).unwrap();
    assert_eq!(r.protocol_versions, [ns::WSMAN]);
    assert_eq!(r.product_version.as_deref(), Some("1.6.8"));
    assert_eq!(r.os_version(), None);
    assert_eq!(
        r.security_profiles.as_deref(),
        Some(&[PROFILE_HTTPS_BASIC.to_owned()][..])
    );
    assert_eq!(r.other.len(), 1);
    assert_eq!(r.other[0].name, "Capability_FaultIncludesCIMError");
    let again = IdentifyResponse::decode(r.encode()).unwrap();
    assert_eq!(again, r);
}

#[test]
fn broken_input_gets_typed_errors() {
    let missing = |xml: &str| match IdentifyResponse::decode(xml) {
        Err(DecodeError::MissingElement { path }) => path,
        other => panic!("{xml}: {other:?}"),
    };
    // A fault (or any other body) instead of the response.
    let fault = envelope(r#"<s:Fault><s:Code><s:Value>s:Sender</s:Value></s:Code></s:Fault>"#);
    assert_eq!(missing(&fault), "Envelope/Body/IdentifyResponse");
    assert_eq!(missing(&envelope("")), "Envelope/Body/IdentifyResponse");
    // The one required child.
    let no_version = envelope(
        "<wsmid:IdentifyResponse><wsmid:ProductVendor>x</wsmid:ProductVendor></wsmid:IdentifyResponse>",
    );
    assert_eq!(
        missing(&no_version),
        "Envelope/Body/IdentifyResponse/ProtocolVersion"
    );
    // Right name, wrong namespace (pypsrp's namespace table spells it `identify/1`).
    let wrong_ns = format!(
        r#"<s:Envelope xmlns:s="{S}"><s:Body><IdentifyResponse xmlns="http://schemas.dmtf.org/wbem/wsman/identify/1/wsmanidentity.xsd"><ProtocolVersion>v</ProtocolVersion></IdentifyResponse></s:Body></s:Envelope>"#
    );
    assert!(matches!(
        IdentifyResponse::decode(&wrong_ns),
        Err(DecodeError::UnexpectedNamespace { expected, .. }) if expected == WSMID
    ));
    // Junk inside SecurityProfiles.
    let junk = envelope(&format!(
        "<wsmid:IdentifyResponse><wsmid:ProtocolVersion>{}</wsmid:ProtocolVersion><wsmid:SecurityProfiles><wsmid:Other/></wsmid:SecurityProfiles></wsmid:IdentifyResponse>",
        ns::WSMAN
    ));
    assert!(matches!(
        IdentifyResponse::decode(&junk),
        Err(DecodeError::InvalidValue { ref path, .. }) if path.ends_with("/SecurityProfiles")
    ));
    // Not an envelope, not XML, no body, over the limit, a DTD.
    assert!(matches!(
        Identify::decode("<wsmid:Identify xmlns:wsmid=\"x\"/>"),
        Err(DecodeError::NotAnEnvelope { .. })
    ));
    assert!(matches!(
        Identify::decode("<s:Envelope"),
        Err(DecodeError::MalformedXml { .. })
    ));
    assert_eq!(
        Identify::decode(format!(
            r#"<s:Envelope xmlns:s="{S}"><s:Header/></s:Envelope>"#
        )),
        Err(DecodeError::MissingElement {
            path: "Envelope/Body".into()
        })
    );
    let limits = DecodeLimits {
        max_bytes: 64,
        ..DecodeLimits::default()
    };
    assert!(matches!(
        Identify::decode_with(envelope("<wsmid:Identify/>").as_bytes(), &limits),
        Err(DecodeError::TooLarge { .. })
    ));
    assert_eq!(
        Identify::decode(format!(
            "<!DOCTYPE x [<!ENTITY a \"b\">]>{}",
            envelope("<wsmid:Identify/>")
        )),
        Err(DecodeError::DtdNotAllowed)
    );
    // An IdentifyResponse is not an Identify, and the reverse.
    let reply = IdentifyResponse {
        protocol_versions: vec![ns::WSMAN.into()],
        ..IdentifyResponse::default()
    }
    .encode();
    assert!(Identify::decode(&reply).is_err());
    assert!(IdentifyResponse::decode(Identify.encode()).is_err());
}

fn text() -> impl Strategy<Value = String> {
    // Printable text with markup characters and inner spaces (decoding trims the ends).
    "[a-zA-Z0-9 :/.<>&\"'-]{0,40}".prop_map(|s| s.trim().to_owned())
}

proptest! {
    #[test]
    fn generated_replies_round_trip(
        versions in prop::collection::vec(text(), 1..3),
        vendor in prop::option::of(text()),
        version in prop::option::of(text()),
        profiles in prop::option::of(prop::collection::vec(text(), 0..4)),
        extension in any::<bool>(),
    ) {
        let other = if extension {
            vec![Element::new(Some("urn:x"), "Ext").with_attr("k", "v").with_text("t")]
        } else {
            Vec::new()
        };
        let r = IdentifyResponse {
            protocol_versions: versions,
            product_vendor: vendor,
            product_version: version,
            security_profiles: profiles,
            other,
        };
        let xml = r.encode();
        prop_assert_eq!(IdentifyResponse::decode(&xml).unwrap(), r, "{}", xml);
    }
}

#[test]
fn the_answers_the_emulator_gives_round_trip() {
    for r in [
        IdentifyResponse {
            protocol_versions: vec![PROTOCOL_VERSION_WSMAN_1.into()],
            product_vendor: Some(VENDOR_MICROSOFT.into()),
            product_version: Some(UNAUTHENTICATED_PRODUCT_VERSION.into()),
            security_profiles: None,
            other: Vec::new(),
        },
        IdentifyResponse {
            protocol_versions: vec![PROTOCOL_VERSION_WSMAN_1.into()],
            product_vendor: Some(VENDOR_MICROSOFT.into()),
            product_version: Some("OS: 10.0.17763 SP: 0.0 Stack: 3.0".into()),
            security_profiles: Some(vec![PROFILE_HTTP_SPNEGO_KERBEROS.into()]),
            other: Vec::new(),
        },
    ] {
        assert_eq!(IdentifyResponse::decode(r.encode()).unwrap(), r);
    }
}
