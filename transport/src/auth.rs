//! The client side of NTLM / SPNEGO / Kerberos with `sspi`: token steps and message sealing.
//!
//! One [`ClientContext`] belongs to one TCP connection: sealing keys and sequence numbers are
//! per connection, so a new connection means a new context. Kerberos steps talk to the KDC
//! (the requests `sspi` yields are answered by [`crate::kerberos::KdcLink`]), so steps are
//! async.

use std::panic::{AssertUnwindSafe, catch_unwind};

use sspi::generator::GeneratorState;
use sspi::ntlm::NtlmConfig;
use sspi::{
    AuthIdentity, BufferType, ClientRequestFlags, CredentialUse, DataRepresentation,
    EncryptionFlags, Kerberos, KerberosConfig, Negotiate, NegotiateConfig, NegotiatedProtocol,
    Ntlm, SecurityBuffer, SecurityBufferRef, SecurityStatus, Sspi, SspiImpl, Username,
};

use crate::config::{AuthMethod, ConnectionConfig};
use crate::error::TransportError;
use crate::kerberos::{self, KdcLink, Principal};

/// The workstation name sent in NTLM messages and the AS-REQ's addresses.
const WORKSTATION: &str = "PSRM";

enum Package {
    Ntlm(Box<Ntlm>, Option<<Ntlm as SspiImpl>::CredentialsHandle>),
    Negotiate(
        Box<Negotiate>,
        Option<<Negotiate as SspiImpl>::CredentialsHandle>,
    ),
    Kerberos(
        Box<Kerberos>,
        Option<<Kerberos as SspiImpl>::CredentialsHandle>,
    ),
}

/// Kerberos details of a context: who, for which service, through which KDC.
#[derive(Debug)]
struct KerberosSetup {
    principal: Principal,
    link: KdcLink,
}

/// A client security context in progress or established.
pub(crate) struct ClientContext {
    package: Package,
    identity: AuthIdentity,
    target: String,
    kerberos: Option<KerberosSetup>,
    done: bool,
}

