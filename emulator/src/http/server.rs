//! The hyper server: listener, per-connection tasks, request handling.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use wsman::encryption::{self, EncryptedPart, FramingError};

use super::{RequestContext, SoapReply, SoapService};
use crate::auth::cert::{self, PeerCertificate};
use crate::auth::{self, ConnectionAuth, Step};
use crate::config::{AuthScheme, Config, User};
use crate::faults::{Faults, ServiceFault};
use crate::tls::{self, ClientAuth, GeneratedCert, TlsError, TlsSource};

/// Extra bytes allowed over MaxEnvelopeSize for the `multipart/encrypted` framing.
const FRAMING_SLACK: u64 = 16 * 1024;
/// How long [`Emulator::shutdown`] waits for open connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
const SOAP_CONTENT_TYPE: &str = "application/soap+xml;charset=UTF-8";

/// A running emulator: the listener and its connections.
///
/// Dropping it without [`Emulator::shutdown`] stops accepting as well, abruptly.
#[derive(Debug)]
pub struct Emulator {
    addr: SocketAddr,
    https: bool,
    generated_cert: Option<GeneratedCert>,
    shutdown: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
    faults: Arc<Faults>,
}

/// Options of [`Emulator`] beyond the configuration file: address and TLS.
#[derive(Debug)]
pub struct EmulatorBuilder {
    config: Config,
    listen: SocketAddr,
    tls: Option<TlsSource>,
    faults: Option<Arc<Faults>>,
}

/// The emulator could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// Binding the address failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// TLS setup failed.
    #[error(transparent)]
    Tls(#[from] TlsError),
}

impl Emulator {
    /// Starts an emulator for `config` on `127.0.0.1:0` over plain HTTP; returns once bound.
    ///
    /// # Errors
    ///
    /// [`StartError::Bind`] when the address cannot be bound.
    pub async fn start<S: SoapService>(config: Config, service: S) -> Result<Self, StartError> {
        Self::builder(config).start(service).await
    }

    /// Options: listen address, TLS.
    pub fn builder(config: Config) -> EmulatorBuilder {
        EmulatorBuilder {
            config,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls: None,
            faults: None,
        }
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR/wsman` or `https://ADDR/wsman`.
    pub fn url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}/wsman", self.addr)
    }

    /// The injected faults: add or clear rules while the emulator runs, read the counters.
    pub fn faults(&self) -> &Arc<Faults> {
        &self.faults
    }

    /// The generated self-signed certificate (PEM), when HTTPS runs with one.
    pub fn generated_cert(&self) -> Option<&GeneratedCert> {
        self.generated_cert.as_ref()
    }

    /// Stops accepting, lets in-flight requests finish (up to a few seconds), closes.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

impl EmulatorBuilder {
    /// The address to bind (`127.0.0.1:0` picks a free port).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Serve HTTPS with this certificate.
    pub fn tls(mut self, source: TlsSource) -> Self {
        self.tls = Some(source);
        self
    }

    /// Use these fault rules (shared with the caller) instead of the configuration's `[faults]`.
    pub fn faults(mut self, faults: Arc<Faults>) -> Self {
        self.faults = Some(faults);
        self
    }

