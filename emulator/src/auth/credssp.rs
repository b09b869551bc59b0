//! The CredSSP acceptor (MS-CSSP) as WinRM runs it over HTTP: `Authorization: CredSSP <b64>`
//! legs carrying the records of an inner TLS session, answered by `WWW-Authenticate: CredSSP
//! <b64>` on 401 replies until the client has delegated its credentials.
//!
//! ```text
//!  ClientHello ─► ServerHello … Done     (TLS 1.2 handshake, rustls over memory buffers)
//!  KeyExchange … Finished ─► … Finished
//!  TSRequest{NEGOTIATE} ─► TSRequest{CHALLENGE}                      (sspi CredSspServer, NTLM)
//!  TSRequest{AUTHENTICATE, pubKeyAuth, nonce} ─► TSRequest{pubKeyAuth}
//!  TSRequest{authInfo = TSPasswordCreds} ─► 200 with the reply to the request body
//! ```
//!
//! The negoTokens carry raw NTLM (pywinrm's `credssp_auth_mechanism='ntlm'`) or SPNEGO with
//! NTLM inside (`'auto'`, the default, and Windows): a NegTokenInit naming NTLM (first, with
//! its NEGOTIATE, or later, after which the NEGOTIATE comes in a NegTokenResp as over HTTP),
//! then NegTokenResps. With SPNEGO the AUTHENTICATE leg also carries the initiator's
//! mechListMIC, and the answer to it must carry the acceptor's next to pubKeyAuth (the
//! initiator verifies that MIC, at NTLM sequence number 0, before it unwraps pubKeyAuth at 1).
//! sspi's CredSSP server computes that MIC but drops it when pubKeyAuth is in the same
//! TSRequest, so such a TSRequest is fed to it in two halves (the SPNEGO token, then
//! pubKeyAuth) and the two answers are joined.
//!
//! Kerberos inside (pywinrm's `credssp_auth_mechanism='kerberos'`, as a domain member's
//! CredSSP) is run here, not by sspi: the first negoToken is a raw GSS krb5 AP-REQ, checked by
//! the emulator's own acceptor ([`kerberos::accept`]: keytab, client principal mapped to a
//! configured user); the answer carries the AP-REP (mutual authentication is required: the
//! initiator waits for a negoToken). Then pubKeyAuth (the inner TLS key, or its v5+ hash with
//! the client nonce) comes as an RFC 4121 wrap token, is checked and answered with the server's
//! value wrapped the same way, and authInfo (TSCredentials) comes wrapped too. A SPNEGO offer
//! with krb5 first still gets NTLM (the SPNEGO path above).
//!
//! sspi runs the exchange, but is not trusted alone with the password (as for plain NTLM): the
//! AUTHENTICATE message inside the TSRequest is checked here against the configured user's
//! password, and the delegated TSPasswordCreds must name that same user and carry exactly the
//! configured password (compared in constant time).
//!
//! The inner TLS session uses an RSA certificate (clients such as pyspnego read the key as
//! PKCS#1, which has no form for other key types), generated with rcgen at first use from the
//! emulator's own fixed test key. Over HTTP, bodies are then sealed with the inner session
//! ([`Session`]): each `multipart/encrypted` part is one TLS record.

use std::io::{Read as _, Write as _};
use std::sync::{Arc, OnceLock};

use sspi::credssp::{CredSspServer, CredentialsProxy, ServerMode, ServerState, TsRequest};
use sspi::ntlm::NtlmConfig;
use sspi::{AuthIdentity, CredentialsBuffers, NegotiateConfig, Secret, Username};
use subtle::ConstantTimeEq;
use tokio_rustls::rustls::{self, ServerConnection};

use super::{kerberos, ntlm, spnego};
use crate::config::{Config, User};

/// The emulator's own RSA key for the inner TLS session (never used for anything else).
const INNER_KEY_PEM: &str = include_str!("credssp_key.pem");
/// Largest token (one leg) accepted, decoded.
const MAX_TOKEN: usize = 64 * 1024;

/// The inner TLS server configuration and the certificate's SubjectPublicKey (PKCS#1).
struct Inner {
    tls: Arc<rustls::ServerConfig>,
    public_key: Vec<u8>,
}

