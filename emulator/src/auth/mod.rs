//! HTTP authentication of the WinRM service: Basic, raw NTLM and SPNEGO(NTLM) through the
//! `sspi` crate's acceptor, with the checks sspi leaves out (SPEC B5), and the per-connection
//! security context that seals and unseals encrypted bodies.
//!
//! The wrapper never trusts sspi alone with the password: every NTLM AUTHENTICATE message is
//! parsed here, must name a configured user, and its NTProofStr must have been computed with
//! that user's password, so messages without a MIC (Go's go-ntlmssp never sends one) are
//! checked as well. sspi still runs the exchange (it derives the session keys), and each of its
//! calls is contained with `catch_unwind`.
//!
//! A raw NTLM NEGOTIATE lacking NTLMSSP_NEGOTIATE_NTLM or REQUEST_TARGET, which sspi refuses
//! and Windows answers, reaches sspi as an amended copy (`ntlm::with_required_flags` explains
//! why that is safe); an AUTHENTICATE announcing a MIC after such an amendment is refused.

pub(crate) mod cert;
pub(crate) mod credssp;
#[doc(hidden)]
pub mod fuzz;
pub(crate) mod kerberos;
pub(crate) mod ntlm;
pub(crate) mod spnego;

use std::panic::{AssertUnwindSafe, catch_unwind};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sspi::ntlm::NtlmConfig;
use sspi::{
    AuthIdentity, AuthIdentityBuffers, BufferType, CredentialUse, CredentialsBuffers,
    DataRepresentation, EncryptionFlags, Negotiate, NegotiateConfig, Ntlm, Secret, SecurityBuffer,
    SecurityBufferRef, SecurityStatus, ServerRequestFlags, Sspi, SspiImpl, Username,
};
use subtle::ConstantTimeEq;

use crate::config::{AuthScheme, Config, User};

/// Size of an NTLM message signature.
const SIGNATURE_LEN: usize = 16;

/// The result of one step of a connection-oriented (NTLM / SPNEGO) exchange.
#[derive(Debug)]
pub(crate) enum Step {
    /// Answer 401 with this token; the client continues.
    Continue(Vec<u8>),
    /// Authenticated; a final token to send along with the reply, if any.
    Done(Option<Vec<u8>>),
    /// Refused: 401 without any hint.
    Rejected,
}

/// Per-connection authentication state.
#[derive(Default)]
pub(crate) struct ConnectionAuth {
    state: State,
}

#[derive(Default)]
enum State {
    #[default]
    Idle,
    Challenged {
        ctx: Context,
        server_challenge: [u8; 8],
        /// sspi was given an amended copy of the NEGOTIATE (`ntlm::with_required_flags`).
        amended: bool,
    },
    VerifyMic {
        ctx: Context,
        user: User,
    },
    /// SPNEGO chose NTLM without an NTLM token from the initiator (NTLM was not its first
    /// mechanism, or came without an optimistic token): its NEGOTIATE comes next.
    MechSelected {
        ctx: Context,
    },
    /// SPNEGO chose Kerberos, the initiator's first mechanism, offered without a token: the
    /// AP-REQ comes next in a NegTokenResp.
    KerberosSelected {
        /// The krb5 OID the initiator listed (krb5 or MS-krb5), named in the answer.
        mech: &'static [u8],
    },
    /// A CredSSP exchange in progress.
    CredSsp(Box<credssp::Acceptor>),
    Established(Established),
}

/// An authenticated connection: the user and the context sealing its messages.
pub(crate) struct Established {
    ctx: Context,
    /// The configured user the connection authenticated as.
    pub(crate) user: User,
}

enum Context {
    Ntlm(Box<Ntlm>),
    Negotiate(Box<Negotiate>, Option<CredentialsBuffers>),
    /// CredSSP: the inner TLS session seals.
    CredSsp(Box<credssp::Session>),
    /// Kerberos: RFC 4121 wrap tokens.
    Kerberos(Box<kerberos::Session>),
}

impl ConnectionAuth {
    /// The established context, if the connection authenticated with NTLM or Negotiate.
    pub(crate) fn established(&mut self) -> Option<&mut Established> {
        match &mut self.state {
            State::Established(e) => Some(e),
            _ => None,
        }
    }

    /// Forgets any context (after a failure the client starts over).
    pub(crate) fn reset(&mut self) {
        self.state = State::Idle;
    }

    /// Feeds one token from `Authorization: CredSSP <token>`: continues the exchange in
    /// progress, or starts one.
    pub(crate) fn step_credssp(&mut self, config: &Config, token: &[u8]) -> Step {
        let state = std::mem::take(&mut self.state);
        let mut acceptor = match state {
            State::CredSsp(a) => a,
            _ => match credssp::Acceptor::new() {
                Some(a) => Box::new(a),
                None => return Step::Rejected,
            },
        };
        let leg = contain(|| acceptor.step(config, token)).unwrap_or_else(|| {
            tracing::warn!("credssp step panicked; connection context dropped");
            credssp::Leg::Rejected
        });
        match leg {
            credssp::Leg::Continue(out) => {
                self.state = State::CredSsp(acceptor);
                Step::Continue(out)
            }
            credssp::Leg::Authenticated(user) => {
                self.state = State::Established(Established {
                    ctx: Context::CredSsp(Box::new(acceptor.into_session())),
                    user,
                });
                Step::Done(None)
            }
            credssp::Leg::Rejected => Step::Rejected,
        }
    }

    /// Feeds one token from `Authorization: Kerberos <token>`: only Kerberos tokens.
    pub(crate) fn step_kerberos(&mut self, config: &Config, token: &[u8]) -> Step {
        self.state = State::Idle;
        let Some(offer) = kerberos::offer(token) else {
            return Step::Rejected;
        };
        let (next, step) = contain(|| kerberos_logon(config, &offer)).unwrap_or_else(|| {
            tracing::warn!("kerberos step panicked; connection context dropped");
            (State::Idle, Step::Rejected)
        });
        self.state = next;
        step
    }

