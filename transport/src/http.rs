//! [`HttpTransport`]: HTTP/1.1 over TCP or TLS with one authenticated connection per [`Lane`].
//!
//! ```text
//!  post_unauthenticated(envelope, headers) ─► new connection (+proxy, +TLS without client
//!                       certificate) ─► plaintext POST, no Authorization ─► HttpReply / 401 error
//!  post(lane, envelope) ─► lane's connection (lock) ─► none or closed? connect (+proxy, +TLS)
//!                                                       └► NTLM/SPNEGO: empty POSTs until 200
//!                       ─► seal (multipart/encrypted) ─► POST ─► unseal ─► HttpReply
//!                       ◄─ 401 on an established context: reconnect, re-authenticate, retry once
//! ```
//!
//! hyper's low-level `client::conn` is used rather than a pooled client on purpose: NTLM
//! sealing keys and sequence numbers belong to one TCP connection, so each lane owns exactly one
//! connection and its security context, and a replaced connection always starts a new context.
//! The connection's hyper future is polled by the request using it (no spawned driver task), so
//! a request and its reply stay on the caller's thread instead of crossing to a worker and back.

use std::collections::HashMap;
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::ClientConfig;
use wsman::encryption::{self, EncryptedPart, SessionProtocol};

use crate::auth::ClientContext;
use crate::config::{AuthMethod, ConnectionConfig, Encryption, Scheme};
use crate::credssp::{CredSspContext, Next};
use crate::error::TransportError;
use crate::{BoxFuture, HttpReply, Lane, Transport};

const SOAP_CONTENT_TYPE: &str = "application/soap+xml;charset=UTF-8";
/// Largest reply body read (a reply is bounded by MaxEnvelopeSize; this only stops a runaway).
const MAX_REPLY: usize = 64 * 1024 * 1024;
/// Reply buffers are reserved from Content-Length up to this size (several max-size envelopes).
const PREALLOCATE: usize = 4 * 1024 * 1024;
/// Largest proxy CONNECT reply head.
const MAX_PROXY_HEAD: usize = 16 * 1024;
const USER_AGENT: &str = concat!("psrm/", env!("CARGO_PKG_VERSION"));
/// The `Authorization` value of certificate authentication: the security profile URI alone
/// (DSP0226 `wsman:secprofile/https/mutual`), as Windows and pywinrm send it.
const MUTUAL_PROFILE: &str = "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/mutual";

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// hyper's side of a connection: reads and writes the socket when polled.
type Driver = Pin<Box<dyn Future<Output = hyper::Result<()>> + Send>>;

/// One TCP (or TLS) connection with its security context.
struct Connection {
    sender: SendRequest<Full<Bytes>>,
    /// Polled by the request using the connection ([`drive`]), not by a spawned task: a spawned
    /// driver cost two thread hand-offs per request (caller → driver task to write, driver task
    /// → caller with the reply). `None` once it has ended.
    driver: Option<Driver>,
    context: Option<ClientContext>,
    /// The CredSSP exchange (its inner TLS session seals), with `AuthMethod::CredSsp`.
    credssp: Option<CredSspContext>,
    /// Set while a request is in flight: still set when the next request comes means the
    /// previous caller gave up mid-request (its future was dropped), so the connection may
    /// hold an unread reply and is discarded.
    busy: bool,
}

impl Connection {
    /// Seals one chunk with the connection's security context.
    fn seal(&mut self, chunk: &[u8]) -> Result<(Vec<u8>, Vec<u8>), TransportError> {
        if let Some(c) = self.credssp.as_mut() {
            return c.seal(chunk);
        }
        match self.context.as_mut() {
            Some(c) => c.seal(chunk),
            None => Err(TransportError::Security(
                "no security context to seal with".into(),
            )),
        }
    }

