//! The client side of NTLM / SPNEGO with `sspi`: token steps and message sealing.
//!
//! One [`ClientContext`] belongs to one TCP connection: NTLM sealing keys and sequence numbers
//! are per connection, so a new connection means a new context.

use std::panic::{AssertUnwindSafe, catch_unwind};

use sspi::ntlm::NtlmConfig;
use sspi::{
    AuthIdentity, BufferType, ClientRequestFlags, CredentialUse, DataRepresentation,
    EncryptionFlags, Negotiate, NegotiateConfig, Ntlm, SecurityBuffer, SecurityBufferRef,
    SecurityStatus, Sspi, SspiImpl, Username,
};

use crate::config::{AuthMethod, Credentials};
use crate::error::TransportError;

/// NTLM signatures are 16 bytes (MS-NLMP 2.2.2.9).
const SIGNATURE_LEN: usize = 16;

enum Package {
    Ntlm(Box<Ntlm>, Option<<Ntlm as SspiImpl>::CredentialsHandle>),
    Negotiate(
        Box<Negotiate>,
        Option<<Negotiate as SspiImpl>::CredentialsHandle>,
    ),
}

/// A client security context in progress or established.
pub(crate) struct ClientContext {
    package: Package,
    identity: AuthIdentity,
    target: String,
    done: bool,
}

impl std::fmt::Debug for ClientContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientContext")
            .field("target", &self.target)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

/// The result of one step.
pub(crate) struct Step {
    /// The token to send (may be empty when nothing more is needed).
    pub token: Vec<u8>,
    /// Whether the client side is complete after this token.
    pub done: bool,
}

fn security(e: impl std::fmt::Display) -> TransportError {
    TransportError::Security(e.to_string())
}

fn contained<T>(
    what: &str,
    f: impl FnOnce() -> Result<T, TransportError>,
) -> Result<T, TransportError> {
    // sspi's parsers are not hardened against hostile tokens: a panic there becomes an error.
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(TransportError::Security(format!(
            "{what}: security package panicked"
        )))
    })
}

impl ClientContext {
    /// A fresh context for `method` with `credentials`, for the service on `host`.
    pub(crate) fn new(
        method: AuthMethod,
        credentials: &Credentials,
        host: &str,
    ) -> Result<Self, TransportError> {
        let username = Username::parse(credentials.user()).map_err(security)?;
        let identity = AuthIdentity {
            username,
            password: credentials.password().to_owned().into(),
        };
        let workstation = "PSRM".to_owned();
        let package = match method {
            AuthMethod::Ntlm => Package::Ntlm(
                Box::new(Ntlm::with_config(NtlmConfig {
                    client_computer_name: Some(workstation),
                })),
                None,
            ),
            AuthMethod::Negotiate => {
                let config = NegotiateConfig::new(
                    Box::new(NtlmConfig {
                        client_computer_name: Some(workstation.clone()),
                    }),
                    Some("!kerberos,ntlm".into()),
                    workstation,
                );
                Package::Negotiate(
                    Box::new(Negotiate::new_client(config).map_err(security)?),
                    None,
                )
            }
            AuthMethod::Basic | AuthMethod::Certificate | AuthMethod::CredSsp => {
                return Err(TransportError::Config(format!(
                    "{} has no security context",
                    method.as_str()
                )));
            }
            AuthMethod::Kerberos => return Err(TransportError::Unsupported("kerberos")),
        };
        Ok(Self {
            package,
            identity,
            target: format!("HTTP/{host}"),
            done: false,
        })
    }

    /// Whether the context is established.
    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    /// One step: `input` is the server's token (`None` for the first step).
    pub(crate) fn step(&mut self, input: Option<&[u8]>) -> Result<Step, TransportError> {
        contained("initialize_security_context", || match &mut self.package {
            Package::Ntlm(p, handle) => {
                step_with(p.as_mut(), &self.identity, handle, &self.target, input)
            }
            Package::Negotiate(p, handle) => {
                let data = sspi::Credentials::AuthIdentity(self.identity.clone());
                step_with(p.as_mut(), &data, handle, &self.target, input)
            }
        })
        .inspect(|s| self.done = s.done)
    }

    /// Seals `plain`: (signature, sealed bytes).
    pub(crate) fn seal(&mut self, plain: &[u8]) -> Result<(Vec<u8>, Vec<u8>), TransportError> {
        let mut sig = vec![0; SIGNATURE_LEN];
        let mut data = plain.to_vec();
        contained("encrypt_message", || {
            let mut bufs = [
                SecurityBufferRef::token_buf(&mut sig),
                SecurityBufferRef::data_buf(&mut data),
            ];
            match &mut self.package {
                Package::Ntlm(c, _) => c.encrypt_message(EncryptionFlags::empty(), &mut bufs),
                Package::Negotiate(c, _) => c.encrypt_message(EncryptionFlags::empty(), &mut bufs),
            }
            .map(|_| ())
            .map_err(security)
        })?;
        Ok((sig, data))
    }