    /// Feeds one token from `Authorization: Negotiate|NTLM <token>`.
    pub(crate) fn step(&mut self, config: &Config, token: &[u8]) -> Step {
        let state = std::mem::take(&mut self.state);
        let (next, step) = match contain(|| advance(config, state, token)) {
            Some(r) => r,
            None => {
                tracing::warn!("authentication step panicked; connection context dropped");
                (State::Idle, Step::Rejected)
            }
        };
        self.state = next;
        step
    }
}

fn advance(config: &Config, state: State, token: &[u8]) -> (State, Step) {
    let enabled = |s| config.service.auth.contains(&s);
    if let Some(offer) = kerberos::offer(token) {
        if let Some(done) = kerberos_attempt(config, &offer) {
            return done;
        }
        // Kerberos cannot be used here: SPNEGO goes on with NTLM when the initiator listed it
        // (RFC 4178 4.2.2: the optimistic token is dropped, supportedMech names NTLM).
        return match spnego::parse_init(token) {
            Some(init)
                if matches!(offer.framing, kerberos::Framing::Spnego(_))
                    && init.ntlm_offered
                    && enabled(AuthScheme::Negotiate) =>
            {
                tracing::info!("spnego falls back from kerberos to ntlm");
                spnego_init(config, &init, token)
            }
            _ => (State::Idle, Step::Rejected),
        };
    }
    match ntlm::message_type(token) {
        Some(ntlm::NEGOTIATE) if enabled(AuthScheme::Ntlm) => return ntlm_negotiate(token),
        Some(ntlm::AUTHENTICATE) => {
            return match state {
                State::Challenged {
                    ctx: Context::Ntlm(ctx),
                    server_challenge,
                    amended,
                } => ntlm_authenticate(config, ctx, &server_challenge, amended, token),
                _ => (State::Idle, Step::Rejected),
            };
        }
        Some(_) => return (State::Idle, Step::Rejected),
        None => {}
    }
    // Kerberos under SPNEGO needs `kerberos` only (as an AP-REQ in the first token does).
    if let Some(mech) =
        spnego::parse_init(token).and_then(|init| kerberos_first_without_token(config, &init))
    {
        // As Windows: accept-incomplete naming krb5, and wait for the AP-REQ.
        tracing::info!("spnego selects kerberos; waiting for the ap-req");
        let answer = spnego::encode_resp(&spnego::NegTokenResp {
            neg_state: Some(spnego::ACCEPT_INCOMPLETE),
            supported_mech: Some(mech),
            response_token: None,
            mech_list_mic: None,
        });
        return (State::KerberosSelected { mech }, Step::Continue(answer));
    }
    if let State::KerberosSelected { mech } = state {
        return match spnego::parse_resp(token).and_then(|r| kerberos::offer_in_resp(&r, mech)) {
            Some(offer) => kerberos_logon(config, &offer),
            None => (State::Idle, Step::Rejected),
        };
    }
    if !enabled(AuthScheme::Negotiate) {
        return (State::Idle, Step::Rejected);
    }
    if let Some(init) = spnego::parse_init(token) {
        return spnego_init(config, &init, token);
    }
    let Some(resp) = spnego::parse_resp(token) else {
        return (State::Idle, Step::Rejected);
    };
    match state {
        State::MechSelected {
            ctx: Context::Negotiate(ctx, creds),
        } => spnego_negotiate(ctx, creds, &resp),
        State::Challenged {
            ctx: Context::Negotiate(ctx, creds),
            server_challenge,
            amended: false,
        } => spnego_authenticate(config, ctx, creds, &server_challenge, &resp),
        State::VerifyMic {
            ctx: Context::Negotiate(ctx, creds),
            user,
        } => {
            let fixed = with_neg_state(&resp);
            finish_negotiate(config, ctx, creds, user, &fixed)
        }
        _ => (State::Idle, Step::Rejected),
    }
}

/// krb5 (or MS-krb5) as a NegTokenInit's first mechanism without an optimistic token, with
/// Kerberos enabled and a keytab to accept tickets with: the mechanism to select.
fn kerberos_first_without_token(
    config: &Config,
    init: &spnego::NegTokenInit<'_>,
) -> Option<&'static [u8]> {
    if init.mech_token.is_some()
        || !config.service.auth.contains(&AuthScheme::Kerberos)
        || config.kerberos.keys.entries.is_empty()
    {
        return None;
    }
    kerberos::krb5_mech(init.first_mech)
}

/// A Kerberos AP-REQ (raw or in SPNEGO): one leg, established or refused.
fn kerberos_logon(config: &Config, offer: &kerberos::Offer<'_>) -> (State, Step) {
    kerberos_attempt(config, offer).unwrap_or((State::Idle, Step::Rejected))
}

/// One Kerberos leg; `None` when Kerberos cannot be used at all (not enabled in
/// `service.auth`, or no key for the ticket's service), where SPNEGO may still choose another
/// mechanism. A ticket that is there but fails its checks is refused outright: no downgrade.
fn kerberos_attempt(config: &Config, offer: &kerberos::Offer<'_>) -> Option<(State, Step)> {
    if !config.service.auth.contains(&AuthScheme::Kerberos) {
        tracing::info!("kerberos not taken: kerberos is not enabled in service.auth");
        return None;
    }
    match kerberos::accept(config, offer) {
        Ok(a) => {
            let established = Established {
                ctx: Context::Kerberos(a.ctx),
                user: a.user,
            };
            Some((State::Established(established), Step::Done(a.reply)))
        }
        Err(e @ kerberos::Refusal::NoKey(_)) => {
            tracing::info!(reason = %e, "kerberos not taken");
            None
        }
        Err(e) => {
            tracing::info!(reason = %e, "kerberos logon refused");
            Some((State::Idle, Step::Rejected))
        }
    }
}

