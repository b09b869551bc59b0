//! Entry points for the fuzz targets under `fuzz/` (hidden; not an API, may change at any
//! time). They drive the acceptors exactly as the HTTP layer does, with a fixed configuration.

use super::{ConnectionAuth, Step, credssp, kerberos, spnego};
use crate::config::{AuthScheme, Config};
use crate::keytab::Keytab;

/// Users `alice` / `pw`, every token scheme enabled, the keys of `keytab` (ignored when it
/// does not parse) and a clock skew of ten years, so that recorded AP-REQs get past the time
/// checks to the acceptor's later ones.
pub fn config(keytab: &[u8]) -> Config {
    let mut config = Config::from_toml(
        "computer_name = \"SERVER01\"\n[[users]]\nname = \"alice\"\npassword = \"pw\"\n",
    )
    .unwrap_or_default();
    config.service.auth = vec![
        AuthScheme::Basic,
        AuthScheme::Ntlm,
        AuthScheme::Negotiate,
        AuthScheme::Kerberos,
        AuthScheme::CredSsp,
    ];
    config.kerberos.keys = Keytab::parse(keytab).unwrap_or_default();
    config.kerberos.max_clock_skew_secs = 10 * 365 * 24 * 3600;
    config
}

/// Successive `Authorization: Negotiate|NTLM` tokens on one connection (`kerberos`: the first
/// comes as `Authorization: Kerberos`). Once a leg authenticates, the following legs are
/// sealed messages: each is cut into signature and data and unsealed, then sealed again.
/// Returns whether the connection authenticated.
pub fn connection(config: &Config, kerberos: bool, legs: &[&[u8]]) -> bool {
    let mut auth = ConnectionAuth::default();
    let mut legs = legs.iter();
    for (i, leg) in legs.by_ref().enumerate() {
        let step = if kerberos && i == 0 {
            auth.step_kerberos(config, leg)
        } else {
            auth.step(config, leg)
        };
        match step {
            Step::Done(_) => break,
            Step::Continue(_) => {}
            Step::Rejected => return false,
        }
    }
    let Some(established) = auth.established() else {
        return false;
    };
    for leg in legs {
        let cut = leg.first().map_or(0, |b| usize::from(*b)).min(leg.len());
        let (signature, sealed) = leg.split_at(cut);
        let _ = established.unseal(signature, sealed);
        let _ = established.seal(sealed);
    }
    true
}

/// Successive TSRequests of one CredSSP exchange, as decrypted from the inner TLS session
/// (each contained, as the HTTP layer's step is: a panic in sspi is a refusal). Returns whether the delegated credentials were accepted.
pub fn credssp_ts_requests(config: &Config, legs: &[&[u8]]) -> bool {
    let Some(mut acceptor) = credssp::Acceptor::new() else {
        return false;
    };
    for leg in legs {
        // Contained as `ConnectionAuth::step_credssp` contains the whole step.
        match super::contain(|| acceptor.ts_request(config, leg))
            .unwrap_or(Ok(credssp::Leg::Rejected))
        {
            Ok(credssp::Leg::Continue(_)) => {}
            Ok(credssp::Leg::Authenticated(_)) => return true,
            Ok(credssp::Leg::Rejected) | Err(_) => return false,
        }
    }
    false
}

/// The token readers on their own. Panics when a NegTokenResp does not survive
/// encode → parse unchanged, or a Kerberos offer names a framing its token does not have.
pub fn tokens(token: &[u8]) {
    if let Some(resp) = spnego::parse_resp(token) {
        let again = spnego::encode_resp(&resp);
        let back = spnego::parse_resp(&again).expect("an encoded NegTokenResp parses");
        assert_eq!(back.neg_state, resp.neg_state);
        assert_eq!(back.supported_mech, resp.supported_mech);
        assert_eq!(back.response_token, resp.response_token);
        assert_eq!(back.mech_list_mic, resp.mech_list_mic);
    }
    let init = spnego::parse_init(token);
    if let Some(offer) = kerberos::offer(token) {
        match offer.framing {
            kerberos::Framing::Raw => assert!(init.is_none()),
            kerberos::Framing::Spnego(mech) => {
                assert_eq!(init.map(|i| i.first_mech), Some(mech));
            }
        }
    }
}