    /// Unseals one part of a reply with the connection's security context.
    fn unseal(&mut self, signature: &[u8], sealed: &[u8]) -> Result<Vec<u8>, TransportError> {
        if let Some(c) = self.credssp.as_mut() {
            return c.unseal(signature, sealed);
        }
        match self.context.as_mut() {
            Some(c) => c.unseal(signature, sealed),
            None => Err(TransportError::Security(
                "sealed reply without a security context".into(),
            )),
        }
    }

    /// Lets the driver notice, without waiting, what happened while no request polled it (the
    /// server closed the idle connection), so [`SendRequest::is_closed`] is up to date.
    fn tick(&mut self) {
        if let Some(d) = self.driver.as_mut() {
            let mut cx = Context::from_waker(Waker::noop());
            if let Poll::Ready(r) = d.as_mut().poll(&mut cx) {
                if let Err(e) = r {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                self.driver = None;
            }
        }
    }
}

/// Runs `fut` (a request on the connection, or reading its reply) while polling the
/// connection's driver. After the driver ended, `fut` resolves on its own (hyper's channels
/// are closed), so it is then awaited alone.
async fn drive<T>(
    driver: &mut Option<Driver>,
    fut: impl Future<Output = T>,
) -> Result<T, TransportError> {
    let mut fut = pin!(fut);
    poll_fn(|cx| {
        if let Poll::Ready(v) = fut.as_mut().poll(cx) {
            return Poll::Ready(Ok(v));
        }
        let Some(d) = driver.as_mut() else {
            return Poll::Pending;
        };
        let Poll::Ready(ended) = d.as_mut().poll(cx) else {
            return Poll::Pending;
        };
        *driver = None;
        // The reply (or its last frame) may have been handed over on the driver's last poll;
        // with the driver dropped, anything still pending has failed.
        match fut.as_mut().poll(cx) {
            Poll::Ready(v) => Poll::Ready(Ok(v)),
            Poll::Pending => Poll::Ready(Err(TransportError::Http(match ended {
                Ok(()) => "connection closed".into(),
                Err(e) => e.to_string(),
            }))),
        }
    })
    .await
}

type Slot = Arc<tokio::sync::Mutex<Option<Connection>>>;

/// The HTTP(S) transport of a WinRM client.
///
/// Requests on one [`Lane`] are serialized over that lane's single connection; different lanes
/// run concurrently, each over its own connection and security context. The password is only
/// kept in the configuration (never logged).
pub struct HttpTransport {
    config: ConnectionConfig,
    url: String,
    tls: Option<Arc<ClientConfig>>,
    /// The TLS settings of unauthenticated requests: [`Self::tls`] without the client
    /// certificate (the same `Arc` when none is configured).
    tls_anonymous: Option<Arc<ClientConfig>>,
    /// Built by [`HttpTransport::unauthenticated`]: only
    /// [`Transport::post_unauthenticated`] may send.
    anonymous: bool,
    seal: bool,
    lanes: Mutex<HashMap<Lane, Slot>>,
}

impl std::fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpTransport")
            .field("url", &self.url)
            .field("auth", &self.config.auth)
            .field("seal", &self.seal)
            .field("anonymous", &self.anonymous)
            .finish_non_exhaustive()
    }
}

impl HttpTransport {
    /// Checks the configuration and prepares TLS; connects lazily, on the first request.
    ///
    /// # Errors
    ///
    /// [`TransportError::Config`] for
    /// encryption `always` with Basic or Certificate and for Certificate over HTTP,
    /// [`TransportError::MissingCredentials`], [`TransportError::MissingClientCertificate`],
    /// [`TransportError::ClientCertificate`] when the certificate or key cannot be used,
    /// [`TransportError::CaFile`] when the CA file cannot be used.
    pub fn new(config: ConnectionConfig) -> Result<Self, TransportError> {
        match config.auth {
            AuthMethod::Certificate => {
                if config.scheme != Scheme::Https {
                    return Err(TransportError::Config(
                        "certificate authentication needs https".into(),
                    ));
                }
                if config.client_certificate.is_none() {
                    return Err(TransportError::MissingClientCertificate);
                }
            }
            _ => {
                if config.credentials.is_none() {
                    return Err(TransportError::MissingCredentials);
                }
            }
        }
        if config.encryption == Encryption::Always && !config.auth.can_seal() {
            return Err(TransportError::Config(format!(
                "message encryption needs ntlm, negotiate, kerberos or credssp, not {}",
                config.auth.as_str()
            )));
        }
        Self::build(config, false)
    }