fn ntlm_negotiate(token: &[u8]) -> (State, Step) {
    let mut ctx = Box::new(Ntlm::new());
    // sspi refuses a NEGOTIATE without NTLMSSP_NEGOTIATE_NTLM / REQUEST_TARGET (Go's
    // go-ntlmssp sends neither); it gets a copy with both set, see `with_required_flags`.
    let amended = ntlm::with_required_flags(token);
    if amended.is_some() {
        tracing::debug!("ntlm negotiate without the ntlm/request-target flags; amended for sspi");
    }
    let given = amended.as_deref().unwrap_or(token);
    let Ok(out) = accept(&mut *ctx, &mut None, given).map(|(_, out)| out) else {
        return (State::Idle, Step::Rejected);
    };
    let Some(server_challenge) = ntlm::server_challenge(&out) else {
        return (State::Idle, Step::Rejected);
    };
    (
        State::Challenged {
            ctx: Context::Ntlm(ctx),
            server_challenge,
            amended: amended.is_some(),
        },
        Step::Continue(out),
    )
}

fn ntlm_authenticate(
    config: &Config,
    mut ctx: Box<Ntlm>,
    server_challenge: &[u8; 8],
    amended: bool,
    token: &[u8],
) -> (State, Step) {
    // A MIC covers the NEGOTIATE as the client sent it, not the copy sspi holds: it cannot
    // verify, so refuse it here rather than rely on sspi failing (fail closed).
    if amended && ntlm::Authenticate::parse(token).is_ok_and(|m| m.announces_mic()) {
        tracing::info!("ntlm logon refused: mic over an amended negotiate message");
        return (State::Idle, Step::Rejected);
    }
    let Some(user) = check_authenticate(config, server_challenge, token) else {
        return (State::Idle, Step::Rejected);
    };
    let mut creds = Some(AuthIdentityBuffers::from(identity(
        &user.name,
        None,
        &user.password,
    )));
    let Ok((status, _)) = accept(&mut *ctx, &mut creds, token) else {
        return (State::Idle, Step::Rejected);
    };
    if !matches!(status, SecurityStatus::Ok | SecurityStatus::CompleteNeeded)
        || ctx.complete_auth_token(&mut []).is_err()
    {
        return (State::Idle, Step::Rejected);
    }
    let mut ctx = Context::Ntlm(ctx);
    if !names_match(config, &mut ctx, &user) {
        return (State::Idle, Step::Rejected);
    }
    (
        State::Established(Established { ctx, user }),
        Step::Done(None),
    )
}

fn spnego_init(config: &Config, init: &spnego::NegTokenInit<'_>, token: &[u8]) -> (State, Step) {
    // NTLM is the only mechanism here. NTLM first with an optimistic token: it must be the
    // NEGOTIATE, answered with the CHALLENGE. NTLM later in the list (or first without a
    // token): sspi answers accept-incomplete with supportedMech NTLM and no token, and the
    // initiator's NEGOTIATE follows in a NegTokenResp (RFC 4178 4.2.2); the mechListMIC is
    // then required (RFC 4178 5), which sspi enforces.
    let optimistic = init.ntlm_first && init.mech_token.is_some();
    if !init.ntlm_offered
        || (optimistic && init.mech_token.and_then(ntlm::message_type) != Some(ntlm::NEGOTIATE))
    {
        return (State::Idle, Step::Rejected);
    }
    let auth_data = config
        .users
        .iter()
        .flat_map(|u| spellings(config, u))
        .collect();
    let negotiate_config = NegotiateConfig::new(
        Box::new(NtlmConfig::default()),
        Some("ntlm,!kerberos,!pku2u".into()),
        config.computer_name.clone(),
    );
    let Ok(mut ctx) = Negotiate::new_server(negotiate_config, auth_data).map(Box::new) else {
        return (State::Idle, Step::Rejected);
    };
    let mut creds = None;
    if ctx
        .acquire_credentials_handle()
        .with_credential_use(CredentialUse::Inbound)
        .execute(&mut *ctx)
        .map(|r| creds = r.credentials_handle)
        .is_err()
    {
        return (State::Idle, Step::Rejected);
    }
    let Ok((_, out)) = accept(&mut *ctx, &mut creds, token) else {
        return (State::Idle, Step::Rejected);
    };
    if !optimistic {
        let selected = spnego::parse_resp(&out).is_some_and(|r| {
            r.supported_mech == Some(spnego::NTLM_OID) && r.response_token.is_none()
        });
        if !selected {
            return (State::Idle, Step::Rejected);
        }
        return (
            State::MechSelected {
                ctx: Context::Negotiate(ctx, creds),
            },
            Step::Continue(out),
        );
    }
    challenged(ctx, creds, out)
}

/// The initiator's NEGOTIATE after SPNEGO chose NTLM: answered with the CHALLENGE.
fn spnego_negotiate(
    mut ctx: Box<Negotiate>,
    mut creds: Option<CredentialsBuffers>,
    resp: &spnego::NegTokenResp<'_>,
) -> (State, Step) {
    if resp.response_token.and_then(ntlm::message_type) != Some(ntlm::NEGOTIATE) {
        return (State::Idle, Step::Rejected);
    }
    let Ok((_, out)) = accept(&mut *ctx, &mut creds, &with_neg_state(resp)) else {
        return (State::Idle, Step::Rejected);
    };
    challenged(ctx, creds, out)
}

