//! The session key of a runspace pool (MS-PSRP 3.1.4.7): the client sends the public half of an
//! RSA key (PUBLIC_KEY on the pool's stdin), the server answers with a fresh AES-256 key
//! encrypted for it (ENCRYPTED_SESSION_KEY on the pool's stdout). SecureString parameters and
//! input objects are then encrypted with that key ([`PsSession::secure_string`]).

use std::time::{Duration, Instant};

use psrp::clixml::Value;
use psrp::crypto::{ExchangeKey, SessionKey};
use wsman::shell::{Send, Stream};

use super::{PsSession, psrp_error, room};
use crate::error::Error;

impl PsSession {
    /// Exchanges a session key with the server (what PowerShell does before it sends the
    /// first SecureString): generates a 2048-bit RSA key from the operating system's random
    /// source, then as [`PsSession::exchange_keys_with`]. Key generation is CPU-heavy (a
    /// second or more in debug builds) and runs on a blocking thread. Does nothing when a key
    /// was already exchanged.
    ///
    /// # Errors
    ///
    /// As [`PsSession::exchange_keys_with`]; key generation failures as protocol errors.
    pub async fn exchange_keys(&mut self) -> Result<(), Error> {
        if self.pool.session_key().is_some() {
            return Ok(());
        }
        let key = tokio::task::spawn_blocking(|| ExchangeKey::generate(&mut rand_core::OsRng))
            .await
            .map_err(|e| Error::protocol(format!("key generation task: {e}")))?
            .map_err(psrp_error)?;
        self.exchange_keys_with(key).await
    }

    /// Exchanges a session key using `key` (injectable so tests and replays need not generate
    /// one): Send PUBLIC_KEY on the pool, then pool Receives until ENCRYPTED_SESSION_KEY has
    /// been decrypted. A key exchanged earlier is replaced.
    ///
    /// # Errors
    ///
    /// A usage error unless Opened here; faults and transport errors; a protocol error when
    /// the server's answer does not decrypt with `key` or the pool ends.
    pub async fn exchange_keys_with(&mut self, key: ExchangeKey) -> Result<(), Error> {
        self.exchange_keys_until(key, None).await
    }

    /// [`PsSession::exchange_keys_with`], giving up when the server has not answered within
    /// `timeout` (at least one Receive is made; pypsrp's key exchange timeout). A server that
    /// never answers PUBLIC_KEY otherwise keeps the client polling forever.
    ///
    /// # Errors
    ///
    /// As [`PsSession::exchange_keys_with`], and a protocol error when the time is up.
    pub async fn exchange_keys_within(
        &mut self,
        key: ExchangeKey,
        timeout: Duration,
    ) -> Result<(), Error> {
        self.exchange_keys_until(key, Some(Instant::now() + timeout))
            .await
    }

    async fn exchange_keys_until(
        &mut self,
        key: ExchangeKey,
        deadline: Option<Instant>,
    ) -> Result<(), Error> {
        self.expect_opened("exchange keys")?;
        self.pool.request_session_key(key).map_err(psrp_error)?;
        let room = room(&self.client);
        while let Some(data) = self.pool.poll_transmit(room) {
            let send = Send {
                streams: vec![Stream {
                    name: "stdin".into(),
                    command_id: None,
                    end: None,
                    data,
                }],
            };
            self.client
                .send(&self.resource_uri, &self.shell_id, send)
                .await?;
        }
        while self.pool.session_key().is_none() {
            self.receive_on_pool(|s| {
                format!(
                    "runspace pool {} ended before the session key arrived",
                    s.name
                )
            })
            .await?;
            self.drain_pool_events()?;
            if self.pool.session_key().is_none() && deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(Error::protocol(format!(
                    "runspace pool {} did not answer the key exchange in time",
                    self.name
                )));
            }
        }
        Ok(())
    }

    /// The session key, once exchanged.
    pub fn session_key(&self) -> Option<&SessionKey> {
        self.pool.session_key()
    }

    /// `text` as a SecureString value (`<SS>`) encrypted with the session key, for a
    /// parameter or an input object.
    ///
    /// # Errors
    ///
    /// A usage error before [`PsSession::exchange_keys`].
    pub fn secure_string(&self, text: &str) -> Result<Value, Error> {
        let key = self.pool.session_key().ok_or_else(|| {
            Error::usage("no session key: call exchange_keys before sending a securestring")
        })?;
        Ok(Value::secure_string(key, text))
    }

    /// Decrypts a SecureString value the server sent (`ConvertTo-SecureString` output).
    ///
    /// # Errors
    ///
    /// A usage error without a session key or for a value that is not a SecureString; a
    /// protocol error when it does not decrypt with the session key.
    pub fn reveal(&self, value: &Value) -> Result<String, Error> {
        let key = self
            .pool
            .session_key()
            .ok_or_else(|| Error::usage("no session key: call exchange_keys first"))?;
        match value.decrypt_secure_string(key) {
            Some(result) => result.map_err(psrp_error),
            None => Err(Error::usage("not a securestring value")),
        }
    }
}
