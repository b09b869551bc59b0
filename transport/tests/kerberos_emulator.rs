//! End to end: the transport's Kerberos client against the emulator's Kerberos acceptor (its
//! echo service), with tickets from a real MIT KDC (scripts/test-kdc) and the realm's keytab on
//! the emulator: sealed requests on two lanes (two contexts), a large sealed round trip, and
//! an unencrypted request refused when the emulator requires encryption; the same through
//! `AuthMethod::Negotiate`, whose SPNEGO carries Kerberos when the KDC is known.

mod emulator_support;
#[path = "../../emulator/tests/kdc_support/mod.rs"]
mod kdc_support;

use emulator::http::EchoService;
use emulator::{Config, Emulator};
use emulator_support::{assert_large_round_trip, assert_sealed_on_two_lanes, post};
use kdc_support::Realm;
use wsman_transport::{
    AuthMethod, ConnectionConfig, Credentials, Encryption, HttpTransport, Lane, TransportError,
};

fn config(realm: &Realm) -> Config {
    Config::from_toml(&format!(
        "computer_name = \"SERVER01\"\n\
         [[users]]\nname = \"alice\"\npassword = \"unused-by-kerberos\"\nadmin = true\n\
         [service]\nauth = [\"kerberos\"]\nallow_unencrypted = false\n\
         [kerberos]\nkeytab = \"{}\"\n",
        realm.keytab().display()
    ))
    .expect("test configuration parses")
}

fn client(emu: &Emulator, realm: &Realm) -> ConnectionConfig {
    ConnectionConfig::from_url(&emu.url())
        .expect("emulator url")
        .auth(
            AuthMethod::Kerberos,
            Credentials::new(realm.principal(), realm.password()),
        )
        .kdc(realm.kdc_addr().to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn our_kerberos_client_against_the_emulator_acceptor() {
    let realm = Realm::start();
    let emu = Emulator::start(config(&realm), EchoService).await.unwrap();
    let t = HttpTransport::new(client(&emu, &realm)).unwrap();
    for _ in 0..2 {
        // alice@PSRM.TEST is the configured user alice; both lanes sealed.
        assert_sealed_on_two_lanes(&t, "kerberos").await;
    }
    assert_large_round_trip(&t, 60_000).await;

    let plain = HttpTransport::new(client(&emu, &realm).encryption(Encryption::Never)).unwrap();
    let e = post(&plain, Lane::CONTROL).await.unwrap_err();
    assert!(matches!(e, TransportError::UnencryptedRefused), "{e:?}");
    emu.shutdown().await;
}

/// Negotiate with a known KDC: SPNEGO with Kerberos inside. The emulator only has Kerberos
/// enabled, so an NTLM fallback would be refused: the sealed echo proves Kerberos in SPNEGO
/// (the emulator answers accept-completed with the AP-REP and no mechListMIC, which must be
/// enough) and the Kerberos session sealing application/HTTP-SPNEGO-session-encrypted parts.
#[tokio::test(flavor = "multi_thread")]
async fn negotiate_carries_kerberos_to_the_emulator_acceptor() {
    let realm = Realm::start();
    let emu = Emulator::start(config(&realm), EchoService).await.unwrap();
    let negotiate = |c: ConnectionConfig| {
        c.auth(
            AuthMethod::Negotiate,
            Credentials::new(realm.principal(), realm.password()),
        )
        // The emulator listens on an IP address: name the service for a ticket.
        .spn("HTTP/localhost")
    };
    let t = HttpTransport::new(negotiate(client(&emu, &realm))).unwrap();
    assert!(t.config().seals());
    for _ in 0..2 {
        assert_sealed_on_two_lanes(&t, "negotiate (kerberos)").await;
    }
    assert_large_round_trip(&t, 60_000).await;

    // Without the SPN the target is an IP address: NTLM, which this emulator refuses.
    let ntlm = HttpTransport::new(client(&emu, &realm).auth(
        AuthMethod::Negotiate,
        Credentials::new(realm.principal(), realm.password()),
    ))
    .unwrap();
    let e = post(&ntlm, Lane::CONTROL).await.unwrap_err();
    assert!(e.is_auth(), "{e:?}");
    emu.shutdown().await;
}
