//! What to connect to and how: [`ConnectionConfig`].

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Default `MaxEnvelopeSize` a client announces: 153 600 bytes, as pypsrp (the server's
/// `MaxEnvelopeSizekb` may allow more; see the `wsman` config resource).
pub const DEFAULT_MAX_ENVELOPE_SIZE: u32 = 153_600;

/// HTTP or HTTPS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scheme {
    /// Plain HTTP (default port 5985); use message encryption to protect the envelopes.
    Http,
    /// HTTPS (default port 5986).
    Https,
}

impl Scheme {
    /// `http` / `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }

    /// The WinRM default port of the scheme.
    pub fn default_port(self) -> u16 {
        match self {
            Self::Http => 5985,
            Self::Https => 5986,
        }
    }
}

/// The HTTP authentication scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthMethod {
    /// HTTP Basic: the password travels with every request (use HTTPS).
    Basic,
    /// NTLM, sent as raw NTLMSSP tokens under `Authorization: Negotiate` (what Windows and
    /// pywinrm do); supports message encryption.
    Ntlm,
    /// SPNEGO through `sspi`'s Negotiate package, as Windows' Negotiate: Kerberos inside
    /// (mechTypes MS-krb5, krb5, NTLM; sealed with the Kerberos session) for a `user@REALM` or
    /// `REALM\user` whose realm's KDC is known ([`ConnectionConfig::kdc`], `PSRM_KDC`,
    /// krb5.conf); NTLM inside for other users, when the KDC cannot be reached or does not
    /// know the SPN, and for an IP address host without [`ConnectionConfig::spn`].
    Negotiate,
    /// Kerberos (`Authorization: Kerberos`, a raw GSS-API krb5 token, as WinRM's `Kerberos`
    /// scheme): the client asks the KDC ([`ConnectionConfig::kdc`]) for a ticket to the
    /// service principal ([`ConnectionConfig::spn`], `HTTP/<host>` by default) with the user's
    /// password, and checks the server's mutual-authentication token; supports message
    /// encryption (`application/HTTP-Kerberos-session-encrypted`).
    Kerberos,
    /// CredSSP (MS-CSSP): NTLM inside an inner TLS session, then the password is delegated to
    /// the server (it can use it for a second hop). Over HTTP the inner TLS session seals the
    /// messages.
    CredSsp,
    /// TLS client certificate (WS-Management `secprofile/https/mutual`): HTTPS only, the
    /// certificate in [`ConnectionConfig::client_certificate`] authenticates, no password;
    /// the server maps it to an account. Cannot seal (TLS protects the messages).
    Certificate,
}

impl AuthMethod {
    /// Parses `basic`, `ntlm`, `negotiate`, `kerberos`, `credssp`, `certificate`
    /// (case-insensitive).
    pub fn parse(name: &str) -> Option<Self> {
        let name = name.trim();
        [
            ("basic", Self::Basic),
            ("ntlm", Self::Ntlm),
            ("negotiate", Self::Negotiate),
            ("kerberos", Self::Kerberos),
            ("credssp", Self::CredSsp),
            ("certificate", Self::Certificate),
        ]
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, m)| m)
    }

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Basic => "basic",
            Self::Ntlm => "ntlm",
            Self::Negotiate => "negotiate",
            Self::Kerberos => "kerberos",
            Self::CredSsp => "credssp",
            Self::Certificate => "certificate",
        }
    }

    /// Whether the method can seal messages (HTTP message encryption).
    pub fn can_seal(self) -> bool {
        matches!(
            self,
            Self::Ntlm | Self::Negotiate | Self::Kerberos | Self::CredSsp
        )
    }
}

/// HTTP message encryption (MS-WSMV 2.2.9.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Encryption {
    /// Seal over HTTP when the auth method can; never over HTTPS (default, as pywinrm/pypsrp).
    #[default]
    Auto,
    /// Always seal, over HTTPS too; an error with Basic, which cannot seal.
    Always,
    /// Never seal (the server must allow unencrypted traffic, or use HTTPS).
    Never,
}

/// A user name and password. `Debug` never shows the password.
#[derive(Clone)]
pub struct Credentials {
    user: String,
    password: String,
}

impl Credentials {
    /// `user` may be `name`, `DOMAIN\name` or `name@domain`.
    pub fn new(user: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            user: user.into(),
            password: password.into(),
        }
    }

    /// The user name as given.
    pub fn user(&self) -> &str {
        &self.user
    }

    pub(crate) fn password(&self) -> &str {
        &self.password
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Where a PEM item comes from.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Pem {
    File(PathBuf),
    Bytes(Vec<u8>),
}

impl Pem {
    /// `file PATH` or `pem bytes`, for messages (never the content).
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::File(p) => format!("file {}", p.display()),
            Self::Bytes(b) => format!("pem ({} bytes)", b.len()),
        }
    }
}