/// sspi's answer carrying the CHALLENGE: the state that waits for the AUTHENTICATE.
fn challenged(
    ctx: Box<Negotiate>,
    creds: Option<CredentialsBuffers>,
    out: Vec<u8>,
) -> (State, Step) {
    let challenge = spnego::parse_resp(&out)
        .and_then(|r| r.response_token)
        .and_then(ntlm::server_challenge);
    let Some(server_challenge) = challenge else {
        return (State::Idle, Step::Rejected);
    };
    (
        State::Challenged {
            ctx: Context::Negotiate(ctx, creds),
            server_challenge,
            amended: false,
        },
        Step::Continue(out),
    )
}

fn spnego_authenticate(
    config: &Config,
    ctx: Box<Negotiate>,
    creds: Option<CredentialsBuffers>,
    server_challenge: &[u8; 8],
    resp: &spnego::NegTokenResp<'_>,
) -> (State, Step) {
    let Some(inner) = resp.response_token else {
        return (State::Idle, Step::Rejected);
    };
    let Some(user) = check_authenticate(config, server_challenge, inner) else {
        return (State::Idle, Step::Rejected);
    };
    let fixed = with_neg_state(resp);
    finish_negotiate(config, ctx, creds, user, &fixed)
}

fn finish_negotiate(
    config: &Config,
    mut ctx: Box<Negotiate>,
    mut creds: Option<CredentialsBuffers>,
    user: User,
    token: &[u8],
) -> (State, Step) {
    let Ok((status, out)) = accept(&mut *ctx, &mut creds, token) else {
        return (State::Idle, Step::Rejected);
    };
    match status {
        SecurityStatus::Ok | SecurityStatus::CompleteNeeded => {
            if status == SecurityStatus::CompleteNeeded && ctx.complete_auth_token(&mut []).is_err()
            {
                return (State::Idle, Step::Rejected);
            }
            let mut ctx = Context::Negotiate(ctx, creds);
            if !names_match(config, &mut ctx, &user) {
                return (State::Idle, Step::Rejected);
            }
            let token = (!out.is_empty()).then_some(out);
            (
                State::Established(Established { ctx, user }),
                Step::Done(token),
            )
        }
        SecurityStatus::ContinueNeeded => (
            State::VerifyMic {
                ctx: Context::Negotiate(ctx, creds),
                user,
            },
            Step::Continue(out),
        ),
        _ => (State::Idle, Step::Rejected),
    }
}

/// The independent check of an AUTHENTICATE message: a configured user, a MIC, the right
/// NTProofStr. Returns the user.
fn check_authenticate(config: &Config, server_challenge: &[u8; 8], token: &[u8]) -> Option<User> {
    let msg = ntlm::Authenticate::parse(token).ok()?;
    let claimed = if msg.domain.is_empty() {
        msg.user.clone()
    } else {
        format!("{}\\{}", msg.domain, msg.user)
    };
    let user = ntlm_user(config, &claimed)?.clone();
    match msg.verify(server_challenge, &user.password) {
        Ok(()) => Some(user),
        Err(e) => {
            tracing::info!(user = %user.name, reason = %e, "ntlm logon refused");
            None
        }
    }
}

/// Inserts `negState = accept-incomplete` into a NegTokenResp that has none (sspi misreads
/// those), leaving other tokens as they are.
fn with_neg_state(resp: &spnego::NegTokenResp<'_>) -> Vec<u8> {
    spnego::encode_resp(&spnego::NegTokenResp {
        neg_state: Some(resp.neg_state.unwrap_or(spnego::ACCEPT_INCOMPLETE)),
        supported_mech: resp.supported_mech,
        response_token: resp.response_token,
        mech_list_mic: resp.mech_list_mic,
    })
}

/// Every spelling of a user a client may send: `alice`, `.\alice`, `HOST\alice`, and for each
/// Kerberos realm of the keytab `REALM\alice`, `NETBIOS\alice` and `alice@REALM`.
fn spellings(config: &Config, user: &User) -> Vec<AuthIdentity> {
    let domains = realm_domains(config);
    let mut out: Vec<AuthIdentity> = [None, Some("."), Some(config.computer_name.as_str())]
        .into_iter()
        .chain(domains.iter().map(|d| Some(d.as_str())))
        .map(|domain| identity(&user.name, domain, &user.password))
        .collect();
    for realm in realms(config) {
        let upn = format!("{}@{realm}", user.name);
        out.push(identity(&upn, None, &user.password));
    }
    out
}

/// The Kerberos realms of the keytab: the emulator's domain, whose accounts are its users
/// (as `user@REALM` tickets are under Kerberos).
fn realms(config: &Config) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for e in &config.kerberos.keys.entries {
        if !out.iter().any(|r| r.eq_ignore_ascii_case(&e.realm)) {
            out.push(&e.realm);
        }
    }
    out
}

/// The domain names NTLM clients use for the realms: `PSRM.TEST` and its NetBIOS form `PSRM`.
fn realm_domains(config: &Config) -> Vec<String> {
    let mut out = Vec::new();
    for realm in realms(config) {
        out.push(realm.to_owned());
        if let Some((netbios, _)) = realm.split_once('.') {
            out.push(netbios.to_owned());
        }
    }
    out
}

/// The configured user an NTLM name stands for: a local spelling (`Config::user`), or an
/// account of the keytab's realm (`PSRM\alice`, `PSRM.TEST\alice`, `alice@PSRM.TEST`).
fn ntlm_user<'a>(config: &'a Config, claimed: &str) -> Option<&'a User> {
    if let Some(user) = config.user(claimed) {
        return Some(user);
    }
    let (domain, account) = match claimed.split_once('\\') {
        Some((domain, account)) => (domain, account),
        None => {
            let (account, domain) = claimed.rsplit_once('@')?;
            (domain, account)
        }
    };
    if !realm_domains(config)
        .iter()
        .any(|d| d.eq_ignore_ascii_case(domain))
    {
        return None;
    }
    config
        .users
        .iter()
        .find(|u| u.name.eq_ignore_ascii_case(account))
}