    /// A transport that only sends unauthenticated requests
    /// ([`Transport::post_unauthenticated`], e.g. `Test-WSMan`'s Identify): the configuration's
    /// credentials and client certificate are dropped, so nothing secret can ever be sent, and
    /// [`Transport::post`] fails with [`TransportError::MissingCredentials`] without connecting.
    /// The TLS settings, proxy and timeouts of `config` apply.
    ///
    /// # Errors
    ///
    /// [`TransportError::CaFile`] when the CA file cannot be used.
    pub fn unauthenticated(mut config: ConnectionConfig) -> Result<Self, TransportError> {
        config.credentials = None;
        config.client_certificate = None;
        config.encryption = Encryption::Never;
        Self::build(config, true)
    }

    fn build(config: ConnectionConfig, anonymous: bool) -> Result<Self, TransportError> {
        let (tls, tls_anonymous) = match config.scheme {
            Scheme::Https => {
                let tls = crate::tls::client_config(&config)?;
                let anonymous_tls = if config.client_certificate.is_some() {
                    let mut plain = config.clone();
                    plain.client_certificate = None;
                    crate::tls::client_config(&plain)?
                } else {
                    tls.clone()
                };
                (Some(tls), Some(anonymous_tls))
            }
            Scheme::Http => (None, None),
        };
        Ok(Self {
            url: config.url(),
            seal: config.seals() && !anonymous,
            config,
            tls,
            tls_anonymous,
            anonymous,
            lanes: Mutex::new(HashMap::new()),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ConnectionConfig {
        &self.config
    }

    fn slot(&self, lane: Lane) -> Slot {
        let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
        lanes.entry(lane).or_default().clone()
    }

    async fn post_on(
        &self,
        slot: &mut Option<Connection>,
        envelope: &[u8],
    ) -> Result<HttpReply, TransportError> {
        for attempt in 0..2 {
            if let Some(c) = slot.as_mut() {
                c.tick();
            }
            let reused = match slot {
                Some(c) if !c.sender.is_closed() && !c.busy => true,
                _ => {
                    *slot = None;
                    *slot = Some(self.open().await?);
                    false
                }
            };
            let Some(conn) = slot.as_mut() else {
                return Err(TransportError::Http("no connection".into()));
            };
            conn.busy = true;
            let result = self.exchange(conn, envelope).await;
            conn.busy = false;
            let per_request = matches!(
                self.config.auth,
                AuthMethod::Basic | AuthMethod::Certificate
            );
            match result {
                Ok(reply)
                    if self.config.auth == AuthMethod::Certificate
                        && matches!(reply.status, 401 | 403) =>
                {
                    *slot = None;
                    return Err(TransportError::CertificateRefused {
                        status: reply.status,
                    });
                }
                Ok(reply) if reply.status == 401 => {
                    *slot = None;
                    // An established context the server forgot (it restarted, or closed it):
                    // authenticate again once; a 401 on a fresh context is a refusal.
                    if !reused && !self.seal && !per_request {
                        // The context was just established (the handshake ended in 200): the
                        // refusal is of the plaintext message, not of the credentials.
                        return Err(TransportError::UnencryptedRefused);
                    }
                    if !reused || attempt > 0 || per_request {
                        return Err(self.auth_failed());
                    }
                    tracing::debug!(
                        "security context rejected on a reused connection, re-authenticating"
                    );
                }
                Ok(reply) => return Ok(reply),
                Err(e) if reused && attempt == 0 && e.is_connection() => {
                    tracing::debug!(error = %e, "reused connection failed, reconnecting");
                    *slot = None;
                }
                Err(e) => {
                    *slot = None;
                    return Err(e);
                }
            }
        }
        Err(self.auth_failed())
    }

    /// One plaintext POST on a connection of its own, without any `Authorization` (and without
    /// the client certificate in the TLS handshake), with `headers` added.
    async fn post_anonymous(
        &self,
        envelope: Vec<u8>,
        headers: Vec<(String, String)>,
    ) -> Result<HttpReply, TransportError> {
        let mut request = self.request_as(envelope, SOAP_CONTENT_TYPE, false)?;
        for (name, value) in headers {
            let name = header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| TransportError::Config(format!("invalid header name {name:?}")))?;
            if [
                header::AUTHORIZATION,
                header::PROXY_AUTHORIZATION,
                header::COOKIE,
            ]
            .contains(&name)
            {
                return Err(TransportError::Config(format!(
                    "an unauthenticated request cannot carry {name}"
                )));
            }
            let value = HeaderValue::from_str(&value)
                .map_err(|_| TransportError::Config(format!("invalid value for header {name}")))?;
            request.headers_mut().append(name, value);
        }
        let io = self.connect(self.tls_anonymous.as_ref()).await?;
        let (sender, driver) = http1::handshake::<_, Full<Bytes>>(TokioIo::new(io))
            .await
            .map_err(|e| TransportError::Http(e.to_string()))?;
        let mut connection = Connection {
            sender,
            driver: Some(Box::pin(driver)),
            context: None,
            credssp: None,
            busy: false,
        };
        let (status, headers, body) = Self::send(&mut connection, request).await?;
        match status {
            200 | 500 => Ok(HttpReply { status, body }),
            401 => Err(TransportError::UnauthenticatedRefused {
                offered: offered(&headers),
            }),
            other => Err(TransportError::Status {
                status: other,
                body: String::from_utf8_lossy(body.get(..200).unwrap_or(&body)).into_owned(),
            }),
        }
    }

    fn auth_failed(&self) -> TransportError {
        TransportError::AuthFailed {
            user: self
                .config
                .credentials
                .as_ref()
                .map(|c| c.user().to_owned())
                .unwrap_or_default(),
            method: self.config.auth.as_str(),
        }
    }

    /// Connects and, for NTLM / Negotiate, establishes the security context with empty POSTs.
    async fn open(&self) -> Result<Connection, TransportError> {
        let io = self.connect(self.tls.as_ref()).await?;
        let (sender, conn) = http1::handshake::<_, Full<Bytes>>(TokioIo::new(io))
            .await
            .map_err(|e| TransportError::Http(e.to_string()))?;
        let mut connection = Connection {
            sender,
            driver: Some(Box::pin(conn)),
            context: None,
            credssp: None,
            busy: false,
        };
        match self.config.auth {
            AuthMethod::Ntlm | AuthMethod::Negotiate | AuthMethod::Kerberos => {
                self.authenticate(&mut connection).await?
            }
            AuthMethod::CredSsp => self.authenticate_credssp(&mut connection).await?,
            _ => {}
        }
        Ok(connection)
    }

    async fn connect(
        &self,
        tls: Option<&Arc<ClientConfig>>,
    ) -> Result<Box<dyn Io>, TransportError> {
        let cfg = &self.config;
        let (host, port) = match &cfg.proxy {
            Some(p) => (p.host.clone(), p.port),
            None => (cfg.host.clone(), cfg.effective_port()),
        };
        let addr = format!("{host}:{port}");
        let tcp = tokio::time::timeout(
            cfg.connect_timeout,
            TcpStream::connect((host.as_str(), port)),
        )
        .await
        .map_err(|_| TransportError::Timeout(cfg.connect_timeout))?
        .map_err(|source| TransportError::Connect {
            addr: addr.clone(),
            source,
        })?;
        let _ = tcp.set_nodelay(true);
        let Some(tls) = tls else {
            return Ok(Box::new(tcp));
        };
        let mut tcp = tcp;
        if cfg.proxy.is_some() {
            self.tunnel(&mut tcp).await?;
        }
        let name = crate::tls::server_name(&cfg.host)?;
        let stream = tokio::time::timeout(
            cfg.connect_timeout,
            TlsConnector::from(tls.clone()).connect(name, tcp),
        )
        .await
        .map_err(|_| TransportError::Timeout(cfg.connect_timeout))?
        .map_err(|source| TransportError::Tls {
            host: cfg.host.clone(),
            source,
        })?;
        Ok(Box::new(stream))
    }

    /// `CONNECT host:port` through the proxy.
    async fn tunnel(&self, tcp: &mut TcpStream) -> Result<(), TransportError> {
        let target = format!("{}:{}", self.config.host, self.config.effective_port());
        let request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n");
        let io = |e: std::io::Error| TransportError::Proxy(e.to_string());
        tcp.write_all(request.as_bytes()).await.map_err(io)?;
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if head.len() > MAX_PROXY_HEAD {
                return Err(TransportError::Proxy("reply head too long".into()));
            }
            let n = tcp.read(&mut byte).await.map_err(io)?;
            if n == 0 {
                return Err(TransportError::Proxy("closed during connect".into()));
            }
            head.push(byte[0]);
        }
        let status_line = String::from_utf8_lossy(&head);
        let status_line = status_line.lines().next().unwrap_or_default();
        let ok = status_line
            .split_whitespace()
            .nth(1)
            .is_some_and(|code| code.starts_with('2'));
        if ok {
            Ok(())
        } else {
            Err(TransportError::Proxy(status_line.to_owned()))
        }
    }

    fn request(
        &self,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<Request<Full<Bytes>>, TransportError> {
        self.request_as(body, content_type, true)
    }

    /// The POST of `body`; with `authenticated`, Basic's or Certificate's `Authorization`.
    fn request_as(
        &self,
        body: Vec<u8>,
        content_type: &str,
        authenticated: bool,
    ) -> Result<Request<Full<Bytes>>, TransportError> {
        let cfg = &self.config;
        let uri = if cfg.proxy.is_some() && cfg.scheme == Scheme::Http {
            self.url.clone()
        } else {
            cfg.path.clone()
        };
        let host = if cfg.host.contains(':') {
            format!("[{}]:{}", cfg.host, cfg.effective_port())
        } else {
            format!("{}:{}", cfg.host, cfg.effective_port())
        };
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header(header::HOST, host)
            .header(header::USER_AGENT, USER_AGENT)
            .header(header::CONTENT_LENGTH, body.len());
        if !body.is_empty() {
            builder = builder.header(header::CONTENT_TYPE, content_type);
        }
        if !authenticated || self.anonymous {
            // No Authorization header at all.
        } else if cfg.auth == AuthMethod::Basic
            && let Some(c) = &cfg.credentials
        {
            let token = STANDARD.encode(format!("{}:{}", c.user(), c.password()));
            builder = builder.header(header::AUTHORIZATION, format!("Basic {token}"));
        } else if cfg.auth == AuthMethod::Certificate {
            builder = builder.header(
                header::AUTHORIZATION,
                HeaderValue::from_static(MUTUAL_PROFILE),
            );
        }
        builder
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| TransportError::Http(e.to_string()))
    }

    async fn send(
        conn: &mut Connection,
        request: Request<Full<Bytes>>,
    ) -> Result<(u16, HeaderMap, Vec<u8>), TransportError> {
        let Connection { sender, driver, .. } = conn;
        drive(driver, sender.ready())
            .await?
            .map_err(|e| TransportError::Http(e.to_string()))?;
        let response = drive(driver, sender.send_request(request))
            .await?
            .map_err(|e| TransportError::Http(e.to_string()))?;
        let status = response.status().as_u16();
        let (parts, body) = response.into_parts();
        // One copy, into a buffer sized by Content-Length (collecting to `Bytes` and then to a
        // `Vec` copied large replies twice); a declared length is trusted up to PREALLOCATE.
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0)
            .min(PREALLOCATE);
        let mut out = Vec::with_capacity(declared);
        let mut body = Limited::new(body, MAX_REPLY);
        while let Some(frame) = drive(driver, body.frame()).await? {
            let frame = frame.map_err(|e| TransportError::Http(e.to_string()))?;
            if let Some(data) = frame.data_ref() {
                out.extend_from_slice(data);
            }
        }
        Ok((status, parts.headers, out))
    }