fn inner() -> Option<&'static Inner> {
    static INNER: OnceLock<Option<Inner>> = OnceLock::new();
    INNER
        .get_or_init(|| match build_inner() {
            Ok(i) => Some(i),
            Err(e) => {
                tracing::warn!(reason = %e, "credssp: inner tls setup failed");
                None
            }
        })
        .as_ref()
}

fn build_inner() -> Result<Inner, String> {
    let key = rcgen::KeyPair::from_pem(INNER_KEY_PEM).map_err(|e| e.to_string())?;
    let params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned()]).map_err(|e| e.to_string())?;
    let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
    let der_key = rustls_pki_types::PrivateKeyDer::Pkcs8(
        rustls_pki_types::PrivatePkcs8KeyDer::from(key.serialize_der()),
    );
    let mut provider = rustls::crypto::ring::default_provider();
    // AES-GCM only: WinRM clients split each sealed record after a fixed 16-byte "trailer"
    // they derive from the cipher's name (pywinrm knows GCM; ChaCha20 would puzzle it).
    provider.cipher_suites.retain(|s| {
        matches!(
            s.suite(),
            rustls::CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
                | rustls::CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
        )
    });
    let provider = Arc::new(provider);
    // TLS 1.2, as Windows' CredSSP: the handshake ends with the server's Finished, so every leg
    // of the handshake has an answer and the TSRequests start on a clean boundary.
    let tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS12])
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], der_key)
        .map_err(|e| e.to_string())?;
    Ok(Inner {
        tls: Arc::new(tls),
        public_key: key.public_key_raw().to_vec(),
    })
}

/// MS-CSSP 3.1.5: what the client's pubKeyAuth must hold and what the server answers, for the
/// negotiated version: SHA-256 binding hashes with the client nonce (5 and later), else the key
/// itself and the key with its first byte plus one.
fn pub_key_auth(
    public_key: &[u8],
    version: u32,
    nonce: Option<[u8; 32]>,
) -> Result<(Vec<u8>, Vec<u8>), String> {
    match nonce {
        Some(nonce) => {
            let hash = |direction: &[u8]| {
                sha256(&[
                    b"CredSSP ",
                    direction,
                    b" Binding Hash\0",
                    &nonce,
                    public_key,
                ])
            };
            Ok((hash(b"Client-To-Server")?, hash(b"Server-To-Client")?))
        }
        None if version < 5 => {
            let mut answer = public_key.to_vec();
            let first = answer.first_mut().ok_or("empty public key")?;
            *first = first.wrapping_add(1);
            Ok((public_key.to_vec(), answer))
        }
        None => Err("credssp 5 or later without a client nonce".into()),
    }
}

/// SHA-256 over the parts (rustls' ring provider's hash, already linked for the TLS layer).
fn sha256(parts: &[&[u8]]) -> Result<Vec<u8>, String> {
    let suite = rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256
        .tls13()
        .ok_or("no sha-256 provider")?;
    let mut ctx = suite.common.hash_provider.start();
    for part in parts {
        ctx.update(part);
    }
    Ok(ctx.finish().as_ref().to_vec())
}

/// The length of the "signature" part of a sealed CredSSP message: the first bytes of the TLS
/// record (MS-WSMV 2.2.9.1.3; SecPkgContext_StreamSizes' trailer for AES-GCM, as clients compute
/// it). Readers put the two parts back together, so this only has to be consistent.
const TRAILER_LEN: usize = 16;

/// The inner TLS session of an authenticated CredSSP connection: it seals and unseals bodies.
pub(crate) struct Session(ServerConnection);

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").finish_non_exhaustive()
    }
}

impl Session {
    /// The plaintext of one sealed part (`signature` and `sealed` are one TLS record, cut).
    pub(crate) fn unseal(&mut self, signature: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        for mut input in [signature, sealed] {
            while !input.is_empty() {
                self.0.read_tls(&mut input).ok()?;
                self.0.process_new_packets().ok()?;
            }
        }
        let mut plain = Vec::new();
        match self.0.reader().read_to_end(&mut plain) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => return None,
        }
        Some(plain)
    }

    /// Seals one chunk (at most 16 KiB, one TLS record): (signature, sealed).
    pub(crate) fn seal(&mut self, plain: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
        self.0.writer().write_all(plain).ok()?;
        let mut record = Vec::new();
        while self.0.wants_write() {
            self.0.write_tls(&mut record).ok()?;
        }
        if record.len() < TRAILER_LEN {
            return None;
        }
        let sealed = record.split_off(TRAILER_LEN);
        Some((record, sealed))
    }
}