    /// Binds and starts serving `service`; returns once the listener is bound.
    ///
    /// # Errors
    ///
    /// [`StartError`] when binding or TLS setup fails.
    pub async fn start<S: SoapService>(self, service: S) -> Result<Emulator, StartError> {
        // Certificate authentication: ask HTTPS clients for a certificate.
        let client_auth = match &self.tls {
            Some(_) if self.config.service.auth.contains(&AuthScheme::Certificate) => Some(
                Arc::new(ClientAuth::load(&self.config.client_certificates)?),
            ),
            None if self.config.service.auth.contains(&AuthScheme::Certificate) => {
                tracing::warn!(
                    "certificate authentication is configured but the listener is plain http: \
                     every certificate logon will get 401"
                );
                None
            }
            _ => None,
        };
        let (acceptor, generated_cert) = match &self.tls {
            Some(source) => {
                let (a, g) = tls::acceptor(source, client_auth.as_deref())?;
                (Some(a), g)
            }
            None => (None, None),
        };
        let listener = TcpListener::bind(self.listen)
            .await
            .map_err(|source| StartError::Bind {
                addr: self.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: self.listen,
            source,
        })?;
        let (tx, rx) = watch::channel(false);
        let faults = self
            .faults
            .unwrap_or_else(|| Arc::new(Faults::new(&self.config.faults)));
        let shared = Arc::new(Shared {
            config: self.config,
            service,
            next_connection: AtomicU64::new(1),
            faults: faults.clone(),
        });
        let https = acceptor.is_some();
        let task = tokio::spawn(accept_loop(shared, listener, acceptor, client_auth, rx));
        tracing::info!(%addr, https, "emulator listening");
        Ok(Emulator {
            addr,
            https,
            generated_cert,
            shutdown: tx,
            task: Some(task),
            faults,
        })
    }
}

struct Shared<S> {
    config: Config,
    service: S,
    next_connection: AtomicU64,
    faults: Arc<Faults>,
}

/// An injected fault closes the connection instead of replying.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by an injected fault")]
struct InjectedDrop;

async fn accept_loop<S: SoapService>(
    shared: Arc<Shared<S>>,
    listener: TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    client_auth: Option<Arc<ClientAuth>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let id = shared.next_connection.fetch_add(1, Ordering::Relaxed);
                let shared = shared.clone();
                let rx = shutdown.clone();
                let acceptor = acceptor.clone();
                let client_auth = client_auth.clone();
                connections.spawn(async move {
                    match acceptor {
                        None => serve_connection(shared, stream, peer, id, false, None, rx).await,
                        Some(acceptor) => {
                            let handshake = tokio::time::timeout(
                                Duration::from_secs(10),
                                acceptor.accept(stream),
                            );
                            match handshake.await {
                                Ok(Ok(tls)) => {
                                    let client_cert = client_auth.as_ref().and_then(|c| {
                                        c.inspect(tls.get_ref().1.peer_certificates())
                                    });
                                    serve_connection(shared, tls, peer, id, true, client_cert, rx)
                                        .await;
                                }
                                _ => tracing::debug!(%peer, "tls handshake failed"),
                            }
                        }
                    }
                });
            }
        }
    }
    drop(listener);
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
        connections.abort_all();
    }
}

async fn serve_connection<S, I>(
    shared: Arc<Shared<S>>,
    io: I,
    peer: SocketAddr,
    id: u64,
    is_tls: bool,
    client_cert: Option<PeerCertificate>,
    mut shutdown: watch::Receiver<bool>,
) where
    S: SoapService,
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let auth = Arc::new(Mutex::new(ConnectionAuth::default()));
    let conn = Conn {
        peer,
        id,
        is_tls,
        auth,
        client_cert: client_cert.map(Arc::new),
    };
    let svc = service_fn(move |req| {
        let shared = shared.clone();
        let conn = conn.clone();
        async move { handle(&shared, &conn, req).await }
    });
    let conn = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(io), svc);
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        }
        _ = shutdown.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

#[derive(Clone)]
struct Conn {
    peer: SocketAddr,
    id: u64,
    is_tls: bool,
    auth: Arc<Mutex<ConnectionAuth>>,
    /// The TLS client certificate, when certificate authentication is on and one was presented.
    client_cert: Option<Arc<PeerCertificate>>,
}

/// How the request authenticated.
enum Authenticated {
    /// Basic on this request.
    Basic(User),
    /// The connection's client certificate, asked for by this request's mutual header.
    Certificate(User),
    /// The connection's NTLM / SPNEGO context; an optional final token for the reply.
    Context(User, Option<(String, Vec<u8>)>),
}