fn identity(name: &str, domain: Option<&str>, password: &str) -> AuthIdentity {
    let username = match domain {
        Some(d) => Username::new_down_level_logon_name(name, d),
        None => Username::parse(name),
    }
    .or_else(|_| Username::parse(name))
    .unwrap_or_else(|_| Username::parse("invalid").unwrap_or_else(|_| unreachable_username()));
    AuthIdentity {
        username,
        password: Secret::from(password.to_owned()),
    }
}

// Account names are validated by the configuration; `Username::parse` accepts any plain name.
fn unreachable_username() -> Username {
    Username::new("user", None).unwrap_or_else(|_| panic!("sspi refuses the name `user`"))
}

fn names_match(config: &Config, ctx: &mut Context, user: &User) -> bool {
    let names = contain(|| match ctx {
        Context::Ntlm(c) => c.query_context_names(),
        Context::Negotiate(c, _) => c.query_context_names(),
        Context::CredSsp(_) | Context::Kerberos(_) => Err(sspi::Error::new(
            sspi::ErrorKind::UnsupportedFunction,
            "credssp and kerberos names are checked by their acceptors",
        )),
    });
    let Some(Ok(names)) = names else {
        return false;
    };
    ntlm_user(config, names.username.inner()).is_some_and(|u| u.name == user.name)
}

/// One `accept_security_context` call: (status, output token).
fn accept<P>(
    ctx: &mut P,
    creds: &mut P::CredentialsHandle,
    token: &[u8],
) -> Result<(SecurityStatus, Vec<u8>), ()>
where
    P: Sspi + SspiImpl,
{
    let mut input = [SecurityBuffer::new(token.to_vec(), BufferType::Token)];
    let mut output = [SecurityBuffer::new(Vec::new(), BufferType::Token)];
    let builder = ctx
        .accept_security_context()
        .with_credentials_handle(creds)
        .with_context_requirements(ServerRequestFlags::empty())
        .with_target_data_representation(DataRepresentation::Native)
        .with_input(&mut input)
        .with_output(&mut output);
    let result = ctx
        .accept_security_context_impl(builder)
        .and_then(|mut g| g.resolve_to_result());
    match result {
        Ok(r) => {
            let [out] = output;
            Ok((r.status, out.buffer))
        }
        Err(e) => {
            tracing::debug!(
                kind = ?e.error_type,
                reason = %e.description,
                "accept_security_context failed"
            );
            Err(())
        }
    }
}

impl Established {
    /// Unseals one part: verifies `signature` and decrypts `sealed` (sequence numbers advance).
    pub(crate) fn unseal(&mut self, signature: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        if let Context::CredSsp(session) = &mut self.ctx {
            return contain(|| session.unseal(signature, sealed)).flatten();
        }
        if let Context::Kerberos(c) = &mut self.ctx {
            return contain(|| c.unwrap(signature, sealed)).flatten();
        }
        let mut sig = signature.to_vec();
        let mut data = sealed.to_vec();
        let ok = contain(|| {
            let mut bufs = [
                SecurityBufferRef::token_buf(&mut sig),
                SecurityBufferRef::data_buf(&mut data),
            ];
            match &mut self.ctx {
                Context::Ntlm(c) => c.decrypt_message(&mut bufs).is_ok(),
                Context::Negotiate(c, _) => c.decrypt_message(&mut bufs).is_ok(),
                Context::CredSsp(_) | Context::Kerberos(_) => false,
            }
        });
        (ok == Some(true)).then_some(data)
    }

    /// Seals a plaintext: (signature, sealed data).
    pub(crate) fn seal(&mut self, plain: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
        if let Context::CredSsp(session) = &mut self.ctx {
            return contain(|| session.seal(plain)).flatten();
        }
        if let Context::Kerberos(c) = &mut self.ctx {
            return contain(|| c.wrap(plain)).flatten();
        }
        let mut sig = vec![0; SIGNATURE_LEN];
        let mut data = plain.to_vec();
        let ok = contain(|| {
            let mut bufs = [
                SecurityBufferRef::token_buf(&mut sig),
                SecurityBufferRef::data_buf(&mut data),
            ];
            match &mut self.ctx {
                Context::Ntlm(c) => c
                    .encrypt_message(EncryptionFlags::empty(), &mut bufs)
                    .is_ok(),
                Context::Negotiate(c, _) => c
                    .encrypt_message(EncryptionFlags::empty(), &mut bufs)
                    .is_ok(),
                Context::CredSsp(_) | Context::Kerberos(_) => false,
            }
        });
        (ok == Some(true)).then_some((sig, data))
    }
}

/// Checks `Authorization: Basic` credentials; the configured user on success.
pub(crate) fn basic(config: &Config, encoded: &str) -> Option<User> {
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (name, password) = text.split_once(':')?;
    let user = config.user(name)?;
    // Compare fixed-size digests so the time does not depend on where the passwords differ.
    let a = ntlm::nt_proof_str(password, "", "", &[0; 8], b"basic");
    let b = ntlm::nt_proof_str(&user.password, "", "", &[0; 8], b"basic");
    bool::from(a.ct_eq(&b)).then(|| user.clone())
}

fn contain<T>(f: impl FnOnce() -> T) -> Option<T> {
    catch_unwind(AssertUnwindSafe(f)).ok()
}

impl std::fmt::Debug for ConnectionAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.state {
            State::Idle => "idle",
            State::Challenged { .. } => "challenged",
            State::VerifyMic { .. } => "verify-mic",
            State::MechSelected { .. } => "mech-selected",
            State::KerberosSelected { .. } => "kerberos-selected",
            State::CredSsp(_) => "credssp",
            State::Established(_) => "established",
        };
        f.debug_struct("ConnectionAuth")
            .field("state", &state)
            .finish()
    }
}

