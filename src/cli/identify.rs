//! `psrm test-wsman`: WS-Management Identify, as PowerShell's `Test-WSMan`.
//!
//! Prints what the service reports about itself in `Test-WSMan`'s list layout (`wsmid`,
//! `ProtocolVersion`, `ProductVendor`, `ProductVersion`, then the security profiles when the
//! service lists them), or one JSON document with `--json`.
//!
//! Like `Test-WSMan`, whose `-Authentication` defaults to `None`, the request goes without
//! credentials (HTTP header `WSMANIDENTIFY: unauthenticated`; Windows then hides the OS version)
//! with `--unauthenticated`, or when no user is given (`-u`, PSRM_USER) and `--auth` is not
//! `certificate`; with a user (or a client certificate) it is `Test-WSMan -Authentication …`,
//! sent with the connection's credentials.

use anyhow::Context;
use clap::Args;
use serde_json::json;
use wsman::identify::IdentifyResponse;

use super::conn::{self, AuthArg, GlobalArgs};

/// `psrm test-wsman`.
#[derive(Clone, Debug, Args)]
pub struct TestWsManArgs {
    /// Send the Identify without any credentials (Test-WSMan without -Authentication): no
    /// password is asked for; the service hides its OS version. The default when no user is
    /// given.
    #[arg(long)]
    pub unauthenticated: bool,
}

impl TestWsManArgs {
    /// Whether the Identify goes without credentials: `--unauthenticated`, or no user and no
    /// client certificate to authenticate with (Test-WSMan's `-Authentication None` default).
    fn unauthenticated(&self, g: &GlobalArgs) -> bool {
        self.unauthenticated
            || (g.user.as_deref().is_none_or(str::is_empty) && g.auth != AuthArg::Certificate)
    }
}

/// Sends the Identify and prints the answer.
pub async fn test_wsman(g: &GlobalArgs, a: &TestWsManArgs) -> anyhow::Result<i32> {
    let store = g.store()?;
    let (c, identity) = if a.unauthenticated(g) {
        let c = conn::connect_unauthenticated(g, &store, None)?;
        let id = c.client.identify_unauthenticated().await;
        (c, id)
    } else {
        let c = conn::connect(g, &store, None)?;
        let id = c.client.identify().await;
        (c, id)
    };
    let identity = identity.with_context(|| format!("{} did not answer the Identify", c.host))?;
    if g.json {
        println!("{}", to_json(&c.host, &identity));
    } else {
        print!("{}", list(&identity));
    }
    Ok(0)
}

/// `Test-WSMan`'s list layout: names padded to one column, then ` : ` and the value; lists as
/// PowerShell shows a collection (`{a, b}`).
fn list(r: &IdentifyResponse) -> String {
    let collection = |items: &[String]| match items {
        [one] => one.clone(),
        many => format!("{{{}}}", many.join(", ")),
    };
    let mut rows = vec![
        ("wsmid", wsman::ns::IDENTITY.to_owned()),
        ("ProtocolVersion", collection(&r.protocol_versions)),
        (
            "ProductVendor",
            r.product_vendor.clone().unwrap_or_default(),
        ),
        (
            "ProductVersion",
            r.product_version.clone().unwrap_or_default(),
        ),
    ];
    if let Some(profiles) = &r.security_profiles {
        rows.push(("SecurityProfiles", format!("{{{}}}", profiles.join(", "))));
    }
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(k, v)| format!("{k:<width$} : {v}\n"))
        .collect()
}

fn to_json(host: &str, r: &IdentifyResponse) -> serde_json::Value {
    json!({
        "ComputerName": host,
        "wsmid": wsman::ns::IDENTITY,
        "ProtocolVersion": r.protocol_versions.first(),
        "ProtocolVersions": r.protocol_versions,
        "ProductVendor": r.product_vendor,
        "ProductVersion": r.product_version,
        "OSVersion": r.os_version(),
        "SecurityProfiles": r.security_profiles,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_layout_matches_test_wsman() {
        let r = IdentifyResponse {
            protocol_versions: vec![wsman::ns::WSMAN.to_owned()],
            product_vendor: Some("Microsoft Corporation".into()),
            product_version: Some("OS: 0.0.0 SP: 0.0 Stack: 3.0".into()),
            ..IdentifyResponse::default()
        };
        assert_eq!(
            list(&r),
            concat!(
                "wsmid           : http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd\n",
                "ProtocolVersion : http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd\n",
                "ProductVendor   : Microsoft Corporation\n",
                "ProductVersion  : OS: 0.0.0 SP: 0.0 Stack: 3.0\n",
            )
        );
        let r = IdentifyResponse {
            security_profiles: Some(vec!["a".into(), "b".into()]),
            protocol_versions: vec!["v1".into(), "v2".into()],
            ..r
        };
        let text = list(&r);
        assert!(text.contains("\nProtocolVersion  : {v1, v2}\n"), "{text}");
        assert!(text.ends_with("\nSecurityProfiles : {a, b}\n"), "{text}");
        let doc = to_json("h", &r);
        assert_eq!(doc["ProtocolVersion"], "v1");
        assert_eq!(doc["SecurityProfiles"], json!(["a", "b"]));
        assert_eq!(doc["OSVersion"], serde_json::Value::Null);
    }
}