    /// Verifies and unseals one part.
    pub(crate) fn unseal(
        &mut self,
        signature: &[u8],
        sealed: &[u8],
    ) -> Result<Vec<u8>, TransportError> {
        let mut sig = signature.to_vec();
        let mut data = sealed.to_vec();
        contained("decrypt_message", || {
            let mut bufs = [
                SecurityBufferRef::token_buf(&mut sig),
                SecurityBufferRef::data_buf(&mut data),
            ];
            match &mut self.package {
                Package::Ntlm(c, _) => c.decrypt_message(&mut bufs),
                Package::Negotiate(c, _) => c.decrypt_message(&mut bufs),
            }
            .map(|_| ())
            .map_err(|e| TransportError::Security(format!("reply signature or seal invalid: {e}")))
        })?;
        Ok(data)
    }
}

fn step_with<P: Sspi + SspiImpl>(
    package: &mut P,
    auth_data: &P::AuthenticationData,
    handle: &mut Option<P::CredentialsHandle>,
    target: &str,
    input: Option<&[u8]>,
) -> Result<Step, TransportError> {
    if handle.is_none() {
        let acquired = package
            .acquire_credentials_handle()
            .with_credential_use(CredentialUse::Outbound)
            .with_auth_data(auth_data)
            .execute(package)
            .map_err(security)?;
        *handle = Some(acquired.credentials_handle);
    }
    let Some(credentials) = handle.as_mut() else {
        return Err(TransportError::Security("no credentials handle".into()));
    };
    let flags = ClientRequestFlags::CONFIDENTIALITY
        | ClientRequestFlags::INTEGRITY
        | ClientRequestFlags::ALLOCATE_MEMORY;
    let mut output = vec![SecurityBuffer::new(Vec::new(), BufferType::Token)];
    let mut input_bufs = input.map(|t| vec![SecurityBuffer::new(t.to_vec(), BufferType::Token)]);
    let status = {
        let mut builder = package
            .initialize_security_context()
            .with_credentials_handle(credentials)
            .with_context_requirements(flags)
            .with_target_data_representation(DataRepresentation::Native)
            .with_target_name(target)
            .with_output(&mut output);
        if let Some(bufs) = input_bufs.as_mut() {
            builder = builder.with_input(bufs);
        }
        package
            .initialize_security_context_impl(&mut builder)
            .map_err(security)?
            .resolve_to_result()
            .map_err(security)?
            .status
    };
    if matches!(
        status,
        SecurityStatus::CompleteNeeded | SecurityStatus::CompleteAndContinue
    ) {
        package.complete_auth_token(&mut output).map_err(security)?;
    }
    let done = !matches!(
        status,
        SecurityStatus::ContinueNeeded | SecurityStatus::CompleteAndContinue
    );
    let token = output
        .into_iter()
        .next()
        .map(|b| b.buffer)
        .unwrap_or_default();
    Ok(Step { token, done })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_tokens_are_raw_ntlm_or_spnego() {
        let creds = Credentials::new("SERVER01\\alice", "pw");
        let mut ntlm = ClientContext::new(AuthMethod::Ntlm, &creds, "server01").unwrap();
        let step = ntlm.step(None).unwrap();
        assert!(
            step.token.starts_with(b"NTLMSSP\0\x01\0\0\0"),
            "{:?}",
            step.token
        );
        assert!(!step.done && !ntlm.is_done());
        let mut spnego = ClientContext::new(AuthMethod::Negotiate, &creds, "server01").unwrap();
        let step = spnego.step(None).unwrap();
        // GSS-API InitialContextToken ([APPLICATION 0]) carrying the SPNEGO OID.
        assert_eq!(step.token.first(), Some(&0x60));
        let spnego_oid = [0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];
        assert!(
            step.token
                .windows(spnego_oid.len())
                .any(|w| w == spnego_oid)
        );
        assert!(
            step.token.windows(7).any(|w| w == b"NTLMSSP"),
            "NTLM inside SPNEGO"
        );
    }

    #[test]
    fn hostile_server_tokens_are_errors_not_panics() {
        let creds = Credentials::new("alice", "pw");
        for method in [AuthMethod::Ntlm, AuthMethod::Negotiate] {
            for junk in [
                &b""[..],
                b"NTLMSSP\0\x02\0\0\0",
                b"\xa1\x03\x0a\x01",
                &[0xff; 64],
            ] {
                let mut ctx = ClientContext::new(method, &creds, "h").unwrap();
                ctx.step(None).unwrap();
                assert!(
                    ctx.step(Some(junk)).is_err(),
                    "{method:?} accepted {junk:?}"
                );
            }
        }
        assert!(matches!(
            ClientContext::new(AuthMethod::Kerberos, &creds, "h"),
            Err(TransportError::Unsupported("kerberos"))
        ));
    }
}