impl std::fmt::Debug for Established {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Established")
            .field("user", &self.user.name)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn config() -> Config {
        Config::from_toml("[[users]]\nname = \"alice\"\npassword = \"pw\"\n").unwrap()
    }

    /// The NEGOTIATE_MESSAGE pyspnego 0.12 sends (flags 0xe2088237, empty domain and
    /// workstation, version 10.0 build 0 rev 15).
    fn negotiate_message() -> Vec<u8> {
        let hex =
            "4e544c4d5353500001000000378208e200000000280000000000000028000000000c00000000000f";
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn negotiate_gets_a_challenge_and_garbage_authenticate_is_rejected() {
        let config = config();
        let mut auth = ConnectionAuth::default();
        let Step::Continue(challenge) = auth.step(&config, &negotiate_message()) else {
            panic!("expected a challenge");
        };
        assert_eq!(ntlm::message_type(&challenge), Some(ntlm::CHALLENGE));
        let mut bogus = b"NTLMSSP\0\x03\0\0\0".to_vec();
        bogus.resize(120, 0);
        assert!(matches!(auth.step(&config, &bogus), Step::Rejected));
        assert!(auth.established().is_none());
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn le16(b: &[u8], at: usize) -> usize {
        usize::from(u16::from_le_bytes([b[at], b[at + 1]]))
    }

    fn le32(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
    }

    /// The NEGOTIATE_MESSAGE Azure/go-ntlmssp sends for masterzen/winrm (flags 0xa0880001:
    /// neither NTLMSSP_NEGOTIATE_NTLM nor REQUEST_TARGET; version 6.1.7601 rev 15).
    fn go_negotiate() -> Vec<u8> {
        hex("4e544c4d5353500001000000010088a0000000002800000000000000280000000601b11d0000000f")
    }

    /// An AUTHENTICATE_MESSAGE laid out as go-ntlmssp builds it: 64-byte header (no version, no
    /// MIC field), the CHALLENGE's flags minus VERSION, domain = the CHALLENGE's target name,
    /// NTLMv2 response over the server's target info verbatim. `mic_flag` adds an MsvAvFlags
    /// pair announcing a MIC (go-ntlmssp never does).
    fn go_authenticate(challenge: &[u8], user: &str, password: &str, mic_flag: bool) -> Vec<u8> {
        let utf16 = |s: &str| -> Vec<u8> { s.encode_utf16().flat_map(u16::to_le_bytes).collect() };
        let flags = le32(challenge, 20) & !0x0200_0000;
        let server_challenge: [u8; 8] = challenge[24..32].try_into().unwrap();
        let name_at = le32(challenge, 16) as usize;
        let target = &challenge[name_at..name_at + le16(challenge, 12)];
        let target = String::from_utf16(
            &target
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect::<Vec<_>>(),
        )
        .unwrap();
        let info_at = le32(challenge, 44) as usize;
        let mut info = challenge[info_at..info_at + le16(challenge, 40)].to_vec();
        if mic_flag {
            // Insert MsvAvFlags = 0x2 before MsvAvEOL (the last four bytes).
            let eol = info.split_off(info.len() - 4);
            info.extend_from_slice(&[6, 0, 4, 0, 2, 0, 0, 0]);
            info.extend_from_slice(&eol);
        }
        let mut blob = vec![1, 1, 0, 0, 0, 0, 0, 0];
        blob.extend_from_slice(&0x01dc_0000_0000_0000u64.to_le_bytes());
        blob.extend_from_slice(&[0x5a; 8]);
        blob.extend_from_slice(&[0; 4]);
        blob.extend_from_slice(&info);
        blob.extend_from_slice(&[0; 4]);
        let mut nt = ntlm::nt_proof_str(password, user, &target, &server_challenge, &blob).to_vec();
        nt.extend_from_slice(&blob);
        let (domain, user) = (utf16(&target), utf16(user));
        let mut msg = b"NTLMSSP\0\x03\0\0\0".to_vec();
        let mut at = 64u32;
        let mut payload = Vec::new();
        for field in [&[][..], &nt, &domain, &user, &[]] {
            let len = u16::try_from(field.len()).unwrap();
            msg.extend_from_slice(&len.to_le_bytes());
            msg.extend_from_slice(&len.to_le_bytes());
            msg.extend_from_slice(&at.to_le_bytes());
            at += u32::from(len);
            payload.extend_from_slice(field);
        }
        msg.extend_from_slice(&[0; 8]);
        msg.extend_from_slice(&flags.to_le_bytes());
        assert_eq!(msg.len(), 64);
        msg.extend_from_slice(&payload);
        msg
    }

    /// NEGOTIATE then AUTHENTICATE the way Go's client does: the step after the AUTHENTICATE.
    fn go_logon(config: &Config, user: &str, password: &str, mic_flag: bool) -> (Step, bool) {
        let mut auth = ConnectionAuth::default();
        let Step::Continue(challenge) = auth.step(config, &go_negotiate()) else {
            panic!("go's negotiate message must get a challenge");
        };
        assert_eq!(ntlm::message_type(&challenge), Some(ntlm::CHALLENGE));
        // go-ntlmssp gives up on KEY_EXCH (0x40000000) or LM_KEY (0x80) in the challenge.
        assert_eq!(le32(&challenge, 20) & 0x4000_0080, 0);
        let step = auth.step(
            config,
            &go_authenticate(&challenge, user, password, mic_flag),
        );
        let established = auth.established().map(|e| e.user.name.clone());
        if let Some(name) = &established {
            assert_eq!(name, "alice");
        }
        (step, established.is_some())
    }

    #[test]
    fn go_ntlmssp_negotiate_without_ntlm_flag_is_challenged() {
        let config = config();
        let mut auth = ConnectionAuth::default();
        let Step::Continue(challenge) = auth.step(&config, &go_negotiate()) else {
            panic!("expected a challenge");
        };
        assert!(ntlm::server_challenge(&challenge).is_some());
    }

    #[test]
    fn go_ntlmssp_logon_without_mic_still_checks_password_and_name() {
        let config = config();
        let (step, ok) = go_logon(&config, "alice", "pw", false);
        assert!(matches!(step, Step::Done(None)), "{step:?}");
        assert!(ok);
        let (step, ok) = go_logon(&config, "ALICE", "pw", false);
        assert!(matches!(step, Step::Done(None)), "{step:?}");
        assert!(ok);
        for (user, password) in [
            ("alice", "pw2"),
            ("alice", ""),
            ("bob", "pw"),
            ("guest", ""),
        ] {
            let (step, ok) = go_logon(&config, user, password, false);
            assert!(
                matches!(step, Step::Rejected),
                "{user}/{password}: {step:?}"
            );
            assert!(!ok, "{user}/{password}");
        }
    }

    #[test]
    fn mic_after_an_amended_negotiate_is_refused() {
        // Right password, but a MIC cannot cover the NEGOTIATE sspi was given: refused.
        let (step, ok) = go_logon(&config(), "alice", "pw", true);
        assert!(matches!(step, Step::Rejected), "{step:?}");
        assert!(!ok);
    }

    #[test]
    fn basic_checks_name_and_password() {
        let config = config();
        let enc = |s: &str| STANDARD.encode(s);
        assert_eq!(
            basic(&config, &enc("alice:pw")).map(|u| u.name),
            Some("alice".into())
        );
        assert_eq!(
            basic(&config, &enc(".\\ALICE:pw")).map(|u| u.name),
            Some("alice".into())
        );
        assert!(basic(&config, &enc("alice:pw2")).is_none());
        assert!(basic(&config, &enc("alice:")).is_none());
        assert!(basic(&config, &enc("bob:pw")).is_none());
        assert!(basic(&config, "%%%").is_none());
    }

    /// A NegTokenInit listing `mechs` (OID contents) with an optional mechToken.
    fn neg_token_init(mechs: &[&[u8]], mech_token: Option<&[u8]>) -> Vec<u8> {
        let list: Vec<u8> = mechs.iter().flat_map(|m| spnego::wrap(0x06, m)).collect();
        let mut seq = spnego::wrap(0xa0, &spnego::wrap(0x30, &list));
        if let Some(t) = mech_token {
            seq.extend(spnego::wrap(0xa2, &spnego::wrap(0x04, t)));
        }
        let mut app = spnego::wrap(0x06, &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x02]);
        app.extend(spnego::wrap(0xa0, &spnego::wrap(0x30, &seq)));
        spnego::wrap(0x60, &app)
    }

    fn neg_token_resp(token: &[u8]) -> Vec<u8> {
        spnego::encode_resp(&spnego::NegTokenResp {
            neg_state: Some(spnego::ACCEPT_INCOMPLETE),
            supported_mech: None,
            response_token: Some(token),
            mech_list_mic: None,
        })
    }

    /// A GSS krb5 AP-REQ framing around junk (enough for `kerberos::offer`).
    fn fake_ap_req() -> Vec<u8> {
        let mut inner = spnego::wrap(0x06, kerberos::KRB5_OID);
        inner.extend_from_slice(&[0x01, 0x00]);
        inner.extend(spnego::wrap(0x6e, &[0x30, 0x00]));
        spnego::wrap(0x60, &inner)
    }

    /// `auth` with a one-key keytab (`HTTP/host@EX.TEST`, aes256) and the user alice.
    fn keytab_config(auth: &str) -> Config {
        let path = crate::keytab::testing::one_key_file(&format!("auth-{}", auth.len()), 1);
        Config::from_toml(&format!(
            "[[users]]\nname = \"alice\"\npassword = \"pw\"\n[service]\nauth = [{auth}]\n\
             [kerberos]\nkeytab = \"{}\"\n",
            path.display()
        ))
        .unwrap()
    }

    #[test]
    fn krb5_first_without_a_token_selects_krb5_and_takes_only_an_ap_req() {
        for auth in ["\"kerberos\"", "\"negotiate\", \"kerberos\""] {
            let config = keytab_config(auth);
            for mech in [kerberos::KRB5_OID, kerberos::MS_KRB5_OID] {
                let init = neg_token_init(&[mech, spnego::NTLM_OID], None);
                let mut a = ConnectionAuth::default();
                let Step::Continue(first) = a.step(&config, &init) else {
                    panic!("{auth}: krb5 first without a token must be answered");
                };
                let resp = spnego::parse_resp(&first).expect("a NegTokenResp");
                assert_eq!(resp.neg_state, Some(spnego::ACCEPT_INCOMPLETE));
                assert_eq!(resp.supported_mech, Some(mech));
                assert_eq!((resp.response_token, resp.mech_list_mic), (None, None));
                assert_eq!(
                    format!("{a:?}"),
                    "ConnectionAuth { state: \"kerberos-selected\" }"
                );
                // No downgrade: an NTLM NEGOTIATE now is refused, as is an AP-REQ that does
                // not check out (here one for a service without a key).
                let mut b = ConnectionAuth::default();
                assert!(matches!(b.step(&config, &init), Step::Continue(_)));
                let ntlm = neg_token_resp(&negotiate_message());
                assert!(matches!(b.step(&config, &ntlm), Step::Rejected));
                assert!(matches!(
                    a.step(&config, &neg_token_resp(&fake_ap_req())),
                    Step::Rejected
                ));
            }
        }
        // NTLM first is not this path; nor is krb5 first when kerberos is not enabled.
        let config = keytab_config("\"negotiate\", \"kerberos\"");
        let init = neg_token_init(&[spnego::NTLM_OID, kerberos::KRB5_OID], None);
        let Step::Continue(first) = ConnectionAuth::default().step(&config, &init) else {
            panic!("ntlm first must be answered");
        };
        assert_eq!(
            spnego::parse_resp(&first).unwrap().supported_mech,
            Some(spnego::NTLM_OID)
        );
        let config = keytab_config("\"negotiate\"");
        let init = neg_token_init(&[kerberos::KRB5_OID, spnego::NTLM_OID], None);
        let Step::Continue(first) = ConnectionAuth::default().step(&config, &init) else {
            panic!("krb5 first with ntlm listed must be answered");
        };
        assert_eq!(
            spnego::parse_resp(&first).unwrap().supported_mech,
            Some(spnego::NTLM_OID)
        );
    }

    fn negotiate_config(auth: &str) -> Config {
        Config::from_toml(&format!(
            "[[users]]\nname = \"alice\"\npassword = \"pw\"\n[service]\nauth = [{auth}]\n"
        ))
        .unwrap()
    }

    #[test]
    fn krb5_first_without_kerberos_selects_ntlm_then_challenges_its_negotiate() {
        let config = negotiate_config("\"negotiate\"");
        let ms_krb5: &[u8] = kerberos::MS_KRB5_OID;
        let mut auth = ConnectionAuth::default();
        let init = neg_token_init(
            &[ms_krb5, kerberos::KRB5_OID, spnego::NTLM_OID],
            Some(&fake_ap_req()),
        );
        let Step::Continue(first) = auth.step(&config, &init) else {
            panic!("a krb5-first offer listing ntlm must be answered");
        };
        let resp = spnego::parse_resp(&first).expect("a NegTokenResp");
        assert_eq!(resp.neg_state, Some(spnego::ACCEPT_INCOMPLETE));
        assert_eq!(resp.supported_mech, Some(spnego::NTLM_OID));
        assert_eq!(resp.response_token, None);
        assert_eq!(resp.mech_list_mic, None);
        // Anything but the NEGOTIATE now is refused.
        let mut other = ConnectionAuth::default();
        assert!(matches!(other.step(&config, &init), Step::Continue(_)));
        assert!(matches!(
            other.step(&config, &neg_token_resp(b"NTLMSSP\0\x03\0\0\0")),
            Step::Rejected
        ));
        // The NEGOTIATE inside a NegTokenResp gets the CHALLENGE.
        let Step::Continue(second) = auth.step(&config, &neg_token_resp(&negotiate_message()))
        else {
            panic!("the negotiate after the mech selection must be challenged");
        };
        let resp = spnego::parse_resp(&second).expect("a NegTokenResp");
        assert!(
            resp.response_token
                .and_then(ntlm::server_challenge)
                .is_some()
        );
        assert!(auth.established().is_none());
    }

    #[test]
    fn spnego_offers_without_a_usable_mechanism_are_refused() {
        let config = negotiate_config("\"negotiate\"");
        // Kerberos only: nothing to fall back to.
        let init = neg_token_init(&[kerberos::KRB5_OID], Some(&fake_ap_req()));
        assert!(matches!(
            ConnectionAuth::default().step(&config, &init),
            Step::Rejected
        ));
        // NTLM first whose optimistic token is not a NEGOTIATE.
        let init = neg_token_init(&[spnego::NTLM_OID], Some(b"NTLMSSP\0\x03\0\0\0"));
        assert!(matches!(
            ConnectionAuth::default().step(&config, &init),
            Step::Rejected
        ));
        // Negotiate not enabled: the krb5 offer is refused, no fallback.
        let config = negotiate_config("\"basic\", \"ntlm\"");
        let init = neg_token_init(
            &[kerberos::KRB5_OID, spnego::NTLM_OID],
            Some(&fake_ap_req()),
        );
        assert!(matches!(
            ConnectionAuth::default().step(&config, &init),
            Step::Rejected
        ));
    }

    #[test]
    fn ntlm_names_of_the_keytab_realm_are_the_configured_users() {
        let mut config = config();
        assert!(ntlm_user(&config, "PSRM.TEST\\alice").is_none());
        config
            .kerberos
            .keys
            .entries
            .push(crate::keytab::KeytabEntry {
                realm: "PSRM.TEST".into(),
                components: vec!["HTTP".into(), "localhost".into()],
                name_type: 3,
                kvno: 1,
                enctype: 18,
                key: vec![0; 32],
            });
        for name in [
            "alice",
            "PSRM.TEST\\alice",
            "psrm\\ALICE",
            "alice@psrm.test",
            "SERVER01\\alice",
        ] {
            assert_eq!(
                ntlm_user(&config, name).map(|u| u.name.as_str()),
                Some("alice"),
                "{name}"
            );
        }
        for name in [
            "OTHER\\alice",
            "alice@OTHER.TEST",
            "PSRM.TEST\\bob",
            "TEST\\alice",
        ] {
            assert!(ntlm_user(&config, name).is_none(), "{name}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Arbitrary and mutated tokens, fed after a real NEGOTIATE, never authenticate and never
        /// escape as a panic.
        #[test]
        fn arbitrary_tokens_never_authenticate(
            first in proptest::collection::vec(any::<u8>(), 0..120),
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
            tail in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            let config = config();
            let mut auth = ConnectionAuth::default();
            prop_assert!(!matches!(auth.step(&config, &first), Step::Done(_)));
            prop_assert!(matches!(auth.step(&config, &negotiate_message()), Step::Continue(_)));
            let mut third = b"NTLMSSP\0\x03\0\0\0".to_vec();
            third.extend_from_slice(&tail);
            for (i, b) in flips {
                let i = i.index(third.len());
                third[i] = b;
            }
            prop_assert!(!matches!(auth.step(&config, &third), Step::Done(_)));
            prop_assert!(auth.established().is_none());
        }
    }
}