    /// NTLM / SPNEGO (`Authorization: Negotiate`) or Kerberos (`Authorization: Kerberos`,
    /// WinRM's scheme for a raw GSS-API krb5 token): token legs in empty POSTs until 200; the
    /// server's last token (Kerberos: the mutual-authentication AP-REP) completes the context.
    async fn authenticate(&self, conn: &mut Connection) -> Result<(), TransportError> {
        let cfg = &self.config;
        let scheme = match cfg.auth {
            AuthMethod::Kerberos => "Kerberos",
            _ => "Negotiate",
        };
        let mut context = ClientContext::new(cfg)?;
        let mut step = context.step(None).await?;
        // NEGOTIATE, AUTHENTICATE (+ SPNEGO's final round), or one AP-REQ: a few legs at most.
        for _ in 0..4 {
            let mut request = self.request(Vec::new(), SOAP_CONTENT_TYPE)?;
            let value =
                HeaderValue::from_str(&format!("{scheme} {}", STANDARD.encode(&step.token)))
                    .map_err(|e| TransportError::Security(e.to_string()))?;
            request.headers_mut().insert(header::AUTHORIZATION, value);
            let (status, headers, _) = Self::send(conn, request).await?;
            let server_token = match cfg.auth {
                AuthMethod::Kerberos => scheme_token(&headers, "Kerberos")
                    .or_else(|| scheme_token(&headers, "Negotiate")),
                _ => negotiate_token(&headers),
            };
            match status {
                200 => {
                    if !context.is_done() {
                        match server_token {
                            Some(token) => {
                                context.step(Some(&token)).await?;
                            }
                            None => {
                                return Err(TransportError::Security(
                                    "server accepted before the context was complete".into(),
                                ));
                            }
                        }
                    }
                    if !context.is_done() {
                        return Err(TransportError::Security(
                            "server accepted before the context was complete".into(),
                        ));
                    }
                    tracing::debug!(mechanism = context.mechanism(), "authenticated");
                    conn.context = Some(context);
                    return Ok(());
                }
                401 => {
                    let offered_ok = match cfg.auth {
                        AuthMethod::Kerberos => offers(&headers, "Kerberos"),
                        _ => offers_negotiate(&headers),
                    };
                    if !offered_ok {
                        return Err(TransportError::AuthNotOffered {
                            method: cfg.auth.as_str(),
                            offered: offered(&headers),
                        });
                    }
                    match server_token {
                        Some(token) if !context.is_done() => {
                            step = context.step(Some(&token)).await?;
                        }
                        _ => return Err(self.auth_failed()),
                    }
                }
                other => {
                    return Err(TransportError::Status {
                        status: other,
                        body: String::new(),
                    });
                }
            }
        }
        Err(self.auth_failed())
    }