async fn handle<S: SoapService>(
    shared: &Shared<S>,
    conn: &Conn,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, InjectedDrop> {
    let mut drop_reply = false;
    let response = handle_request(shared, conn, req, &mut drop_reply).await;
    if drop_reply {
        return Err(InjectedDrop);
    }
    Ok(response)
}

async fn handle_request<S: SoapService>(
    shared: &Shared<S>,
    conn: &Conn,
    req: Request<Incoming>,
    drop_reply: &mut bool,
) -> Response<Full<Bytes>> {
    let config = &shared.config;
    if req.uri().path() != "/wsman" {
        return empty(StatusCode::NOT_FOUND);
    }
    if req.method() != Method::POST {
        let mut r = empty(StatusCode::METHOD_NOT_ALLOWED);
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return r;
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let encrypted = encryption::parse_content_type(&content_type);
    let max = config.max_envelope_size();
    let limit = match encrypted {
        Err(FramingError::NotEncrypted) => max,
        _ => max.saturating_add(FRAMING_SLACK),
    };
    if let Some(len) = content_length(&req)
        && len > limit
    {
        return too_large();
    }
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let identify_unauthenticated = req
        .headers()
        .get(wsman::identify::HTTP_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case(wsman::identify::HTTP_HEADER_UNAUTHENTICATED)
        });
    // Read the whole body before answering, even a 401, so the connection (and its security
    // context) stays usable.
    let limit_usize = usize::try_from(limit).unwrap_or(usize::MAX);
    let body = match Limited::new(req.into_body(), limit_usize).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            return too_large();
        }
        Err(_) => return empty(StatusCode::BAD_REQUEST),
    };

    // `WSMANIDENTIFY: unauthenticated` without credentials: the service may answer (an
    // Identify, in plaintext, even where AllowUnencrypted is false, as Windows does); anything
    // else falls through to the usual challenge.
    if identify_unauthenticated
        && authorization.is_none()
        && matches!(encrypted, Err(FramingError::NotEncrypted))
        && let Some(reply) = shared.service.handle_unauthenticated(&body)
    {
        let status =
            StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return soap(status, reply.body);
    }
    let authenticated = match authenticate(config, conn, authorization.as_deref()) {
        Ok(a) => a,
        Err(resp) => return *resp,
    };
    let (user, final_token) = match authenticated {
        Authenticated::Basic(u) | Authenticated::Certificate(u) => (u, None),
        Authenticated::Context(u, t) => (u, t),
    };
    let mut response = dispatch(shared, conn, &user, encrypted, &body, drop_reply).await;
    if let Some((scheme, token)) = final_token
        && let Ok(v) = HeaderValue::from_str(&format!("{scheme} {}", STANDARD.encode(token)))
    {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    response
}