/// A TLS client certificate chain (leaf first) and its private key, both PEM (the key as
/// PKCS#8, PKCS#1 or SEC1), for [`AuthMethod::Certificate`]. They are read and checked when
/// the transport is built. `Debug` never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    pub(crate) cert: Pem,
    pub(crate) key: Pem,
}

impl ClientCertificate {
    /// From PEM files (`--cert FILE --cert-key FILE`).
    pub fn from_files(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        Self {
            cert: Pem::File(cert.into()),
            key: Pem::File(key.into()),
        }
    }

    /// From PEM text held in memory.
    pub fn from_pem(cert: impl Into<Vec<u8>>, key: impl Into<Vec<u8>>) -> Self {
        Self {
            cert: Pem::Bytes(cert.into()),
            key: Pem::Bytes(key.into()),
        }
    }
}

impl fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = match &self.key {
            Pem::File(p) => p.display().to_string(),
            Pem::Bytes(_) => "<redacted>".into(),
        };
        f.debug_struct("ClientCertificate")
            .field("cert", &self.cert.describe())
            .field("key", &key)
            .finish()
    }
}

/// An HTTP proxy (`http://host:port`): requests to an `http` endpoint go through it in
/// absolute form, `https` endpoints through a `CONNECT` tunnel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proxy {
    /// Proxy host.
    pub host: String,
    /// Proxy port.
    pub port: u16,
}

impl Proxy {
    /// Parses `http://host:port`, `host:port` (port defaults to 8080).
    pub fn parse(url: &str) -> Option<Self> {
        let rest = url.trim();
        let rest = rest.strip_prefix("http://").unwrap_or(rest);
        let rest = rest.trim_end_matches('/');
        if rest.is_empty() || rest.contains('/') {
            return None;
        }
        let (host, port) = split_host_port(rest)?;
        Some(Self {
            host,
            port: port.unwrap_or(8080),
        })
    }
}

/// The proxy the environment asks for to reach `host` over `scheme`: `HTTPS_PROXY` /
/// `HTTP_PROXY` (either case), unless `NO_PROXY` lists the host (exact, domain suffix with or
/// without a leading dot, or `*`). `lookup` reads a variable (`std::env::var` in practice).
pub fn proxy_from_env(
    scheme: Scheme,
    host: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Option<Proxy> {
    let var = |upper: &str| {
        lookup(upper)
            .or_else(|| lookup(&upper.to_ascii_lowercase()))
            .filter(|v| !v.trim().is_empty())
    };
    if let Some(no_proxy) = var("NO_PROXY") {
        let host = host.trim_matches(['[', ']']).to_ascii_lowercase();
        let bypass = no_proxy.split(',').map(str::trim).any(|entry| {
            let entry = entry.to_ascii_lowercase();
            let domain = entry.trim_start_matches('.');
            entry == "*"
                || (!domain.is_empty() && (host == domain || host.ends_with(&format!(".{domain}"))))
        });
        if bypass {
            return None;
        }
    }
    let value = match scheme {
        Scheme::Https => var("HTTPS_PROXY"),
        Scheme::Http => var("HTTP_PROXY"),
    }?;
    Proxy::parse(&value)
}

/// Splits `host[:port]`, with `[v6]:port` support.
pub(crate) fn split_host_port(s: &str) -> Option<(String, Option<u16>)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None if after.is_empty() => None,
            None => return None,
        };
        return Some((host.to_owned(), port));
    }
    match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => Some((h.to_owned(), Some(p.parse().ok()?))),
        _ => Some((s.to_owned(), None)),
    }
}

