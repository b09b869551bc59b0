use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

use super::*;

/// The PUBLIC_KEY blob pypsrp sent to Windows in `test_psrp_multiple_commands.yml`.
const FIXTURE_PUBLIC_KEY: &str = "BgIAAACkAABSU0ExAAgAAAEAAQBvH62/q5haEUStHGs+p3e5TIR1xaL+Ab9pYjd1pB4oYN1Rbru+i2BpzCNAvmE+y018u0idwQnoE70Pvq16bcxeXiaXajuKrqx+e+cg/Yu0emyZZspUN8opTPXceSEVXR8jhpSrnpI6ziP0ek+/Mu7836HJ5DnikE6h7tSk1sRnJ3XVQFS8EbcfI+sigy30rJjZA/aD1HRpXpyoABoK8hSpihvnJcVNr3uY8DibjLSKIoeGF3nK0V3peMUC3cbxjvwOsGjFPBCuA/exOKkNuPEraLtEv1PvaFmRFUR0M9lj4WjKMhU8sle04IZJlYTvX6xuX8nYS1P3RsRdsqa0YpnD";

/// The ENCRYPTED_SESSION_KEY blob Windows answered with in the same capture.
const FIXTURE_SESSION_KEY: &str = "AQIAABBmAAAApAAAyiHuF/hQKKq/XcqpzNRoVsSjI3deLpXbcwpKWdlsxSKS/5c0Mw3d0Wj3YGCZRjbQXbY2mG8/KyrXgt0sK7891btBvIO1rlMzRmiyv5IygUtBOHm3cknyCPNEJ68JK93m01lo4UPe7bLcINFWla4dOPl55cFlKqo7JnWpzD3jp8rYCjtJlM4fUG2GUt+doHJVL9uZV3jxSatwQnSMe3QFuZWYbUU0pCutdb/SQiByM4KIch3Tq5N1mFjVnBLJUClwZL/a4fU4VwGqPmhw8f60EdJP6iaixln/iyZ0WZse6dd0ys1WdidLVl5jVR5EbUC/oLmEfx1xb4p5Dck1DBb5cw==";

fn rng(seed: u8) -> ChaCha20Rng {
    ChaCha20Rng::from_seed([seed; 32])
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn fixture_public_key_parses_and_reencodes() {
    let key = PublicKey::from_base64(FIXTURE_PUBLIC_KEY).unwrap();
    assert_eq!(key.bits(), 2048);
    assert_eq!(key.exponent(), Some(65537));
    assert_eq!(key.to_base64(), FIXTURE_PUBLIC_KEY);
    // The server side can encrypt to a real client's key.
    let sk = SessionKey::from_bytes([7; 32]);
    let enc = key.encrypt_session_key(&sk, &mut rng(1)).unwrap();
    assert_eq!(enc.ciphertext().len(), 256);
}

#[test]
fn fixture_session_key_blob_parses_and_reencodes() {
    let blob = EncryptedSessionKey::from_base64(FIXTURE_SESSION_KEY).unwrap();
    assert_eq!(blob.ciphertext().len(), 256);
    assert_eq!(blob.to_base64(), FIXTURE_SESSION_KEY);
    let raw = STANDARD.decode(FIXTURE_SESSION_KEY).unwrap();
    // The blob stores the ciphertext reversed.
    assert_eq!(blob.ciphertext()[0], *raw.last().unwrap());
}

#[test]
fn client_server_exchange_round_trips() {
    let client = ExchangeKey::generate_with_bits(&mut rng(2), 1024).unwrap();
    let sent = client.public_key().to_base64();
    let blob = STANDARD.decode(&sent).unwrap();
    assert_eq!(
        &blob[..12],
        &[6, 2, 0, 0, 0, 0xa4, 0, 0, b'R', b'S', b'A', b'1']
    );
    assert_eq!(&blob[12..16], &1024u32.to_le_bytes());
    assert_eq!(blob.len(), 20 + 128);

    let server_view = PublicKey::from_base64(&sent).unwrap();
    assert_eq!(server_view, client.public_key());
    let session = SessionKey::generate(&mut rng(3));
    let answer = server_view
        .encrypt_session_key(&session, &mut rng(4))
        .unwrap()
        .to_base64();
    let answer_blob = STANDARD.decode(&answer).unwrap();
    assert_eq!(
        &answer_blob[..12],
        &[1, 2, 0, 0, 0x10, 0x66, 0, 0, 0, 0xa4, 0, 0]
    );

    let got = client.decrypt_session_key(&EncryptedSessionKey::from_base64(&answer).unwrap());
    assert_eq!(got.unwrap(), session);

    // Another client's key cannot read it.
    let other = ExchangeKey::generate_with_bits(&mut rng(5), 1024).unwrap();
    assert!(
        other
            .decrypt_session_key(&EncryptedSessionKey::from_base64(&answer).unwrap())
            .is_err()
    );
}

#[test]
fn secure_string_matches_psrpcore_vectors() {
    let key = SessionKey::from_bytes(core::array::from_fn(|i| i as u8));
    for (text, expected) in [
        (
            "Password123!",
            "5ac79d2503122cf2d3b817f13a3af993ef4b8880db337191d5ba890735eec998",
        ),
        ("", "9f3b7504926f8bd36e3118e903a4cd4a"),
        ("ünï€😀", "be483faa9d12024213f3d6e900604f37"),
    ] {
        let enc = key.encrypt_secure_string(text);
        assert_eq!(enc, hex(expected), "{text}");
        assert_eq!(key.decrypt_secure_string(&enc).unwrap(), text);
    }
}

#[test]
fn secure_string_rejects_bad_input() {
    let key = SessionKey::from_bytes([1; 32]);
    assert!(key.decrypt_secure_string(&[]).is_err());
    assert!(key.decrypt_secure_string(&[0; 15]).is_err());
    let enc = key.encrypt_secure_string("secret");
    let wrong = SessionKey::from_bytes([2; 32]);
    // A wrong key fails the padding check (or, rarely, the UTF-16 check); never panics.
    assert_ne!(wrong.decrypt_secure_string(&enc), Ok("secret".to_owned()));
}

#[test]
fn malformed_blobs_are_typed_errors() {
    let good = STANDARD.decode(FIXTURE_PUBLIC_KEY).unwrap();
    assert!(matches!(
        PublicKey::from_blob(&good[..19]),
        Err(CryptoError::PublicKeyBlob(_))
    ));
    assert!(matches!(
        PublicKey::from_blob(&good[..good.len() - 1]),
        Err(CryptoError::PublicKeyBlob(_))
    ));
    let mut bad = good.clone();
    bad[8] = b'X';
    assert_eq!(
        PublicKey::from_blob(&bad),
        Err(CryptoError::PublicKeyBlob("magic is not RSA1"))
    );
    let mut bad = good.clone();
    bad[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        PublicKey::from_blob(&bad),
        Err(CryptoError::PublicKeyBlob(_))
    ));
    assert_eq!(PublicKey::from_base64("!!"), Err(CryptoError::Base64));

    let good = STANDARD.decode(FIXTURE_SESSION_KEY).unwrap();
    let mut bad = good.clone();
    bad[4] = 0x0e; // CALG_AES_128
    assert!(matches!(
        EncryptedSessionKey::from_blob(&bad),
        Err(CryptoError::SessionKeyBlob(_))
    ));
    assert!(matches!(
        EncryptedSessionKey::from_blob(&good[..12]),
        Err(CryptoError::SessionKeyBlob(_))
    ));
}