    /// CredSSP: the inner TLS handshake and the TSRequests in empty POSTs, until the server
    /// accepts the delegated credentials with 200.
    async fn authenticate_credssp(&self, conn: &mut Connection) -> Result<(), TransportError> {
        let cfg = &self.config;
        let Some(credentials) = &cfg.credentials else {
            return Err(TransportError::MissingCredentials);
        };
        let mut context = CredSspContext::new(credentials, &cfg.host)?;
        let mut next = Next::Send(context.start()?);
        // TLS (2-3 legs), NEGOTIATE, AUTHENTICATE + pubKeyAuth, credentials: a few legs at most.
        for _ in 0..8 {
            let (token, last) = match &next {
                Next::Send(t) => (t, false),
                Next::Final(t) => (t, true),
            };
            let mut request = self.request(Vec::new(), SOAP_CONTENT_TYPE)?;
            let value = HeaderValue::from_str(&format!("CredSSP {}", STANDARD.encode(token)))
                .map_err(|e| TransportError::Security(e.to_string()))?;
            request.headers_mut().insert(header::AUTHORIZATION, value);
            let (status, headers, _) = Self::send(conn, request).await?;
            match status {
                200 if last => {
                    conn.credssp = Some(context);
                    return Ok(());
                }
                200 => {
                    return Err(TransportError::Security(
                        "credssp: server accepted before the credentials were delegated".into(),
                    ));
                }
                401 => {
                    if !offers(&headers, "CredSSP") {
                        return Err(TransportError::AuthNotOffered {
                            method: cfg.auth.as_str(),
                            offered: offered(&headers),
                        });
                    }
                    match scheme_token(&headers, "CredSSP") {
                        Some(token) if !last => next = context.step(&token)?,
                        _ => return Err(self.auth_failed()),
                    }
                }
                other => {
                    return Err(TransportError::Status {
                        status: other,
                        body: String::new(),
                    });
                }
            }
        }
        Err(self.auth_failed())
    }

