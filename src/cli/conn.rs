//! Connection flags → a [`WsManClient`] that speaks as this client (its stored SessionId).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use sessions::{
    AuthMethod, ClientCertificate, ClientOptions, ConnectionConfig, Credentials, Encryption,
    HttpTransport, Proxy, WsManClient,
};

use super::state::{self, Store};

/// Flags shared by every verb (SPEC C2).
#[derive(Clone, Debug, Args)]
pub struct GlobalArgs {
    /// Host to connect to: HOST[:PORT] (with `get`: enumerate the sessions on that host).
    #[arg(short = 'H', long, global = true, value_name = "HOST[:PORT]")]
    pub host: Option<String>,
    /// Use HTTPS (port 5986 unless given).
    #[arg(long, global = true)]
    pub ssl: bool,
    /// Do not verify the server's TLS certificate.
    #[arg(long, global = true)]
    pub insecure: bool,
    /// Trust this PEM CA file for HTTPS.
    #[arg(long, global = true, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// HTTP message encryption (NTLM/Negotiate/Kerberos/CredSSP sealing) over plain HTTP.
    #[arg(long, global = true, value_enum, default_value = "auto")]
    pub encryption: EncryptionArg,
    /// HTTP proxy (`http://host:port`).
    #[arg(long, global = true, value_name = "URL")]
    pub proxy: Option<String>,
    /// Authentication method.
    #[arg(long, global = true, value_enum, default_value = "negotiate")]
    pub auth: AuthArg,
    /// Client certificate, PEM (with `--auth certificate`; HTTPS only).
    #[arg(long, global = true, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// The client certificate's private key, PEM (with `--auth certificate`).
    #[arg(long, global = true, value_name = "FILE")]
    pub cert_key: Option<PathBuf>,
    /// Kerberos KDC, HOST[:PORT] over TCP (with `--auth kerberos` or `negotiate`); default:
    /// PSRM_KDC, else the realm's `kdc` in krb5.conf (KRB5_CONFIG or /etc/krb5.conf).
    #[arg(long, global = true, value_name = "HOST[:PORT]")]
    pub kdc: Option<String>,
    /// Kerberos service principal name (with `--auth kerberos` or `negotiate`); default
    /// HTTP/<host>.
    #[arg(long, global = true, value_name = "SPN")]
    pub spn: Option<String>,
    /// User name (`DOMAIN\user` or `user@realm` work too); password from PSRM_PASSWORD or a
    /// prompt.
    #[arg(short = 'u', long, global = true, env = "PSRM_USER")]
    pub user: Option<String>,
    /// Session configuration.
    #[arg(long, global = true, default_value = "Microsoft.PowerShell")]
    pub configuration_name: String,
    /// Print one JSON document instead of tables and text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Directory holding this client's identity and sessions (two directories = two clients).
    #[arg(long, global = true, env = "PSRM_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// WS-Man OperationTimeout in seconds (each Receive long poll).
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 20)]
    pub operation_timeout: u64,
}

/// `--encryption` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum EncryptionArg {
    /// Seal over HTTP when the auth method can, not over HTTPS.
    Auto,
    /// Always seal (fails with methods that cannot).
    Always,
    /// Never seal.
    Never,
}

impl EncryptionArg {
    fn encryption(self) -> Encryption {
        match self {
            Self::Auto => Encryption::Auto,
            Self::Always => Encryption::Always,
            Self::Never => Encryption::Never,
        }
    }
}

/// `--auth` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AuthArg {
    /// HTTP Basic.
    Basic,
    /// NTLM.
    Ntlm,
    /// SPNEGO: Kerberos inside it for user@REALM or REALM\user when the realm's KDC is known
    /// (`--kdc`, PSRM_KDC, krb5.conf) and the host is a name or `--spn` is given, else (or
    /// when the KDC does not answer) NTLM.
    Negotiate,
    /// Kerberos: user as user@REALM, a ticket from the KDC (`--kdc`) for `--spn`
    /// (HTTP/<host>); seals over HTTP.
    Kerberos,
    /// CredSSP: NTLM inside an inner TLS session, then the password is delegated to the server
    /// (over plain HTTP the inner session seals the messages).
    Credssp,
    /// TLS client certificate (`--cert FILE --cert-key FILE`, needs `--ssl`; no user or
    /// password: the server maps the certificate to an account).
    Certificate,
}

impl AuthArg {
    fn method(self) -> AuthMethod {
        match self {
            Self::Basic => AuthMethod::Basic,
            Self::Ntlm => AuthMethod::Ntlm,
            Self::Negotiate => AuthMethod::Negotiate,
            Self::Kerberos => AuthMethod::Kerberos,
            Self::Credssp => AuthMethod::CredSsp,
            Self::Certificate => AuthMethod::Certificate,
        }
    }
}

impl GlobalArgs {
    /// The state directory in use.
    pub fn state_dir(&self) -> PathBuf {
        self.state_dir.clone().unwrap_or_else(state::default_dir)
    }

    /// Opens this client's store.
    pub fn store(&self) -> anyhow::Result<Store> {
        Store::open(&self.state_dir())
    }
}

