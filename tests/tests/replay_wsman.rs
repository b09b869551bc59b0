//! Replays of pypsrp's WS-Management-level scenarios: MaxEnvelopeSize negotiation through a Get
//! on the config resource (`test_wsman_update_envelope_size_*`).

use sessions::ClientOptions;
use tests::replay::replay;

async fn envelope_size(stem: &str, expected: u32) {
    replay(stem, ClientOptions::default(), |c| async move {
        if c.max_envelope_size() != 153_600 {
            return Err(format!("default size {}", c.max_envelope_size()));
        }
        let size = c
            .negotiate_max_envelope_size()
            .await
            .map_err(|e| e.to_string())?;
        if size != expected || c.max_envelope_size() != expected {
            return Err(format!("negotiated {size}, expected {expected}"));
        }
        Ok(())
    })
    .await
    .assert_passed();
}

#[tokio::test]
async fn test_wsman_update_envelope_size_150() {
    envelope_size("test_wsman_update_envelope_size_150", 150 * 1024).await;
}

#[tokio::test]
async fn test_wsman_update_envelope_size_500() {
    envelope_size("test_wsman_update_envelope_size_500", 500 * 1024).await;
}

#[tokio::test]
async fn test_wsman_update_envelope_size_4096() {
    envelope_size("test_wsman_update_envelope_size_4096", 4096 * 1024).await;
}
