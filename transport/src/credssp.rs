//! The client side of CredSSP (MS-CSSP) as WinRM carries it: the records of an inner TLS
//! session travel base64'd in `Authorization: CredSSP` / `WWW-Authenticate: CredSSP` headers.
//!
//! [`CredSspContext`] is sans-IO: [`CredSspContext::start`] gives the first token, and each
//! [`CredSspContext::step`] takes the server's token and says what to send next. The HTTP loop
//! lives in `http.rs`.
//!
//! ```text
//!  TLS handshake (rustls over memory buffers; the certificate is not verified here: the
//!  pubKeyAuth exchange binds the NTLM logon to the certificate's public key instead)
//!  TSRequest{NEGOTIATE} → {CHALLENGE} → {AUTHENTICATE, pubKeyAuth} → {pubKeyAuth}
//!  TSRequest{authInfo = TSPasswordCreds} → 200
//! ```
//!
//! Afterwards the inner session seals message bodies over HTTP ([`CredSspContext::seal`]).
//! NTLM runs inside without SPNEGO (pywinrm's `credssp_auth_mechanism='ntlm'`). The TSRequest
//! work is sspi's `CredSspClient`, whose calls are contained with `catch_unwind`.

use std::io::{Read as _, Write as _};
use std::panic::{AssertUnwindSafe, catch_unwind};

use rustls_pki_types::ServerName;
use sspi::credssp::{ClientMode, ClientState, CredSspClient, CredSspMode, TsRequest};
use sspi::ntlm::NtlmConfig;
use sspi::{AuthIdentity, Username};
use tokio_rustls::rustls::ClientConnection;

use crate::config::Credentials;
use crate::error::TransportError;

/// Where a sealed TLS record is cut into "signature" and data: the AES-GCM trailer length
/// WinRM clients use; readers put the pieces back together.
const TRAILER_LEN: usize = 16;
/// Largest server token accepted (decoded).
const MAX_TOKEN: usize = 64 * 1024;

/// What to do after a step.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// Send this token; the server answers 401 with its next token.
    Send(Vec<u8>),
    /// Send this last token (the delegated credentials); the server answers 200.
    Final(Vec<u8>),
}

enum Phase {
    /// The inner TLS handshake.
    Handshake,
    /// The client's last handshake flight (TLS 1.3 Finished) was sent: the server's answer
    /// may be empty.
    HandshakeDone,
    /// TSRequests, through sspi.
    Requests(Box<CredSspClient>),
    /// The credentials went out.
    Done,
}

/// One CredSSP exchange (one HTTP connection).
pub(crate) struct CredSspContext {
    tls: ClientConnection,
    phase: Phase,
    identity: AuthIdentity,
    /// The user name as configured, for errors.
    user: String,
    target: String,
}

impl std::fmt::Debug for CredSspContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredSspContext")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

fn security(e: impl std::fmt::Display) -> TransportError {
    TransportError::Security(format!("credssp: {e}"))
}

impl CredSspContext {
    /// A new exchange for `credentials` with the service on `host`.
    pub(crate) fn new(credentials: &Credentials, host: &str) -> Result<Self, TransportError> {
        let username = Username::parse(credentials.user()).map_err(security)?;
        let identity = AuthIdentity {
            username,
            password: credentials.password().to_owned().into(),
        };
        // The inner session's name is not verified; a name rather than an address keeps SNI on.
        let name = ServerName::try_from("localhost").map_err(security)?;
        let tls =
            ClientConnection::new(crate::tls::credssp_inner_config()?, name).map_err(security)?;
        Ok(Self {
            tls,
            phase: Phase::Handshake,
            identity,
            user: credentials.user().to_owned(),
            target: format!("HTTP/{host}"),
        })
    }

    /// The first token: the ClientHello.
    pub(crate) fn start(&mut self) -> Result<Vec<u8>, TransportError> {
        self.flush()
    }

    /// Takes the server's token (from a 401); what to send next.
    pub(crate) fn step(&mut self, input: &[u8]) -> Result<Next, TransportError> {
        if input.len() > MAX_TOKEN {
            return Err(security("server token too large"));
        }
        catch_unwind(AssertUnwindSafe(|| self.advance(input)))
            .unwrap_or_else(|_| Err(security("security package panicked")))
    }