    /// Sends one envelope on an open (and authenticated) connection.
    async fn exchange(
        &self,
        conn: &mut Connection,
        envelope: &[u8],
    ) -> Result<HttpReply, TransportError> {
        let request = if self.seal {
            let protocol = match self.config.auth {
                AuthMethod::CredSsp => SessionProtocol::CredSsp,
                AuthMethod::Kerberos => SessionProtocol::Kerberos,
                _ => SessionProtocol::Spnego,
            };
            let mut parts = Vec::new();
            for chunk in encryption::chunks(protocol, envelope) {
                let (signature, sealed) = conn.seal(chunk)?;
                parts.push(EncryptedPart {
                    original_length: chunk.len(),
                    signature,
                    sealed,
                });
            }
            let body = encryption::encode(protocol, &parts);
            self.request(body, &protocol.content_type(parts.len()))?
        } else {
            self.request(envelope.to_vec(), SOAP_CONTENT_TYPE)?
        };
        let (status, headers, body) = Self::send(conn, request).await?;
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let body = match encryption::decode(content_type, &body) {
            Ok((_, parts)) => {
                let mut plain = Vec::new();
                for part in parts {
                    let p = conn.unseal(&part.signature, &part.sealed)?;
                    if p.len() != part.original_length {
                        return Err(TransportError::Security(format!(
                            "unsealed {} bytes, expected {}",
                            p.len(),
                            part.original_length
                        )));
                    }
                    plain.extend_from_slice(&p);
                }
                plain
            }
            Err(encryption::FramingError::NotEncrypted) => body,
            Err(e) => return Err(e.into()),
        };
        Ok(HttpReply { status, body })
    }
}