/// What one leg produced.
#[derive(Debug)]
pub(crate) enum Leg {
    /// Answer 401 with this token.
    Continue(Vec<u8>),
    /// The credentials were delegated and check out: the configured user.
    Authenticated(User),
    /// Refused.
    Rejected,
}

/// The configured users, for sspi's NTLM verification.
struct Users(Config);

impl CredentialsProxy for Users {
    type AuthenticationData = AuthIdentity;

    fn auth_data_by_user(&mut self, username: &Username) -> std::io::Result<AuthIdentity> {
        let user = super::ntlm_user(&self.0, username.inner())
            .ok_or_else(|| std::io::Error::other("unknown user"))?;
        Ok(AuthIdentity {
            username: username.clone(),
            password: Secret::from(user.password.clone()),
        })
    }

    /// Every spelling of every user: sspi's Negotiate server picks the identity by name.
    fn auth_data(&mut self) -> std::io::Result<Vec<AuthIdentity>> {
        Ok(self
            .0
            .users
            .iter()
            .flat_map(|u| super::spellings(&self.0, u))
            .collect())
    }
}

/// One CredSSP exchange on one connection.
pub(crate) struct Acceptor {
    tls: ServerConnection,
    public_key: Vec<u8>,
    server: Option<CredSspServer<Users>>,
    /// The NTLM server challenge sspi sent, for the independent check of the AUTHENTICATE.
    server_challenge: Option<[u8; 8]>,
    /// The user whose AUTHENTICATE message (or Kerberos AP-REQ) checked out.
    logon_user: Option<User>,
    /// Kerberos inside: the established context, once the AP-REQ checked out.
    kerberos: Option<Box<kerberos::Session>>,
    /// Kerberos inside: the client's pubKeyAuth checked and answered.
    pub_key_checked: bool,
    /// The negoTokens are SPNEGO (decided by the first one).
    spnego: bool,
}

impl std::fmt::Debug for Acceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acceptor")
            .field("handshaking", &self.tls.is_handshaking())
            .field("logon_user", &self.logon_user.as_ref().map(|u| &u.name))
            .finish_non_exhaustive()
    }
}

impl Acceptor {
    /// A fresh exchange; `None` when the inner TLS cannot be set up.
    pub(crate) fn new() -> Option<Self> {
        let inner = inner()?;
        let tls = ServerConnection::new(inner.tls.clone()).ok()?;
        Some(Self {
            tls,
            public_key: inner.public_key.clone(),
            server: None,
            server_challenge: None,
            logon_user: None,
            kerberos: None,
            pub_key_checked: false,
            spnego: false,
        })
    }

    /// The inner session, for sealing once the exchange has authenticated.
    pub(crate) fn into_session(self) -> Session {
        Session(self.tls)
    }

    /// Feeds one decoded `Authorization: CredSSP` token.
    pub(crate) fn step(&mut self, config: &Config, token: &[u8]) -> Leg {
        if token.len() > MAX_TOKEN {
            return Leg::Rejected;
        }
        match self.advance(config, token) {
            Ok(leg) => leg,
            Err(reason) => {
                tracing::info!(%reason, "credssp logon refused");
                Leg::Rejected
            }
        }
    }