    fn advance(&mut self, input: &[u8]) -> Result<Next, TransportError> {
        self.feed(input)?;
        match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::Handshake if self.tls.is_handshaking() => {
                self.phase = Phase::Handshake;
                let out = self.flush()?;
                if out.is_empty() {
                    return Err(security("inner tls handshake stalled"));
                }
                Ok(Next::Send(out))
            }
            Phase::Handshake | Phase::HandshakeDone => {
                let out = self.flush()?;
                if !out.is_empty() {
                    // TLS 1.3: the client's Finished goes alone, as Windows and pyspnego expect.
                    self.phase = Phase::HandshakeDone;
                    return Ok(Next::Send(out));
                }
                let mut client = self.new_client()?;
                let state = client
                    .process(TsRequest::default())
                    .resolve_to_result()
                    .map_err(security)?;
                let next = self.send_state(state)?;
                self.phase = Phase::Requests(Box::new(client));
                Ok(next)
            }
            Phase::Requests(mut client) => {
                let mut plain = Vec::new();
                match self.tls.reader().read_to_end(&mut plain) {
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(security(e)),
                }
                let request = TsRequest::from_buffer(&plain).map_err(security)?;
                if let Some(code) = request.error_code {
                    // The server refused the logon (SEC_E_LOGON_DENIED and the like, MS-CSSP
                    // 2.2.1 errorCode): a wrong password, not a broken exchange.
                    tracing::debug!(status = %format!("{:#010x}", code.0), "credssp: server error code");
                    return Err(TransportError::AuthFailed {
                        user: self.user.clone(),
                        method: "credssp",
                    });
                }
                let state = client
                    .process(request)
                    .resolve_to_result()
                    .map_err(security)?;
                let next = self.send_state(state)?;
                if matches!(next, Next::Send(_)) {
                    self.phase = Phase::Requests(client);
                }
                Ok(next)
            }
            Phase::Done => Err(security("server continued after the credentials")),
        }
    }

    fn new_client(&self) -> Result<CredSspClient, TransportError> {
        let public_key = self
            .tls
            .peer_certificates()
            .and_then(|c| c.first())
            .and_then(|c| subject_public_key(c.as_ref()))
            .ok_or_else(|| security("no usable inner tls certificate"))?;
        CredSspClient::new(
            public_key.to_vec(),
            sspi::Credentials::AuthIdentity(self.identity.clone()),
            CredSspMode::WithCredentials,
            ClientMode::Ntlm(NtlmConfig {
                client_computer_name: Some("PSRM".to_owned()),
            }),
            self.target.clone(),
        )
        .map_err(security)
    }

    fn send_state(&mut self, state: ClientState) -> Result<Next, TransportError> {
        let (request, last) = match state {
            ClientState::ReplyNeeded(r) => (r, false),
            ClientState::FinalMessage(r) => (r, true),
        };
        let mut encoded = Vec::new();
        request.encode_ts_request(&mut encoded).map_err(security)?;
        self.tls.writer().write_all(&encoded).map_err(security)?;
        let out = self.flush()?;
        Ok(if last {
            Next::Final(out)
        } else {
            Next::Send(out)
        })
    }

    /// Seals one chunk (at most 16 KiB: one TLS record) after authentication: (signature,
    /// sealed), the record cut after [`TRAILER_LEN`] bytes (MS-WSMV 2.2.9.1.3).
    pub(crate) fn seal(&mut self, plain: &[u8]) -> Result<(Vec<u8>, Vec<u8>), TransportError> {
        if !matches!(self.phase, Phase::Done) {
            return Err(security("sealing before the exchange completed"));
        }
        self.tls.writer().write_all(plain).map_err(security)?;
        let mut record = self.flush()?;
        if record.len() < TRAILER_LEN {
            return Err(security("sealed record too short"));
        }
        let sealed = record.split_off(TRAILER_LEN);
        Ok((record, sealed))
    }

    /// Unseals one part of a reply: the two pieces of TLS records, put back together.
    pub(crate) fn unseal(
        &mut self,
        signature: &[u8],
        sealed: &[u8],
    ) -> Result<Vec<u8>, TransportError> {
        if !matches!(self.phase, Phase::Done) {
            return Err(security("unsealing before the exchange completed"));
        }
        catch_unwind(AssertUnwindSafe(|| {
            self.feed(signature)?;
            self.feed(sealed)?;
            let mut plain = Vec::new();
            match self.tls.reader().read_to_end(&mut plain) {
                Ok(_) => Ok(plain),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(plain),
                Err(e) => Err(security(format!("reply seal invalid: {e}"))),
            }
        }))
        .unwrap_or_else(|_| Err(security("tls panicked")))
    }

    fn feed(&mut self, mut input: &[u8]) -> Result<(), TransportError> {
        while !input.is_empty() {
            self.tls.read_tls(&mut input).map_err(security)?;
            self.tls
                .process_new_packets()
                .map_err(|e| security(format!("inner tls: {e}")))?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<Vec<u8>, TransportError> {
        let mut out = Vec::new();
        while self.tls.wants_write() {
            self.tls.write_tls(&mut out).map_err(security)?;
        }
        Ok(out)
    }
}

/// The subjectPublicKey bits of a DER certificate (what MS-CSSP's pubKeyAuth covers): for RSA,
/// the PKCS#1 RSAPublicKey.
fn subject_public_key(cert: &[u8]) -> Option<&[u8]> {
    let (certificate, _) = der(cert, 0x30)?;
    let (tbs, _) = der(certificate, 0x30)?;
    let mut rest = tbs;
    // [0] version, when present.
    if rest.first() == Some(&0xa0) {
        rest = der(rest, 0xa0)?.1;
    }
    // serialNumber, signature, issuer, validity, subject.
    for tag in [0x02, 0x30, 0x30, 0x30, 0x30] {
        rest = der(rest, tag)?.1;
    }
    let (spki, _) = der(rest, 0x30)?;
    let (_, after_algorithm) = der(spki, 0x30)?;
    let (bits, _) = der(after_algorithm, 0x03)?;
    // The first byte counts unused bits: keys are whole bytes.
    match bits.split_first() {
        Some((0, key)) => Some(key),
        _ => None,
    }
}

/// One DER element with the expected tag: (contents, what follows).
fn der(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&first, rest) = input.split_first()?;
    if first != tag {
        return None;
    }
    let (&len0, rest) = rest.split_first()?;
    let (len, rest) = if len0 < 0x80 {
        (usize::from(len0), rest)
    } else {
        let n = usize::from(len0 & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let bytes = rest.get(..n)?;
        let len = bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, rest.get(n..)?)
    };
    let contents = rest.get(..len)?;
    Some((contents, rest.get(len..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_public_key_of_a_generated_certificate() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["h".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        assert_eq!(
            subject_public_key(cert.der().as_ref()),
            Some(key.public_key_raw())
        );
        // Truncated or garbage input is no key, and no panic.
        let der = cert.der().as_ref();
        for cut in [0, 1, 2, 10, der.len() / 2, der.len() - 1] {
            assert_eq!(subject_public_key(&der[..cut]), None, "{cut}");
        }
        assert_eq!(
            subject_public_key(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]),
            None
        );
    }

    #[test]
    fn the_first_token_is_a_client_hello_and_junk_answers_are_errors() {
        let creds = Credentials::new("alice", "pw");
        let mut ctx = CredSspContext::new(&creds, "h").unwrap();
        let hello = ctx.start().unwrap();
        // Nothing is sealed or unsealed before the credentials went out.
        assert!(ctx.seal(b"<s:Envelope/>").is_err());
        assert!(ctx.unseal(&[0x17, 3, 3], &[0; 40]).is_err());
        // A TLS handshake record holding a ClientHello (handshake type 1).
        assert_eq!(hello.first(), Some(&0x16));
        assert_eq!(hello.get(5), Some(&0x01));
        for junk in [&b""[..], b"\x16\x03\x03\x00\x02\x02\x00", &[0xff; 64]] {
            let mut ctx = CredSspContext::new(&creds, "h").unwrap();
            ctx.start().unwrap();
            assert!(ctx.step(junk).is_err(), "{junk:?}");
        }
    }
}