/// Everything needed to reach one WinRM endpoint.
///
/// ```
/// use wsman_transport::{AuthMethod, ConnectionConfig, Credentials};
/// let config = ConnectionConfig::new("server01")
///     .https(true)
///     .auth(AuthMethod::Ntlm, Credentials::new("alice", "secret"));
/// assert_eq!(config.url(), "https://server01:5986/wsman");
/// assert!(!format!("{config:?}").contains("secret"));
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ConnectionConfig {
    /// Host name or address.
    pub host: String,
    /// Port; `None` = the scheme's WinRM default.
    pub port: Option<u16>,
    /// HTTP or HTTPS.
    pub scheme: Scheme,
    /// URL path, `/wsman` by default.
    pub path: String,
    /// PEM file with the CA certificates to trust (HTTPS); `None` = the system's bundle.
    pub ca_file: Option<PathBuf>,
    /// Skip certificate and host name verification (HTTPS). Off by default.
    pub insecure: bool,
    /// Authentication scheme.
    pub auth: AuthMethod,
    /// User and password.
    pub credentials: Option<Credentials>,
    /// The TLS client certificate: presented in the handshake when set; what authenticates
    /// with [`AuthMethod::Certificate`].
    pub client_certificate: Option<ClientCertificate>,
    /// HTTP message encryption policy.
    pub encryption: Encryption,
    /// TCP connect (and TLS handshake) timeout.
    pub connect_timeout: Duration,
    /// Extra time allowed for a reply beyond the request's own deadline.
    pub read_grace: Duration,
    /// An HTTP proxy.
    pub proxy: Option<Proxy>,
    /// `MaxEnvelopeSize` to announce, in bytes.
    pub max_envelope_size: u32,
    /// Kerberos (and Negotiate's Kerberos): the KDC, `host[:port]` (port 88 by default), over
    /// TCP. `None` = the `PSRM_KDC` environment variable, else the realm's `kdc` in krb5.conf
    /// (`KRB5_CONFIG` or `/etc/krb5.conf`).
    pub kdc: Option<String>,
    /// Kerberos (and Negotiate's Kerberos): the service principal name; `None` = `HTTP/<host>`
    /// (what WinRM registers).
    pub spn: Option<String>,
}

impl ConnectionConfig {
    /// `host` may carry a port (`host:5985`, `[::1]:5985`). HTTP, NTLM, encryption auto.
    pub fn new(host: &str) -> Self {
        let (host, port) = split_host_port(host.trim()).unwrap_or((host.to_owned(), None));
        Self {
            host,
            port,
            scheme: Scheme::Http,
            path: "/wsman".into(),
            ca_file: None,
            insecure: false,
            auth: AuthMethod::Ntlm,
            credentials: None,
            client_certificate: None,
            encryption: Encryption::Auto,
            connect_timeout: Duration::from_secs(30),
            read_grace: Duration::from_secs(30),
            proxy: None,
            max_envelope_size: DEFAULT_MAX_ENVELOPE_SIZE,
            kdc: None,
            spn: None,
        }
    }

    /// Builds a configuration from an endpoint URL (`http://host:port/wsman`).
    pub fn from_url(url: &str) -> Option<Self> {
        let (scheme, rest) = if let Some(r) = url.strip_prefix("https://") {
            (Scheme::Https, r)
        } else if let Some(r) = url.strip_prefix("http://") {
            (Scheme::Http, r)
        } else {
            return None;
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/wsman"),
        };
        let (host, port) = split_host_port(authority)?;
        let mut c = Self::new(&host);
        c.port = port;
        c.scheme = scheme;
        c.path = path.to_owned();
        Some(c)
    }

    /// HTTPS on or off.
    pub fn https(mut self, on: bool) -> Self {
        self.scheme = if on { Scheme::Https } else { Scheme::Http };
        self
    }

    /// The port.
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Authentication scheme and credentials.
    pub fn auth(mut self, method: AuthMethod, credentials: Credentials) -> Self {
        self.auth = method;
        self.credentials = Some(credentials);
        self
    }

    /// Certificate authentication with this client certificate (needs HTTPS; no password).
    pub fn certificate_auth(mut self, certificate: ClientCertificate) -> Self {
        self.auth = AuthMethod::Certificate;
        self.client_certificate = Some(certificate);
        self
    }

    /// Message encryption policy.
    pub fn encryption(mut self, encryption: Encryption) -> Self {
        self.encryption = encryption;
        self
    }

    /// Trust the CA certificates of this PEM file.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// Skip certificate verification (tests, labs).
    pub fn insecure(mut self, insecure: bool) -> Self {
        self.insecure = insecure;
        self
    }

    /// Use an HTTP proxy.
    pub fn proxy(mut self, proxy: Proxy) -> Self {
        self.proxy = Some(proxy);
        self
    }

    /// Use the proxy the environment names for this endpoint, if any ([`proxy_from_env`]).
    pub fn proxy_from_env(mut self) -> Self {
        self.proxy = proxy_from_env(self.scheme, &self.host, |k| std::env::var(k).ok());
        self
    }

    /// Kerberos: use this KDC (`host[:port]`).
    pub fn kdc(mut self, kdc: impl Into<String>) -> Self {
        self.kdc = Some(kdc.into());
        self
    }