impl std::fmt::Debug for ClientContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientContext")
            .field("target", &self.target)
            .field("kerberos", &self.kerberos)
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
    /// A fresh context for `config`'s method and credentials, for the service on its host.
    pub(crate) fn new(config: &ConnectionConfig) -> Result<Self, TransportError> {
        Self::with_env(config, &|k| std::env::var(k).ok())
    }

    /// [`Self::new`], reading the environment (`PSRM_KDC`, `KRB5_CONFIG`) through `env`.
    pub(crate) fn with_env(
        config: &ConnectionConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, TransportError> {
        let method = config.auth;
        let Some(credentials) = config.credentials.as_ref() else {
            return Err(TransportError::MissingCredentials);
        };
        let mut kerberos = None;
        let mut target = format!("HTTP/{}", config.host);
        let mut user = credentials.user().to_owned();
        let package = match method {
            AuthMethod::Ntlm => Package::Ntlm(
                Box::new(Ntlm::with_config(NtlmConfig {
                    client_computer_name: Some(WORKSTATION.into()),
                })),
                None,
            ),
            AuthMethod::Negotiate => match negotiate_kerberos(config, credentials.user(), env)? {
                // Windows' Negotiate: Kerberos first (MS-krb5, krb5, then NTLM in mechTypes,
                // the AP-REQ as the optimistic token) when the user is a realm principal whose
                // KDC is known. sspi's Negotiate falls back to NTLM inside SPNEGO when the KDC
                // cannot be reached or does not know the SPN, and when the target is an IP
                // address (no SPN to ask a ticket for), as Windows does.
                Some((principal, kdc)) => {
                    target = config.service_principal();
                    user = format!("{}\\{}", principal.realm, principal.name);
                    let negotiate = NegotiateConfig::new(
                        Box::new(KerberosConfig::new_with_kdc_url(
                            &format!("tcp://{kdc}"),
                            WORKSTATION.into(),
                        )),
                        Some("kerberos,ntlm".into()),
                        WORKSTATION.into(),
                    );
                    kerberos = Some(KerberosSetup {
                        principal,
                        link: KdcLink::new(kdc, config.connect_timeout),
                    });
                    Package::Negotiate(
                        Box::new(Negotiate::new_client(negotiate).map_err(security)?),
                        None,
                    )
                }
                // No KDC for the user: NTLM inside SPNEGO.
                None => {
                    let config = NegotiateConfig::new(
                        Box::new(NtlmConfig {
                            client_computer_name: Some(WORKSTATION.into()),
                        }),
                        Some("!kerberos,ntlm".into()),
                        WORKSTATION.into(),
                    );
                    Package::Negotiate(
                        Box::new(Negotiate::new_client(config).map_err(security)?),
                        None,
                    )
                }
            },
            AuthMethod::Kerberos => {
                let principal =
                    kerberos::principal(credentials.user(), kerberos::default_realm(env))?;
                let kdc = kerberos::kdc_for(config.kdc.as_deref(), &principal.realm, env)?;
                target = config.service_principal();
                // The down-level form makes sspi send an NT-PRINCIPAL name in the realm (MIT
                // KDCs do not resolve NT-ENTERPRISE names by default) with the standard salt.
                user = format!("{}\\{}", principal.realm, principal.name);
                let package = Kerberos::new_client_from_config(KerberosConfig::new_with_kdc_url(
                    &format!("tcp://{kdc}"),
                    WORKSTATION.into(),
                ))
                .map_err(security)?;
                kerberos = Some(KerberosSetup {
                    principal,
                    link: KdcLink::new(kdc, config.connect_timeout),
                });
                Package::Kerberos(Box::new(package), None)
            }
            AuthMethod::Basic | AuthMethod::Certificate | AuthMethod::CredSsp => {
                return Err(TransportError::Config(format!(
                    "{} has no security context",
                    method.as_str()
                )));
            }
        };
        let username = Username::parse(&user).map_err(security)?;
        let identity = AuthIdentity {
            username,
            password: credentials.password().to_owned().into(),
        };
        Ok(Self {
            package,
            identity,
            target,
            kerberos,
            done: false,
        })
    }

    /// The mechanism in use: `"Kerberos"` or `"NTLM"` (under Negotiate, what SPNEGO chose).
    pub(crate) fn mechanism(&self) -> &'static str {
        match &self.package {
            Package::Ntlm(..) => "NTLM",
            Package::Kerberos(..) => "Kerberos",
            Package::Negotiate(p, _) => match p.negotiated_protocol() {
                NegotiatedProtocol::Kerberos(_) => "Kerberos",
                NegotiatedProtocol::Ntlm(_) => "NTLM",
                _ => "other",
            },
        }
    }

    /// Whether the context is established.
    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    /// One step: `input` is the server's token (`None` for the first step).
    pub(crate) async fn step(&mut self, input: Option<&[u8]>) -> Result<Step, TransportError> {
        let mut no_kdc = None;
        let with_kdc = self.kerberos.is_some();
        let link = match self.kerberos.as_mut() {
            Some(k) => &mut k.link,
            None => no_kdc.get_or_insert_with(|| KdcLink::new(String::new(), Default::default())),
        };
        let flags = ClientRequestFlags::CONFIDENTIALITY
            | ClientRequestFlags::INTEGRITY
            | ClientRequestFlags::ALLOCATE_MEMORY;
        let result = match &mut self.package {
            Package::Ntlm(p, handle) => {
                step_with(
                    p.as_mut(),
                    &self.identity,
                    handle,
                    &self.target,
                    input,
                    flags,
                    link,
                )
                .await
            }
            Package::Negotiate(p, handle) => {
                let data = sspi::Credentials::AuthIdentity(self.identity.clone());
                let (flags, input) = if with_kdc {
                    // As for Kerberos below: the AP-REP's subkey seals, and sspi's Kerberos
                    // under Negotiate wants an (empty) input buffer on the first step.
                    (
                        flags | ClientRequestFlags::MUTUAL_AUTH,
                        Some(input.unwrap_or_default()),
                    )
                } else {
                    (flags, input)
                };
                step_with(p.as_mut(), &data, handle, &self.target, input, flags, link).await
            }
            Package::Kerberos(p, handle) => {
                let data = sspi::Credentials::AuthIdentity(self.identity.clone());
                // Mutual authentication: the server's AP-REP carries the subkey that seals.
                let flags = flags | ClientRequestFlags::MUTUAL_AUTH;
                // sspi's Kerberos wants an input buffer on the first step too (empty).
                let input = Some(input.unwrap_or_default());
                step_with(p.as_mut(), &data, handle, &self.target, input, flags, link).await
            }
        };
        let result = match (result, self.kerberos.as_mut()) {
            (Err(e), Some(k)) => Err(k.link.explain(&k.principal, &self.target, e)),
            (Ok(step), Some(k)) => {
                // Negotiate went on with NTLM after a KDC failure: that failure no longer
                // explains anything that follows.
                if let Some(failure) = k.link.failure.take() {
                    tracing::debug!(error = %failure, "kerberos unavailable, negotiate uses ntlm");
                }
                k.link.krb_error = None;
                Ok(step)
            }
            (r, None) => r,
        };
        result.inspect(|s| self.done = s.done)
    }

    /// Seals `plain`: (signature, sealed bytes). The signature is the NTLM signature, or the
    /// Kerberos wrap token's header and rotated trailer (MS-WSMV 2.2.9.1.2.1).
    pub(crate) fn seal(&mut self, plain: &[u8]) -> Result<(Vec<u8>, Vec<u8>), TransportError> {
        let mut data = plain.to_vec();
        let sig = contained("encrypt_message", || {
            let trailer = match &mut self.package {
                Package::Ntlm(c, _) => c.query_context_sizes(),
                Package::Negotiate(c, _) => c.query_context_sizes(),
                Package::Kerberos(c, _) => c.query_context_sizes(),
            }
            .map_err(security)?
            .security_trailer;
            let mut sig = vec![0; usize::try_from(trailer).unwrap_or(usize::MAX).min(1024)];
            let mut bufs = [
                SecurityBufferRef::token_buf(&mut sig),
                SecurityBufferRef::data_buf(&mut data),
            ];
            match &mut self.package {
                Package::Ntlm(c, _) => c.encrypt_message(EncryptionFlags::empty(), &mut bufs),
                Package::Negotiate(c, _) => c.encrypt_message(EncryptionFlags::empty(), &mut bufs),
                Package::Kerberos(c, _) => c.encrypt_message(EncryptionFlags::empty(), &mut bufs),
            }
            .map(|_| ())
            .map_err(security)?;
            let written = bufs[0].data().len();
            sig.truncate(written);
            Ok(sig)
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
        let len = contained("decrypt_message", || {
            let mut bufs = [
                SecurityBufferRef::token_buf(&mut sig),
                SecurityBufferRef::data_buf(&mut data),
            ];
            match &mut self.package {
                Package::Ntlm(c, _) => c.decrypt_message(&mut bufs),
                Package::Negotiate(c, _) => c.decrypt_message(&mut bufs),
                Package::Kerberos(c, _) => c.decrypt_message(&mut bufs),
            }
            .map_err(|e| {
                TransportError::Security(format!("reply signature or seal invalid: {e}"))
            })?;
            Ok(bufs[1].data().len())
        })?;
        data.truncate(len);
        Ok(data)
    }
}

/// A client context talking to a hostile server, for the fuzz targets: NTLM (or SPNEGO with
/// NTLM, `negotiate`) whose first token is answered by `legs`, each one `WWW-Authenticate`
/// value. Once the context is complete, the following legs are sealed replies, cut into
/// signature and data and unsealed. Returns whether the context completed.
pub(crate) fn check_server_legs(negotiate: bool, legs: &[&[u8]]) -> bool {
    static RUNTIME: std::sync::OnceLock<Option<tokio::runtime::Runtime>> =
        std::sync::OnceLock::new();
    let Some(runtime) = RUNTIME
        .get_or_init(|| tokio::runtime::Builder::new_current_thread().build().ok())
        .as_ref()
    else {
        return false;
    };
    let method = if negotiate {
        AuthMethod::Negotiate
    } else {
        AuthMethod::Ntlm
    };
    let config = ConnectionConfig::new("server01")
        .auth(method, crate::config::Credentials::new("alice", "pw"));
    let no_kdc = |k: &str| (k == "KRB5_CONFIG").then(|| "/nonexistent/krb5.conf".to_owned());
    let Ok(mut ctx) = ClientContext::with_env(&config, &no_kdc) else {
        return false;
    };
    runtime.block_on(async {
        if ctx.step(None).await.is_err() {
            return false;
        }
        let mut legs = legs.iter();
        for leg in legs.by_ref() {
            if ctx.is_done() {
                let cut = leg.first().map_or(0, |b| usize::from(*b)).min(leg.len());
                let (signature, sealed) = leg.split_at(cut);
                let _ = ctx.unseal(signature, sealed);
                let _ = ctx.seal(sealed);
                continue;
            }
            let (token, _) = crate::http::read_www_authenticate(&[leg], false);
            let Some(token) = token else { return false };
            if ctx.step(Some(&token)).await.is_err() {
                return false;
            }
        }
        ctx.is_done()
    })
}

/// The principal and KDC for Negotiate to prefer Kerberos with: `user@REALM` or `REALM\\user`
/// whose realm has a KDC (the configured one, `PSRM_KDC`, or krb5.conf's for the realm).
/// `None` (NTLM inside SPNEGO) for a bare user name or a realm without a known KDC.
fn negotiate_kerberos(
    config: &ConnectionConfig,
    user: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<(Principal, String)>, TransportError> {
    if !user.contains(['@', '\\']) {
        return Ok(None);
    }
    let Ok(principal) = kerberos::principal(user, None) else {
        return Ok(None);
    };
    match kerberos::kdc_for(config.kdc.as_deref(), &principal.realm, env) {
        Ok(kdc) => Ok(Some((principal, kdc))),
        Err(TransportError::NoKdc { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn step_with<P: Sspi + SspiImpl>(
    package: &mut P,
    auth_data: &P::AuthenticationData,
    handle: &mut Option<P::CredentialsHandle>,
    target: &str,
    input: Option<&[u8]>,
    flags: ClientRequestFlags,
    kdc: &mut KdcLink,
) -> Result<Step, TransportError>
where
    P::CredentialsHandle: Send,
{
    if handle.is_none() {
        let acquired = contained("acquire_credentials_handle", || {
            package
                .acquire_credentials_handle()
                .with_credential_use(CredentialUse::Outbound)
                .with_auth_data(auth_data)
                .execute(package)
                .map_err(security)
        })?;
        *handle = Some(acquired.credentials_handle);
    }
    let Some(credentials) = handle.as_mut() else {
        return Err(TransportError::Security("no credentials handle".into()));
    };
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
        let mut generator = contained("initialize_security_context", || {
            package
                .initialize_security_context_impl(&mut builder)
                .map_err(security)
        })?;
        let mut state = contained("initialize_security_context", || Ok(generator.start()))?;
        // Each yield is a message for the KDC (Kerberos only): AS-REQ twice (the first learns
        // the salt), TGS-REQ, perhaps referrals. A bound stops a package that loops.
        let mut requests = 0;
        let result =
            loop {
                match state {
                    GeneratorState::Completed(result) => break result,
                    GeneratorState::Suspended(request) => {
                        requests += 1;
                        if requests > 16 {
                            return Err(TransportError::Security(
                                "too many kdc requests for one step".into(),
                            ));
                        }
                        let reply = kdc.exchange(&request).await;
                        state = contained("initialize_security_context", || {
                            Ok(generator.resume(reply))
                        })?;
                    }
                }
            };
        drop(generator);
        result.map_err(security)?.status
    };
    if matches!(
        status,
        SecurityStatus::CompleteNeeded | SecurityStatus::CompleteAndContinue
    ) {
        contained("complete_auth_token", || {
            package.complete_auth_token(&mut output).map_err(security)
        })?;
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
    use crate::config::Credentials;

    fn config(method: AuthMethod, user: &str) -> ConnectionConfig {
        ConnectionConfig::new("server01").auth(method, Credentials::new(user, "pw"))
    }

    #[tokio::test]
    async fn first_tokens_are_raw_ntlm_or_spnego() {
        let mut ntlm = ClientContext::new(&config(AuthMethod::Ntlm, "SERVER01\\alice")).unwrap();
        let step = ntlm.step(None).await.unwrap();
        assert!(
            step.token.starts_with(b"NTLMSSP\0\x01\0\0\0"),
            "{:?}",
            step.token
        );
        assert!(!step.done && !ntlm.is_done());
        let mut spnego =
            // Without a KDC (PSRM_KDC or krb5.conf on the test host must not matter).
            ClientContext::with_env(&config(AuthMethod::Negotiate, "SERVER01\\alice"), &no_kdc_env)
                .unwrap();
        let step = spnego.step(None).await.unwrap();
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

    #[tokio::test]
    async fn hostile_server_tokens_are_errors_not_panics() {
        for method in [AuthMethod::Ntlm, AuthMethod::Negotiate] {
            for junk in [
                &b""[..],
                b"NTLMSSP\0\x02\0\0\0",
                b"\xa1\x03\x0a\x01",
                &[0xff; 64],
            ] {
                let mut ctx = ClientContext::new(&config(method, "alice")).unwrap();
                ctx.step(None).await.unwrap();
                assert!(
                    ctx.step(Some(junk)).await.is_err(),
                    "{method:?} accepted {junk:?}"
                );
            }
        }
    }

    #[test]
    fn kerberos_needs_a_realm_and_a_kdc() {
        // No krb5.conf (this host's /etc/krb5.conf must not leak in), no PSRM_KDC.
        let env = |k: &str| (k == "KRB5_CONFIG").then(|| "/nonexistent/krb5.conf".to_owned());
        let e = ClientContext::with_env(&config(AuthMethod::Kerberos, "alice"), &env).unwrap_err();
        assert!(matches!(e, TransportError::Config(_)), "{e}");
        let e = ClientContext::with_env(&config(AuthMethod::Kerberos, "alice@NOKDC.TEST"), &env)
            .unwrap_err();
        assert!(
            matches!(e, TransportError::NoKdc { ref realm } if realm == "NOKDC.TEST"),
            "{e}"
        );
        let ctx = ClientContext::with_env(
            &config(AuthMethod::Kerberos, "alice@R.TEST")
                .kdc("127.0.0.1:1")
                .spn("WSMAN/server01"),
            &env,
        )
        .unwrap();
        assert_eq!(ctx.target, "WSMAN/server01");
        let ctx = ClientContext::with_env(
            &config(AuthMethod::Kerberos, "R.TEST\\alice").kdc("k"),
            &env,
        )
        .unwrap();
        assert_eq!(ctx.target, "HTTP/server01");
        assert!(!format!("{ctx:?}").contains("pw"));
    }

    /// The OIDs' DER encodings, to look for in a NegTokenInit's mechTypes.
    const KRB5_OID: &[u8] = &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02,
    ];
    const MS_KRB5_OID: &[u8] = &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02,
    ];
    const NTLM_OID: &[u8] = &[
        0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a,
    ];

    fn has(token: &[u8], needle: &[u8]) -> bool {
        token.windows(needle.len()).any(|w| w == needle)
    }

    /// No krb5.conf (this host's must not leak in), no PSRM_KDC.
    fn no_kdc_env(k: &str) -> Option<String> {
        (k == "KRB5_CONFIG").then(|| "/nonexistent/krb5.conf".to_owned())
    }

    /// An NTLM-only NegTokenInit: NTLM listed and inside, no Kerberos mechanism.
    fn assert_ntlm_only(token: &[u8], what: &str) {
        assert_eq!(token.first(), Some(&0x60), "{what}");
        assert!(
            has(token, NTLM_OID) && has(token, b"NTLMSSP\0\x01"),
            "{what}"
        );
        assert!(!has(token, KRB5_OID) && !has(token, MS_KRB5_OID), "{what}");
    }

    #[tokio::test]
    async fn negotiate_without_a_kdc_is_ntlm_inside_spnego() {
        // A bare name, a realm no KDC is known for, a machine-local account: NTLM, as before.
        for user in ["alice", "alice@NOKDC.TEST", "SERVER01\\alice"] {
            let mut ctx =
                ClientContext::with_env(&config(AuthMethod::Negotiate, user), &no_kdc_env).unwrap();
            assert!(ctx.kerberos.is_none(), "{user}");
            assert_eq!(ctx.target, "HTTP/server01");
            let step = ctx.step(None).await.unwrap();
            assert_ntlm_only(&step.token, user);
            assert_eq!(ctx.mechanism(), "NTLM");
        }
        // PSRM_KDC names a KDC for every realm; a bare name still has none.
        let env = |k: &str| (k == "PSRM_KDC").then(|| "127.0.0.1:1".to_owned());
        let ctx = ClientContext::with_env(&config(AuthMethod::Negotiate, "alice"), &env).unwrap();
        assert!(ctx.kerberos.is_none());
    }

    #[tokio::test]
    async fn negotiate_with_a_kdc_prefers_kerberos_but_falls_back_to_ntlm() {
        // A KDC from PSRM_KDC or the configuration makes Kerberos the first choice...
        let env = |k: &str| (k == "PSRM_KDC").then(|| "127.0.0.1:1".to_owned());
        let ctx =
            ClientContext::with_env(&config(AuthMethod::Negotiate, "alice@R.TEST"), &env).unwrap();
        let k = ctx.kerberos.as_ref().expect("kerberos preferred");
        assert_eq!(
            (k.link.kdc.as_str(), k.principal.to_string().as_str()),
            ("127.0.0.1:1", "alice@R.TEST")
        );
        assert_eq!(ctx.mechanism(), "Kerberos");
        // ...with the SPN as target.
        let ctx = ClientContext::with_env(
            &config(AuthMethod::Negotiate, "R.TEST\\alice")
                .kdc("k")
                .spn("WSMAN/server01"),
            &no_kdc_env,
        )
        .unwrap();
        assert_eq!(ctx.target, "WSMAN/server01");
        assert!(ctx.kerberos.is_some());
        // A malformed KDC is a configuration error, not a silent NTLM.
        let e = ClientContext::with_env(
            &config(AuthMethod::Negotiate, "alice@R.TEST").kdc("udp/k:88"),
            &no_kdc_env,
        )
        .unwrap_err();
        assert!(matches!(e, TransportError::Config(_)), "{e}");

        // An unreachable KDC: NTLM inside SPNEGO (Windows does the same), and the KDC failure
        // is not kept to explain a later NTLM error.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut ctx = ClientContext::with_env(
            &config(AuthMethod::Negotiate, "alice@R.TEST").kdc(format!("127.0.0.1:{port}")),
            &no_kdc_env,
        )
        .unwrap();
        let step = ctx.step(None).await.unwrap();
        assert_ntlm_only(&step.token, "kdc down");
        assert_eq!(ctx.mechanism(), "NTLM");
        let k = ctx.kerberos.as_ref().unwrap();
        assert!(k.link.failure.is_none() && k.link.krb_error.is_none());
        let Err(e) = ctx.step(Some(b"junk")).await else {
            panic!("junk accepted as an ntlm challenge");
        };
        assert!(matches!(e, TransportError::Security(_)), "{e}");

        // An IP address target (no SPN to ask a ticket for): NTLM without asking the KDC.
        let mut ctx = ClientContext::with_env(
            &ConnectionConfig::new("192.0.2.7")
                .auth(
                    AuthMethod::Negotiate,
                    Credentials::new("alice@R.TEST", "pw"),
                )
                .kdc(format!("127.0.0.1:{port}")),
            &no_kdc_env,
        )
        .unwrap();
        let step = ctx.step(None).await.unwrap();
        assert_ntlm_only(&step.token, "ip target");
    }
}