/// Runs the auth header through Basic or the connection's context.
fn authenticate(
    config: &Config,
    conn: &Conn,
    authorization: Option<&str>,
) -> Result<Authenticated, Box<Response<Full<Bytes>>>> {
    let Some(authorization) = authorization else {
        let mut auth = lock(&conn.auth);
        return match auth.established() {
            Some(e) => Ok(Authenticated::Context(e.user.clone(), None)),
            None => Err(Box::new(challenge(config))),
        };
    };
    if authorization
        .trim()
        .eq_ignore_ascii_case(cert::MUTUAL_PROFILE)
    {
        // As Windows: no certificate, an untrusted or unmapped one, or certificate auth off
        // all get 401.
        if !config.service.auth.contains(&AuthScheme::Certificate) {
            return Err(Box::new(challenge(config)));
        }
        return cert::logon(config, conn.client_cert.as_deref())
            .map(Authenticated::Certificate)
            .ok_or_else(|| Box::new(challenge(config)));
    }
    let (scheme, value) = authorization.split_once(' ').unwrap_or((authorization, ""));
    if scheme.eq_ignore_ascii_case("Basic") {
        if !config.service.auth.contains(&AuthScheme::Basic) {
            return Err(Box::new(challenge(config)));
        }
        return auth::basic(config, value)
            .map(Authenticated::Basic)
            .ok_or_else(|| Box::new(challenge(config)));
    }
    if scheme.eq_ignore_ascii_case("CredSSP") {
        return credssp(config, conn, value);
    }
    let is_kerberos = scheme.eq_ignore_ascii_case("Kerberos");
    if !is_kerberos
        && !scheme.eq_ignore_ascii_case("Negotiate")
        && !scheme.eq_ignore_ascii_case("NTLM")
    {
        return Err(Box::new(challenge(config)));
    }
    let Ok(token) = STANDARD.decode(value.trim()) else {
        lock(&conn.auth).reset();
        return Err(Box::new(challenge(config)));
    };
    let mut auth = lock(&conn.auth);
    let step = if is_kerberos {
        auth.step_kerberos(config, &token)
    } else {
        auth.step(config, &token)
    };
    match step {
        Step::Continue(out) => {
            let mut r = empty(StatusCode::UNAUTHORIZED);
            if let Ok(v) = HeaderValue::from_str(&format!("{scheme} {}", STANDARD.encode(out))) {
                r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
            Err(Box::new(r))
        }
        Step::Done(token) => {
            let user = auth.established().map(|e| e.user.clone());
            match user {
                Some(u) => Ok(Authenticated::Context(
                    u,
                    token.map(|t| (scheme.to_owned(), t)),
                )),
                None => Err(Box::new(challenge(config))),
            }
        }
        Step::Rejected => Err(Box::new(challenge(config))),
    }
}

/// One `Authorization: CredSSP` leg.
fn credssp(
    config: &Config,
    conn: &Conn,
    value: &str,
) -> Result<Authenticated, Box<Response<Full<Bytes>>>> {
    if !config.service.auth.contains(&AuthScheme::CredSsp) {
        return Err(Box::new(challenge(config)));
    }
    let mut auth = lock(&conn.auth);
    let Ok(token) = STANDARD.decode(value.trim()) else {
        auth.reset();
        return Err(Box::new(challenge(config)));
    };
    match auth.step_credssp(config, &token) {
        Step::Continue(out) => {
            let mut r = empty(StatusCode::UNAUTHORIZED);
            if let Ok(v) = HeaderValue::from_str(&format!("CredSSP {}", STANDARD.encode(out))) {
                r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
            Err(Box::new(r))
        }
        Step::Done(_) => match auth.established() {
            Some(e) => Ok(Authenticated::Context(e.user.clone(), None)),
            None => Err(Box::new(challenge(config))),
        },
        Step::Rejected => Err(Box::new(challenge(config))),
    }
}

async fn dispatch<S: SoapService>(
    shared: &Shared<S>,
    conn: &Conn,
    user: &User,
    encrypted: Result<encryption::SessionProtocol, FramingError>,
    body: &[u8],
    drop_reply: &mut bool,
) -> Response<Full<Bytes>> {
    let config = &shared.config;
    let (envelope, sealed_with) = match encrypted {
        Ok(protocol) => {
            let Ok(parts) = encryption::decode_body(protocol, body) else {
                return empty(StatusCode::BAD_REQUEST);
            };
            let mut auth = lock(&conn.auth);
            let Some(ctx) = auth.established() else {
                // Basic cannot seal: nothing to decrypt with.
                return empty(StatusCode::BAD_REQUEST);
            };
            let mut plain = Vec::new();
            for part in parts {
                match ctx.unseal(&part.signature, &part.sealed) {
                    Some(p) if p.len() == part.original_length => plain.extend_from_slice(&p),
                    _ => {
                        auth.reset();
                        return empty(StatusCode::BAD_REQUEST);
                    }
                }
            }
            if plain.len() as u64 > config.max_envelope_size() {
                return too_large();
            }
            (plain, Some(protocol))
        }
        Err(FramingError::NotEncrypted) => {
            if body.is_empty() {
                // An empty POST only sets up the security context (pywinrm, pypsrp).
                return empty(StatusCode::OK);
            }
            if !config.service.allow_unencrypted && !conn.is_tls {
                // As Windows with AllowUnencrypted=false: plaintext over HTTP is not accepted.
                return challenge(config);
            }
            (body.to_vec(), None)
        }
        Err(_) => return empty(StatusCode::BAD_REQUEST),
    };
    let ctx = RequestContext {
        user: user.name.clone(),
        is_admin: user.admin,
        client_addr: conn.peer,
        connection_id: conn.id,
        is_encrypted: sealed_with.is_some() || conn.is_tls,
        is_tls: conn.is_tls,
    };
    let plan = shared.faults.decide_for(&envelope);
    if let Some(status) = plan.status {
        tracing::debug!(status, "injected fault: status");
        return empty(StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE));
    }
    if plan.expire_idle {
        shared
            .service
            .inject(ServiceFault::ExpireIdle, &ctx, &envelope);
    }
    if plan.break_runspace {
        shared
            .service
            .inject(ServiceFault::BreakRunspace, &ctx, &envelope);
    }
    let reply: SoapReply = shared.service.handle(ctx, envelope).await;
    if plan.drop {
        tracing::debug!("injected fault: connection dropped before the reply");
        *drop_reply = true;
        return empty(StatusCode::INTERNAL_SERVER_ERROR);
    }
    if let Some(delay) = plan.delay {
        tokio::time::sleep(delay).await;
    }
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let Some(protocol) = sealed_with else {
        return soap(status, reply.body);
    };
    let mut auth = lock(&conn.auth);
    let Some(ctx) = auth.established() else {
        return empty(StatusCode::BAD_REQUEST);
    };
    let mut parts = Vec::new();
    for chunk in encryption::chunks(protocol, &reply.body) {
        let Some((signature, sealed)) = ctx.seal(chunk) else {
            auth.reset();
            return empty(StatusCode::INTERNAL_SERVER_ERROR);
        };
        parts.push(EncryptedPart {
            original_length: chunk.len(),
            signature,
            sealed,
        });
    }
    let body = encryption::encode(protocol, &parts);
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(&protocol.content_type(parts.len())) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    server_header(&mut r);
    r
}

fn content_length(req: &Request<Incoming>) -> Option<u64> {
    req.headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn lock(m: &Mutex<ConnectionAuth>) -> std::sync::MutexGuard<'_, ConnectionAuth> {
    // A panic while holding the lock is contained by the auth layer; a poisoned lock still
    // holds a consistent state (each step replaces it whole).
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn challenge(config: &Config) -> Response<Full<Bytes>> {
    let mut r = empty(StatusCode::UNAUTHORIZED);
    let auth = &config.service.auth;
    if auth.contains(&AuthScheme::Negotiate) || auth.contains(&AuthScheme::Ntlm) {
        r.headers_mut().append(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Negotiate"),
        );
    }
    if auth.contains(&AuthScheme::Kerberos) {
        r.headers_mut().append(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Kerberos"),
        );
    }
    if auth.contains(&AuthScheme::Basic) {
        r.headers_mut().append(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"WSMAN\""),
        );
    }
    if auth.contains(&AuthScheme::CredSsp) {
        r.headers_mut().append(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("CredSSP"),
        );
    }
    r
}

fn too_large() -> Response<Full<Bytes>> {
    let mut r = empty(StatusCode::PAYLOAD_TOO_LARGE);
    r.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}

fn soap(status: StatusCode, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(SOAP_CONTENT_TYPE),
    );
    server_header(&mut r);
    r
}

fn empty(status: StatusCode) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = status;
    server_header(&mut r);
    r
}

fn server_header(r: &mut Response<Full<Bytes>>) {
    r.headers_mut().insert(
        header::SERVER,
        HeaderValue::from_static("Microsoft-HTTPAPI/2.0"),
    );
}