/// A connection to one host, as this client.
#[derive(Clone, Debug)]
pub struct Connection {
    pub client: WsManClient,
    /// The host as the user named it (`host[:port]`): the ComputerName column.
    pub host: String,
    pub ssl: bool,
}

/// Connects to `host` (the `-H` flag, else `fallback`, e.g. a stored session's host).
pub fn connect(
    args: &GlobalArgs,
    store: &Store,
    fallback: Option<(&str, bool)>,
) -> anyhow::Result<Connection> {
    let (host, ssl) = target(args, fallback)?;
    let config = ConnectionConfig::new(&host)
        .https(ssl)
        .insecure(args.insecure)
        .encryption(args.encryption.encryption());
    let mut config = if args.auth == AuthArg::Certificate {
        let (Some(cert), Some(key)) = (&args.cert, &args.cert_key) else {
            bail!("--auth certificate needs --cert FILE and --cert-key FILE");
        };
        if !ssl {
            bail!("--auth certificate needs https: add --ssl");
        }
        config.certificate_auth(ClientCertificate::from_files(cert.clone(), key.clone()))
    } else {
        if args.cert.is_some() || args.cert_key.is_some() {
            bail!("--cert and --cert-key go with --auth certificate");
        }
        let Some(user) = args.user.clone().filter(|u| !u.is_empty()) else {
            bail!("no user given: use -u USER or set PSRM_USER");
        };
        let password = password_for(&user, &host)?;
        config.auth(args.auth.method(), Credentials::new(user, password))
    };
    if let Some(ca) = &args.ca_file {
        config = config.ca_file(ca.clone());
    }
    if !matches!(args.auth, AuthArg::Kerberos | AuthArg::Negotiate)
        && (args.kdc.is_some() || args.spn.is_some())
    {
        bail!("--kdc and --spn go with --auth kerberos or negotiate");
    }
    config.kdc = args.kdc.clone();
    config.spn = args.spn.clone();
    let config = with_proxy(args, config)?;
    let options = options(args, store, &config);
    let transport = HttpTransport::new(config).context("cannot set up the connection")?;
    Ok(Connection {
        client: WsManClient::new(Arc::new(transport), options),
        host,
        ssl,
    })
}

/// Connects to `host` (as [`connect`]) for requests without any authentication (`test-wsman
/// --unauthenticated`): no user, password or client certificate is asked for or sent; TLS
/// (`--ssl`, `--insecure`, `--ca-file`), `--proxy` and the timeouts apply as usual.
pub fn connect_unauthenticated(
    args: &GlobalArgs,
    store: &Store,
    fallback: Option<(&str, bool)>,
) -> anyhow::Result<Connection> {
    let (host, ssl) = target(args, fallback)?;
    let mut config = ConnectionConfig::new(&host)
        .https(ssl)
        .insecure(args.insecure);
    if let Some(ca) = &args.ca_file {
        config = config.ca_file(ca.clone());
    }
    let config = with_proxy(args, config)?;
    let options = options(args, store, &config);
    let transport =
        HttpTransport::unauthenticated(config).context("cannot set up the connection")?;
    Ok(Connection {
        client: WsManClient::new(Arc::new(transport), options),
        host,
        ssl,
    })
}

/// The host (`-H`, else `fallback`) and whether to use HTTPS.
fn target(args: &GlobalArgs, fallback: Option<(&str, bool)>) -> anyhow::Result<(String, bool)> {
    Ok(match (&args.host, fallback) {
        (Some(h), _) => (h.clone(), args.ssl),
        (None, Some((h, ssl))) => (h.to_owned(), ssl || args.ssl),
        (None, None) => bail!("no host given: use -H HOST[:PORT]"),
    })
}

/// `--proxy` and the connect timeout.
fn with_proxy(args: &GlobalArgs, mut config: ConnectionConfig) -> anyhow::Result<ConnectionConfig> {
    if let Some(url) = &args.proxy {
        let Some(proxy) = Proxy::parse(url) else {
            bail!("invalid proxy {url}: expected http://host:port");
        };
        config = config.proxy(proxy);
    }
    config.connect_timeout = Duration::from_secs(15);
    Ok(config)
}

/// The client options: this client's SessionId, `--operation-timeout`.
fn options(args: &GlobalArgs, store: &Store, config: &ConnectionConfig) -> ClientOptions {
    ClientOptions::default()
        .session_id(store.state.client_session_id.clone())
        .max_envelope_size(config.max_envelope_size)
        .operation_timeout(Duration::from_secs(args.operation_timeout.max(1)))
}

/// The password: PSRM_PASSWORD, else a prompt on the terminal (never echoed).
fn password_for(user: &str, host: &str) -> anyhow::Result<String> {
    if let Ok(p) = std::env::var("PSRM_PASSWORD") {
        return Ok(p);
    }
    if !std::io::stderr().is_terminal() && !std::io::stdin().is_terminal() {
        bail!("no password: set PSRM_PASSWORD (no terminal to prompt on)");
    }
    rpassword::prompt_password(format!("Password for {user}@{host}: "))
        .context("cannot read the password from the terminal")
}