fn negotiate_token(headers: &HeaderMap) -> Option<Vec<u8>> {
    headers
        .get_all(header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            (scheme.eq_ignore_ascii_case("Negotiate") || scheme.eq_ignore_ascii_case("NTLM"))
                .then(|| STANDARD.decode(token.trim()).ok())
                .flatten()
        })
}

fn offers_negotiate(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            let scheme = v.split_whitespace().next().unwrap_or_default();
            scheme.eq_ignore_ascii_case("Negotiate") || scheme.eq_ignore_ascii_case("NTLM")
        })
}

/// The token of the first `WWW-Authenticate: <scheme> <token>`.
fn scheme_token(headers: &HeaderMap, scheme: &str) -> Option<Vec<u8>> {
    headers
        .get_all(header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            let (name, token) = v.trim().split_once(' ')?;
            name.eq_ignore_ascii_case(scheme)
                .then(|| STANDARD.decode(token.trim()).ok())
                .flatten()
        })
}

/// The `WWW-Authenticate` readers over `values` (for the fuzz targets): the server token the
/// client takes (`kerberos`: from `Kerberos`, else `Negotiate`; otherwise `Negotiate` or
/// `NTLM`) and whether the scheme is offered.
pub(crate) fn read_www_authenticate(values: &[&[u8]], kerberos: bool) -> (Option<Vec<u8>>, bool) {
    let mut headers = HeaderMap::new();
    for value in values {
        if let Ok(v) = HeaderValue::from_bytes(value) {
            headers.append(header::WWW_AUTHENTICATE, v);
        }
    }
    let _ = offered(&headers);
    if kerberos {
        let token =
            scheme_token(&headers, "Kerberos").or_else(|| scheme_token(&headers, "Negotiate"));
        (token, offers(&headers, "Kerberos"))
    } else {
        (negotiate_token(&headers), offers_negotiate(&headers))
    }
}