    fn advance(&mut self, config: &Config, token: &[u8]) -> Result<Leg, String> {
        let mut input = token;
        while !input.is_empty() {
            self.tls.read_tls(&mut input).map_err(|e| e.to_string())?;
            self.tls
                .process_new_packets()
                .map_err(|e| format!("inner tls: {e}"))?;
        }
        if self.tls.is_handshaking() {
            return self.flush().map(Leg::Continue);
        }
        let mut plain = Vec::new();
        match self.tls.reader().read_to_end(&mut plain) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(format!("inner tls read: {e}")),
        }
        if plain.is_empty() {
            // The last leg of the handshake: the server's ChangeCipherSpec and Finished.
            let out = self.flush()?;
            return if out.is_empty() {
                Err("empty credssp leg".into())
            } else {
                Ok(Leg::Continue(out))
            };
        }
        self.ts_request(config, &plain)
    }

    /// One TSRequest, decrypted from the inner TLS session: the NTLM / SPNEGO exchange inside.
    pub(super) fn ts_request(&mut self, config: &Config, plain: &[u8]) -> Result<Leg, String> {
        let mut request = TsRequest::from_buffer(plain).map_err(|e| format!("tsrequest: {e}"))?;
        if self.kerberos.is_some() {
            return self.kerberos_leg(config, request);
        }
        if self.server.is_none()
            && let Some(offer) = request.nego_tokens.as_deref().and_then(kerberos::offer)
            && offer.framing == kerberos::Framing::Raw
        {
            let accepted = kerberos::accept(config, &offer).map_err(|e| e.to_string())?;
            let ap_rep = accepted
                .reply
                .ok_or("credssp over kerberos needs mutual authentication")?;
            self.kerberos = Some(accepted.ctx);
            self.logon_user = Some(accepted.user);
            return self.send(&TsRequest {
                version: request.version.min(TsRequest::default().version),
                nego_tokens: Some(ap_rep),
                ..TsRequest::default()
            });
        }
        if self.server.is_none() {
            self.server = Some(self.new_server(config, request.nego_tokens.as_deref())?);
        }
        if let Some(fixed) = self.check_nego_token(config, request.nego_tokens.as_deref())? {
            request.nego_tokens = Some(fixed);
        }
        let Some(server) = self.server.as_mut() else {
            return Err("no credssp server".into());
        };
        // SPNEGO's last leg with pubKeyAuth: in two halves, so the acceptor's mechListMIC is
        // not lost (see the module docs).
        let split = (self.spnego && request.nego_tokens.is_some())
            .then(|| (request.pub_key_auth.take(), request.client_nonce.take()))
            .and_then(|(key, nonce)| key.map(|k| (k, nonce)));
        let version = request.version;
        let mut state = server
            .process(request)
            .resolve_to_result()
            .map_err(|e| format!("credssp: {}", e.error))?;
        if let (Some((pub_key_auth, client_nonce)), ServerState::ReplyNeeded(first)) =
            (split, &state)
        {
            let nego_tokens = first.nego_tokens.clone();
            let second = TsRequest {
                version,
                pub_key_auth: Some(pub_key_auth),
                client_nonce,
                ..TsRequest::default()
            };
            state = server
                .process(second)
                .resolve_to_result()
                .map_err(|e| format!("credssp: {}", e.error))?;
            if let ServerState::ReplyNeeded(reply) = &mut state {
                reply.nego_tokens = nego_tokens;
            }
        }
        match state {
            ServerState::ReplyNeeded(reply) => {
                let inner = match reply.nego_tokens.as_deref() {
                    Some(t) if self.spnego => spnego::parse_resp(t).and_then(|r| r.response_token),
                    other => other,
                };
                if let Some(challenge) = inner.and_then(ntlm::server_challenge) {
                    self.server_challenge = Some(challenge);
                }
                self.send(&reply)
            }
            ServerState::Finished(identity) => {
                self.finish(config, &identity).map(Leg::Authenticated)
            }
        }
    }

    /// Encodes a TSRequest into the inner TLS session: the leg's answer.
    fn send(&mut self, reply: &TsRequest) -> Result<Leg, String> {
        let mut encoded = Vec::new();
        reply
            .encode_ts_request(&mut encoded)
            .map_err(|e| format!("tsrequest encode: {e}"))?;
        self.tls
            .writer()
            .write_all(&encoded)
            .map_err(|e| e.to_string())?;
        self.flush().map(Leg::Continue)
    }

    /// The TSRequests after the AP-REQ with Kerberos inside: pubKeyAuth, then authInfo, each
    /// an RFC 4121 wrap token under the established context.
    fn kerberos_leg(&mut self, config: &Config, request: TsRequest) -> Result<Leg, String> {
        let Some(ctx) = self.kerberos.as_mut() else {
            return Err("no kerberos context".into());
        };
        if request.nego_tokens.is_some() {
            return Err("kerberos token after the ap-req".into());
        }
        match (
            self.pub_key_checked,
            request.pub_key_auth,
            request.auth_info,
        ) {
            (false, Some(sealed), None) => {
                let got = ctx
                    .unwrap(&sealed, &[])
                    .ok_or("pubkeyauth does not unwrap")?;
                let (expected, answer) =
                    pub_key_auth(&self.public_key, request.version, request.client_nonce)?;
                if !bool::from(got.ct_eq(&expected)) {
                    return Err("pubkeyauth does not match the inner tls key".into());
                }
                let (mut head, data) = ctx.wrap(&answer).ok_or("pubkeyauth wrap failed")?;
                head.extend(data);
                self.pub_key_checked = true;
                self.send(&TsRequest {
                    version: request.version.min(TsRequest::default().version),
                    pub_key_auth: Some(head),
                    ..TsRequest::default()
                })
            }
            (true, None, Some(sealed)) => {
                let plain = ctx.unwrap(&sealed, &[]).ok_or("authinfo does not unwrap")?;
                let CredentialsBuffers::AuthIdentity(buffers) =
                    sspi::credssp::read_ts_credentials(plain.as_slice())
                        .map_err(|e| format!("tscredentials: {e}"))?
                else {
                    return Err("delegated credentials are not a password".into());
                };
                let identity = AuthIdentity::try_from(&buffers)
                    .map_err(|e| format!("delegated user name: {e}"))?;
                self.finish(config, &identity).map(Leg::Authenticated)
            }
            _ => Err("unexpected tsrequest in credssp over kerberos".into()),
        }
    }

    /// The first token decides: a raw NTLM NEGOTIATE (sspi's NTLM server), or a SPNEGO
    /// NegTokenInit offering NTLM (sspi's Negotiate server, NTLM only).
    fn new_server(
        &mut self,
        config: &Config,
        first: Option<&[u8]>,
    ) -> Result<CredSspServer<Users>, String> {
        let first = first.ok_or("credssp without a first token")?;
        let mode = if ntlm::message_type(first) == Some(ntlm::NEGOTIATE) {
            ServerMode::Ntlm(NtlmConfig::default())
        } else {
            let init = spnego::parse_init(first).ok_or("neither ntlm nor spnego inside credssp")?;
            let optimistic = init.ntlm_first && init.mech_token.is_some();
            if !init.ntlm_offered
                || (optimistic
                    && init.mech_token.and_then(ntlm::message_type) != Some(ntlm::NEGOTIATE))
            {
                return Err("spnego inside credssp must offer ntlm".into());
            }
            self.spnego = true;
            ServerMode::Negotiate(NegotiateConfig::new(
                Box::new(NtlmConfig::default()),
                Some("ntlm,!kerberos,!pku2u".into()),
                config.computer_name.clone(),
            ))
        };
        CredSspServer::new(self.public_key.clone(), Users(config.clone()), mode)
            .map_err(|e| e.to_string())
    }

    /// The independent check of the AUTHENTICATE message (sspi skips the password check when
    /// there is no MIC). A SPNEGO NegTokenResp is returned rewritten with a negState when it
    /// has none (sspi misreads those).
    fn check_nego_token(
        &mut self,
        config: &Config,
        token: Option<&[u8]>,
    ) -> Result<Option<Vec<u8>>, String> {
        let Some(token) = token else { return Ok(None) };
        let (inner, fixed) = if !self.spnego {
            (Some(token), None)
        } else if spnego::parse_init(token).is_some() {
            // Checked by `new_server`; only the first token may be a NegTokenInit.
            return if self.server_challenge.is_none() && self.logon_user.is_none() {
                Ok(None)
            } else {
                Err("spnego init after the first leg".into())
            };
        } else {
            let resp = spnego::parse_resp(token).ok_or("malformed spnego token inside credssp")?;
            (resp.response_token, Some(super::with_neg_state(&resp)))
        };
        match inner.and_then(ntlm::message_type) {
            Some(ntlm::NEGOTIATE) if self.server_challenge.is_none() => Ok(fixed),
            Some(ntlm::AUTHENTICATE) if self.logon_user.is_none() => {
                let challenge = self
                    .server_challenge
                    .ok_or("authenticate before a challenge")?;
                let user = super::check_authenticate(config, &challenge, inner.unwrap_or_default())
                    .ok_or("ntlm authenticate message refused")?;
                self.logon_user = Some(user);
                Ok(fixed)
            }
            _ => Err("unexpected token inside credssp".into()),
        }
    }

    /// The delegated credentials must name the configured user that logged on (the NTLM user,
    /// or the one the Kerberos client principal maps to: `alice@REALM` delegating as `alice`,
    /// `REALM\\alice` or `alice@REALM`), with that user's configured password: a Kerberos
    /// logon alone does not vouch for a password, so it is checked as for NTLM.
    fn finish(&self, config: &Config, identity: &AuthIdentity) -> Result<User, String> {
        let logon_user = self
            .logon_user
            .as_ref()
            .ok_or("credentials before a logon")?;
        let delegated = super::ntlm_user(config, identity.username.inner())
            .ok_or("delegated credentials name an unknown user")?;
        if delegated.name != logon_user.name {
            return Err("delegated credentials name another user".into());
        }
        // Fixed-size digests, so the time does not depend on where the passwords differ.
        let digest = |p: &str| ntlm::nt_proof_str(p, "", "", &[0; 8], b"credssp");
        let same = digest(identity.password.as_ref()).ct_eq(&digest(&delegated.password));
        if bool::from(same) {
            Ok(delegated.clone())
        } else {
            Err("delegated password does not match".into())
        }
    }

    /// Everything rustls has to send.
    fn flush(&mut self) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        while self.tls.wants_write() {
            self.tls.write_tls(&mut out).map_err(|e| e.to_string())?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn config() -> Config {
        Config::from_toml(
            "computer_name = \"SERVER01\"\n[[users]]\nname = \"alice\"\npassword = \"pw\"\n\
             [[users]]\nname = \"bob\"\npassword = \"pw2\"\n",
        )
        .unwrap()
    }

    fn identity(name: &str, password: &str) -> AuthIdentity {
        AuthIdentity {
            username: Username::parse(name).unwrap(),
            password: Secret::from(password.to_owned()),
        }
    }

    #[test]
    fn inner_certificate_key_is_pkcs1_rsa() {
        let inner = inner().expect("inner tls");
        // RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }, 2048-bit.
        assert_eq!(inner.public_key.first(), Some(&0x30));
        assert!(inner.public_key.len() > 256, "{}", inner.public_key.len());
    }

    #[test]
    fn delegated_credentials_must_repeat_the_ntlm_user_and_password() {
        let config = config();
        let mut acceptor = Acceptor::new().unwrap();
        // No NTLM logon yet: nothing is accepted.
        assert!(acceptor.finish(&config, &identity("alice", "pw")).is_err());
        acceptor.logon_user = config.user("alice").cloned();
        for name in ["alice", "ALICE", ".\\alice", "SERVER01\\alice"] {
            let user = acceptor.finish(&config, &identity(name, "pw"));
            assert_eq!(user.map(|u| u.name).as_deref(), Ok("alice"), "{name}");
        }
        for (name, password) in [
            ("alice", "pw2"),
            ("alice", ""),
            ("alice", "PW"),
            ("bob", "pw2"),
            ("OTHER\\alice", "pw"),
            ("carol", "pw"),
        ] {
            assert!(
                acceptor.finish(&config, &identity(name, password)).is_err(),
                "{name}/{password}"
            );
        }
    }

    #[test]
    fn a_client_hello_gets_the_server_flight_and_junk_is_rejected() {
        let config = config();
        // A real ClientHello from rustls.
        let mut client = rustls::ClientConnection::new(
            Arc::new(
                rustls::ClientConfig::builder_with_provider(Arc::new(
                    rustls::crypto::ring::default_provider(),
                ))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth(),
            ),
            rustls_pki_types::ServerName::try_from("localhost").unwrap(),
        )
        .unwrap();
        let mut hello = Vec::new();
        client.write_tls(&mut hello).unwrap();
        let mut acceptor = Acceptor::new().unwrap();
        let Leg::Continue(flight) = acceptor.step(&config, &hello) else {
            panic!("expected the server's handshake flight");
        };
        // A TLS handshake record, protocol TLS 1.2.
        assert_eq!(flight.get(..3), Some(&[0x16, 0x03, 0x03][..]));
        assert!(matches!(
            Acceptor::new()
                .unwrap()
                .step(&config, b"\x16\x03\x01\x00\x05hello"),
            Leg::Rejected
        ));
    }

    #[test]
    fn the_first_token_picks_raw_ntlm_or_spnego_offering_ntlm() {
        let config = config();
        let negotiate = b"NTLMSSP\0\x01\0\0\0\x37\x82\x08\xe2".to_vec();
        let init = |mechs: &[&[u8]], token: Option<&[u8]>| {
            let list: Vec<u8> = mechs.iter().flat_map(|m| spnego::wrap(0x06, m)).collect();
            let mut seq = spnego::wrap(0xa0, &spnego::wrap(0x30, &list));
            if let Some(t) = token {
                seq.extend(spnego::wrap(0xa2, &spnego::wrap(0x04, t)));
            }
            let mut app = spnego::wrap(0x06, &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x02]);
            app.extend(spnego::wrap(0xa0, &spnego::wrap(0x30, &seq)));
            spnego::wrap(0x60, &app)
        };
        let krb5: &[u8] = super::super::kerberos::KRB5_OID;
        let mut a = Acceptor::new().unwrap();
        assert!(a.new_server(&config, Some(&negotiate)).is_ok());
        assert!(!a.spnego);
        for ok in [
            init(&[spnego::NTLM_OID], Some(&negotiate)),
            init(&[krb5, spnego::NTLM_OID], Some(b"krb5 token")),
        ] {
            let mut a = Acceptor::new().unwrap();
            assert!(a.new_server(&config, Some(&ok)).is_ok());
            assert!(a.spnego);
        }
        for bad in [
            init(&[krb5], Some(b"krb5 token")),
            init(&[spnego::NTLM_OID], Some(b"NTLMSSP\0\x03\0\0\0")),
            b"NTLMSSP\0\x03\0\0\0".to_vec(),
            b"junk".to_vec(),
        ] {
            assert!(
                Acceptor::new()
                    .unwrap()
                    .new_server(&config, Some(&bad))
                    .is_err()
            );
        }
        assert!(Acceptor::new().unwrap().new_server(&config, None).is_err());
    }

    #[test]
    fn pub_key_auth_values_per_version() {
        let key = [0x30, 0x82, 0x01];
        let nonce = [7u8; 32];
        let (client, server) = pub_key_auth(&key, 6, Some(nonce)).unwrap();
        let expected =
            |d: &[u8]| sha256(&[b"CredSSP ", d, b" Binding Hash\0", &nonce, &key]).unwrap();
        assert_eq!(client, expected(b"Client-To-Server"));
        assert_eq!(server, expected(b"Server-To-Client"));
        assert_eq!(client.len(), 32);
        assert_ne!(client, server);
        // SHA-256("abc"), FIPS 180-2.
        assert_eq!(
            sha256(&[b"a", b"bc"]).unwrap().get(..4),
            Some(&[0xba, 0x78, 0x16, 0xbf][..])
        );
        assert_eq!(
            pub_key_auth(&key, 3, None).unwrap(),
            (key.to_vec(), vec![0x31, 0x82, 0x01])
        );
        assert!(pub_key_auth(&key, 6, None).is_err());
        assert!(pub_key_auth(&[], 2, None).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(100))]

        /// Arbitrary legs never authenticate and never panic.
        #[test]
        fn arbitrary_legs_never_authenticate(
            legs in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 1..4),
        ) {
            let config = config();
            let mut acceptor = Acceptor::new().unwrap();
            for leg in legs {
                let step = acceptor.step(&config, &leg);
                prop_assert!(!matches!(step, Leg::Authenticated(_)));
                if matches!(step, Leg::Rejected) {
                    break;
                }
            }
        }
    }
}
