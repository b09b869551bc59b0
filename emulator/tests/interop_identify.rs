//! Identify (DSP0226 §11, what `Test-WSMan` sends) against the emulator's WS-Management service,
//! from real Python HTTP clients (`tests/interop/identify.py`): plain `requests` with and
//! without `WSMANIDENTIFY: unauthenticated`, pypsrp's and pywinrm's authenticated transports
//! (NTLM with message encryption). pypsrp 0.9.1 has no Identify call of its own
//! (`pypsrp.wsman.WSMan` offers none), so its transport sends the request. A missing peer
//! fails the test.

mod http_support;

use http_support::{ALICE_PW, interop_line, server_config, start_wsman};

use emulator::service::identify::PRODUCT_VERSION;
use emulator::{Config, Emulator};
use serde_json::Value;
use wsman::identify;

fn config() -> Config {
    // Plaintext SOAP over HTTP refused: the unauthenticated Identify is answered anyway (as
    // Windows answers Test-WSMan), everything authenticated had to be sealed.
    server_config(
        true,
        false,
        "[service]\nallow_unencrypted = false\nauth = [\"basic\", \"negotiate\", \"ntlm\"]\n",
    )
}

async fn start(cfg: Config) -> Emulator {
    start_wsman(cfg, false, false).await
}

fn peer(args: &[&str]) -> impl std::future::Future<Output = Value> + use<> {
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    run_peer(args)
}

async fn run_peer(args: Vec<String>) -> Value {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let line = interop_line("identify.py", &args, [("PSRM_TEST_PASSWORD", ALICE_PW)]).await;
    let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert!(v.get("error").is_none(), "peer failed: {v}");
    v
}

fn common(v: &Value) {
    assert_eq!(v["status"], 200, "{v}");
    assert_eq!(v["wsmid"], wsman::ns::IDENTITY, "{v}");
    assert_eq!(
        v["ProtocolVersion"],
        identify::PROTOCOL_VERSION_WSMAN_1,
        "{v}"
    );
    assert_eq!(v["ProductVendor"], "Microsoft Corporation", "{v}");
    assert_eq!(
        v["header_children"], 0,
        "an Identify reply has an empty header: {v}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unauthenticated_identify_over_raw_http() {
    let emu = start(config()).await;
    let url = emu.url();
    let (with_header, without_header, get_with_header) = tokio::join!(
        peer(&["raw", &url, "1", "identify"]),
        peer(&["raw", &url, "0", "identify"]),
        peer(&["raw", &url, "1", "get"]),
    );
    common(&with_header);
    assert_eq!(
        with_header["ProductVersion"],
        "OS: 0.0.0 SP: 0.0 Stack: 3.0"
    );
    assert_eq!(
        with_header["SecurityProfiles"],
        Value::Null,
        "{with_header}"
    );
    // Without the header, or with it on anything but an Identify: the usual challenge.
    assert_eq!(without_header["status"], 401, "{without_header}");
    assert_eq!(get_with_header["status"], 401, "{get_with_header}");
    emu.shutdown().await;

    // A service that does not take unauthenticated requests (the HTTP layer's test echo):
    // the header alone opens nothing.
    let echo = http_support::start(config()).await;
    let refused = peer(&["raw", &echo.url(), "1", "identify"]).await;
    assert_eq!(refused["status"], 401, "{refused}");
    echo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn authenticated_identify_from_pypsrp_and_pywinrm() {
    let emu = start(config()).await;
    let url = emu.url();
    let port = emu.local_addr().port().to_string();
    let (pypsrp, pywinrm, wrong_password) = tokio::join!(
        peer(&["pypsrp", "127.0.0.1", &port, "alice", "negotiate", "auto"]),
        peer(&["pywinrm", &url, "alice", "ntlm", "always"]),
        peer(&["pypsrp", "127.0.0.1", &port, "mallory", "negotiate", "auto"]),
    );
    let profiles = serde_json::json!([
        identify::PROFILE_HTTP_BASIC,
        identify::PROFILE_HTTP_SPNEGO_KERBEROS
    ]);
    for v in [&pypsrp, &pywinrm] {
        common(v);
        assert_eq!(v["ProductVersion"], PRODUCT_VERSION, "{v}");
        assert_eq!(v["ProductVersion"], "OS: 10.0.17763 SP: 0.0 Stack: 3.0");
        assert_eq!(v["SecurityProfiles"], profiles, "{v}");
    }
    assert_eq!(wrong_password["status"], 401, "{wrong_password}");
    emu.shutdown().await;
}