    /// Kerberos: use this service principal name instead of `HTTP/<host>`.
    pub fn spn(mut self, spn: impl Into<String>) -> Self {
        self.spn = Some(spn.into());
        self
    }

    /// The Kerberos service principal name: [`Self::spn`] or `HTTP/<host>`.
    pub fn service_principal(&self) -> String {
        self.spn
            .clone()
            .unwrap_or_else(|| format!("HTTP/{}", self.host))
    }

    /// The port actually used.
    pub fn effective_port(&self) -> u16 {
        self.port.unwrap_or_else(|| self.scheme.default_port())
    }

    /// The endpoint URL, also sent as `a:To`.
    pub fn url(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!(
            "{}://{host}:{}{}",
            self.scheme.as_str(),
            self.effective_port(),
            self.path
        )
    }

    /// Whether envelopes will be sealed with this configuration.
    pub fn seals(&self) -> bool {
        match self.encryption {
            Encryption::Never => false,
            Encryption::Always => true,
            Encryption::Auto => self.scheme == Scheme::Http && self.auth.can_seal(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_ports() {
        let c = ConnectionConfig::new("[::1]:1234");
        assert_eq!(c.url(), "http://[::1]:1234/wsman");
        let c = ConnectionConfig::from_url("https://h.example/custom").unwrap();
        assert_eq!(c.url(), "https://h.example:5986/custom");
        assert!(ConnectionConfig::from_url("ftp://x").is_none());
        assert_eq!(
            Proxy::parse("http://proxy:3128/"),
            Some(Proxy {
                host: "proxy".into(),
                port: 3128
            })
        );
        assert!(Proxy::parse("http://a/b").is_none());
    }

    #[test]
    fn proxies_from_the_environment() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let vars = env(&[
            ("https_proxy", "http://secure-proxy:3128"),
            ("HTTP_PROXY", "plain-proxy:8000"),
            ("NO_PROXY", "localhost, .corp.example,10.0.0.5"),
        ]);
        let p = |scheme, host| proxy_from_env(scheme, host, vars);
        assert_eq!(p(Scheme::Https, "server01").unwrap().host, "secure-proxy");
        assert_eq!(p(Scheme::Http, "server01").unwrap().port, 8000);
        assert_eq!(p(Scheme::Http, "localhost"), None);
        assert_eq!(p(Scheme::Http, "dc1.corp.example"), None);
        assert_eq!(p(Scheme::Http, "corp.example"), None);
        assert_eq!(
            p(Scheme::Http, "notcorp.example").unwrap().host,
            "plain-proxy"
        );
        assert_eq!(p(Scheme::Http, "10.0.0.5"), None);
        let all = env(&[("HTTP_PROXY", "p:1"), ("no_proxy", "*")]);
        assert_eq!(proxy_from_env(Scheme::Http, "x", all), None);
        assert_eq!(
            proxy_from_env(Scheme::Https, "x", env(&[("HTTP_PROXY", "p:1")])),
            None
        );
    }

    #[test]
    fn sealing_policy() {
        let c = ConnectionConfig::new("h").auth(AuthMethod::Ntlm, Credentials::new("u", "p"));
        assert!(c.seals());
        assert!(!c.clone().https(true).seals());
        assert!(!c.clone().encryption(Encryption::Never).seals());
        let b = ConnectionConfig::new("h").auth(AuthMethod::Basic, Credentials::new("u", "p"));
        assert!(!b.seals());
        assert_eq!(AuthMethod::parse("NTLM"), Some(AuthMethod::Ntlm));
    }

    #[test]
    fn debug_redacts_password() {
        let c =
            ConnectionConfig::new("h").auth(AuthMethod::Basic, Credentials::new("u", "hunter2"));
        let d = format!("{c:?}");
        assert!(!d.contains("hunter2"), "{d}");
        assert!(d.contains("redacted"));
        let key = "-----BEGIN PRIVATE KEY-----\nsecret-key-material\n-----END PRIVATE KEY-----\n";
        let c = ConnectionConfig::new("h")
            .https(true)
            .certificate_auth(ClientCertificate::from_pem("cert", key));
        let d = format!("{c:?}");
        assert!(!d.contains("secret-key-material"), "{d}");
        assert_eq!(c.auth, AuthMethod::Certificate);
        assert!(!c.seals());
    }

    #[test]
    fn certificate_method_parses() {
        assert_eq!(
            AuthMethod::parse("Certificate"),
            Some(AuthMethod::Certificate)
        );
        assert_eq!(AuthMethod::Certificate.as_str(), "certificate");
        assert!(!AuthMethod::Certificate.can_seal());
    }
}