/// Whether a `WWW-Authenticate` header names `scheme`.
fn offers(headers: &HeaderMap, scheme: &str) -> bool {
    headers
        .get_all(header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.split_whitespace()
                .next()
                .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
        })
}

fn offered(headers: &HeaderMap) -> String {
    let schemes: Vec<&str> = headers
        .get_all(header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split_whitespace().next())
        .collect();
    if schemes.is_empty() {
        "nothing".into()
    } else {
        schemes.join(", ")
    }
}

impl Transport for HttpTransport {
    fn endpoint(&self) -> &str {
        &self.url
    }

    fn post(
        &self,
        lane: Lane,
        envelope: Vec<u8>,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<HttpReply, TransportError>> {
        Box::pin(async move {
            if self.anonymous {
                return Err(TransportError::MissingCredentials);
            }
            let slot = self.slot(lane);
            let mut guard = slot.lock().await;
            let deadline = timeout.saturating_add(self.config.read_grace);
            match tokio::time::timeout(deadline, self.post_on(&mut guard, &envelope)).await {
                Ok(r) => r,
                Err(_) => {
                    // The connection is mid-request: it cannot be reused.
                    *guard = None;
                    Err(TransportError::Timeout(deadline))
                }
            }
        })
    }

    fn post_unauthenticated(
        &self,
        envelope: Vec<u8>,
        headers: Vec<(String, String)>,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<HttpReply, TransportError>> {
        Box::pin(async move {
            let deadline = timeout.saturating_add(self.config.read_grace);
            tokio::time::timeout(deadline, self.post_anonymous(envelope, headers))
                .await
                .map_err(|_| TransportError::Timeout(deadline))?
        })
    }

    fn close_lane(&self, lane: Lane) {
        let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
        lanes.remove(&lane);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::WWW_AUTHENTICATE, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn challenge_parsing() {
        let h = headers(&["Basic realm=\"WSMAN\"", "Negotiate TlRMTVNTUAAC"]);
        assert_eq!(negotiate_token(&h), Some(b"NTLMSSP\0\x02".to_vec()));
        assert!(offers_negotiate(&h));
        assert_eq!(offered(&h), "Basic, Negotiate");
        let h = headers(&["NTLM TlRMTVNTUAAC"]);
        assert!(negotiate_token(&h).is_some());
        // A bare scheme (a refusal or the first challenge) and garbage carry no token.
        assert_eq!(negotiate_token(&headers(&["Negotiate"])), None);
        assert_eq!(
            negotiate_token(&headers(&["Negotiate !!!not-base64"])),
            None
        );
        let h = headers(&["Basic realm=\"x\""]);
        assert!(!offers_negotiate(&h));
        let h = headers(&["Negotiate", "CredSSP", "CredSSP FgMD"]);
        assert!(offers(&h, "credssp"));
        assert!(!offers(&h, "Basic"));
        assert_eq!(scheme_token(&h, "CredSSP"), Some(vec![0x16, 0x03, 0x03]));
        assert_eq!(scheme_token(&headers(&["CredSSP"]), "CredSSP"), None);
        assert_eq!(offered(&HeaderMap::new()), "nothing");
    }
}
