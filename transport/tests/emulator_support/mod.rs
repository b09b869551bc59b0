//! What the transport's tests against the in-process emulator (its echo service) share: an
//! empty envelope, posting it, and the checks of sealed round trips.

use std::time::Duration;

use wsman_transport::{HttpTransport, Lane, Transport, TransportError};

pub const ENVELOPE: &str = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header/><s:Body/></s:Envelope>"#;

/// Posts [`ENVELOPE`] on `lane`; the echo's reply body (status 200).
pub async fn post(t: &HttpTransport, lane: Lane) -> Result<String, TransportError> {
    let reply = t
        .post(lane, ENVELOPE.as_bytes().to_vec(), Duration::from_secs(10))
        .await?;
    assert_eq!(reply.status, 200);
    Ok(String::from_utf8(reply.body).expect("utf-8 reply"))
}

/// Posts on the control and the receive lane at once: both arrive from alice, sealed. `what`
/// names the case in a failure.
pub async fn assert_sealed_on_two_lanes(t: &HttpTransport, what: &str) {
    let (a, b) = tokio::join!(post(t, Lane::CONTROL), post(t, Lane::RECEIVE));
    for body in [a.unwrap(), b.unwrap()] {
        assert!(body.contains(r#"User="alice""#), "{what}: {body}");
        assert!(body.contains(r#"Encrypted="true""#), "{what}: {body}");
    }
}

/// Posts [`ENVELOPE`] followed by `padding` spaces: the echo reports the plaintext length.
pub async fn assert_large_round_trip(t: &HttpTransport, padding: usize) {
    let big = format!("{ENVELOPE}{}", " ".repeat(padding));
    let reply = t
        .post(
            Lane::CONTROL,
            big.clone().into_bytes(),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    let body = String::from_utf8(reply.body).unwrap();
    assert!(
        body.contains(&format!(r#"Length="{}""#, big.len())),
        "{body}"
    );
}
