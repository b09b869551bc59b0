//! Session key exchange and SecureString encryption (MS-PSRP 2.2.2.3, 2.2.2.4, 2.2.5.1.24).
//!
//! ```text
//! client                                              server
//!   ExchangeKey::generate(rng) (RSA 2048)
//!   PUBLIC_KEY { PublicKey: base64(PUBLICKEYBLOB) }  ──▶  PublicKey::from_base64
//!                                                        SessionKey::from_bytes(32 random bytes)
//!                                                        PublicKey::encrypt_session_key(rng)
//!   ExchangeKey::decrypt_session_key  ◀──  ENCRYPTED_SESSION_KEY { base64(SIMPLEBLOB) }
//!   both: SecureString = AES-256-CBC(zero IV, PKCS#7) over UTF-16LE text
//! ```
//!
//! The blobs are Microsoft CryptoAPI structures: a PUBLICKEYBLOB (`06 02 00 00`, CALG_RSA_KEYX,
//! `RSA1`, bit length, public exponent, modulus little-endian) and a SIMPLEBLOB (`01 02 00 00`,
//! CALG_AES_256, CALG_RSA_KEYX, RSAES-PKCS1-v1_5 ciphertext little-endian). Randomness is always
//! an argument, so tests are reproducible.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, Pkcs1v15Encrypt, RsaPrivateKey, RsaPublicKey};

/// The random number generator trait key generation and encryption take (re-exported from the
/// `rsa` crate's `rand_core`).
pub use rsa::rand_core::CryptoRngCore;

/// RSA key size Windows and psrpcore use for the exchange key.
pub const EXCHANGE_KEY_BITS: usize = 2048;

/// Smallest and largest RSA modulus accepted from a peer, in bits.
const MIN_RSA_BITS: u32 = 1024;
const MAX_RSA_BITS: u32 = 4096;

const PUBLICKEYBLOB: u8 = 0x06;
const SIMPLEBLOB: u8 = 0x01;
const CUR_BLOB_VERSION: u8 = 0x02;
const CALG_RSA_KEYX: u32 = 0x0000_A400;
const CALG_AES_256: u32 = 0x0000_6610;
const RSA1_MAGIC: &[u8; 4] = b"RSA1";
const BLOB_HEADER_LEN: usize = 8;
const PUBLIC_KEY_HEADER_LEN: usize = BLOB_HEADER_LEN + 12;
const SIMPLE_BLOB_HEADER_LEN: usize = BLOB_HEADER_LEN + 4;

/// The 256-bit AES key that protects SecureStrings for the life of a runspace pool.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionKey([u8; 32]);

impl SessionKey {
    /// Wraps raw key bytes (the server draws them from its rng).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Draws a fresh key from `rng`.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        let mut key = [0; 32];
        rng.fill_bytes(&mut key);
        Self(key)
    }

    /// The raw key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Encrypts `text` as a SecureString: UTF-16LE, PKCS#7, AES-256-CBC with a zero IV.
    ///
    /// Returns the bytes whose base64 goes in an `<SS>` element.
    pub fn encrypt_secure_string(&self, text: &str) -> Vec<u8> {
        let mut buf: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let plain_len = buf.len();
        // PKCS#7 always adds 1..=16 bytes: room for one more block is enough.
        buf.resize((plain_len / AES_BLOCK + 1) * AES_BLOCK, 0);
        let encryptor = cbc::Encryptor::<aes::Aes256>::new(&self.0.into(), &ZERO_IV.into());
        // The buffer holds the text plus a whole block, so padding always fits.
        match encryptor.encrypt_padded::<Pkcs7>(&mut buf, plain_len) {
            Ok(ct) => ct.to_vec(),
            Err(_) => unreachable!("buffer sized for pkcs7 padding"),
        }
    }

    /// Decrypts the bytes of an `<SS>` element back to text.
    ///
    /// # Errors
    ///
    /// [`CryptoError::SecureString`] when the length, the padding or the UTF-16 is wrong (which
    /// is what a wrong key looks like).
    pub fn decrypt_secure_string(&self, data: &[u8]) -> Result<String, CryptoError> {
        if data.is_empty() || !data.len().is_multiple_of(AES_BLOCK) {
            return Err(CryptoError::SecureString(
                "length is not a multiple of 16 bytes",
            ));
        }
        let mut buf = data.to_vec();
        let decryptor = cbc::Decryptor::<aes::Aes256>::new(&self.0.into(), &ZERO_IV.into());
        let plain = decryptor
            .decrypt_padded::<Pkcs7>(&mut buf)
            .map_err(|_| CryptoError::SecureString("bad padding"))?;
        if plain.len() % 2 != 0 {
            return Err(CryptoError::SecureString("odd utf-16 length"));
        }
        let units = plain
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]));
        char::decode_utf16(units)
            .collect::<Result<String, _>>()
            .map_err(|_| CryptoError::SecureString("invalid utf-16"))
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKey(..)")
    }
}

/// The client's RSA key pair for the exchange.
#[derive(Clone)]
pub struct ExchangeKey {
    private: RsaPrivateKey,
}

impl ExchangeKey {
    /// Generates a 2048-bit key pair from `rng`.
    ///
    /// # Errors
    ///
    /// [`CryptoError::Rsa`] if key generation fails.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Result<Self, CryptoError> {
        Self::generate_with_bits(rng, EXCHANGE_KEY_BITS)
    }

    /// Generates a key pair of `bits` bits (tests use smaller keys to save time).
    ///
    /// # Errors
    ///
    /// [`CryptoError::Rsa`] if key generation fails.
    pub fn generate_with_bits(
        rng: &mut impl CryptoRngCore,
        bits: usize,
    ) -> Result<Self, CryptoError> {
        let private = RsaPrivateKey::new(rng, bits).map_err(|e| CryptoError::Rsa(e.to_string()))?;
        Ok(Self { private })
    }

    /// The public half, to send in PUBLIC_KEY.
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            rsa: self.private.to_public_key(),
        }
    }

    /// Recovers the session key the server sent in ENCRYPTED_SESSION_KEY.
    ///
    /// # Errors
    ///
    /// [`CryptoError::Rsa`] when decryption fails, [`CryptoError::SessionKeyLength`] when the
    /// plaintext is not 32 bytes.
    pub fn decrypt_session_key(
        &self,
        blob: &EncryptedSessionKey,
    ) -> Result<SessionKey, CryptoError> {
        let plain = self
            .private
            .decrypt(Pkcs1v15Encrypt, &blob.ciphertext)
            .map_err(|e| CryptoError::Rsa(e.to_string()))?;
        let key: [u8; 32] = plain
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::SessionKeyLength(plain.len()))?;
        Ok(SessionKey(key))
    }
}

impl fmt::Debug for ExchangeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExchangeKey")
            .field("bits", &(self.private.size() * 8))
            .finish()
    }
}

/// An RSA public key in the form PUBLIC_KEY carries (a CryptoAPI PUBLICKEYBLOB).
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    rsa: RsaPublicKey,
}

impl PublicKey {
    /// Parses a PUBLICKEYBLOB.
    ///
    /// # Errors
    ///
    /// [`CryptoError::PublicKeyBlob`] when the header, magic, sizes or exponent are wrong,
    /// [`CryptoError::Rsa`] when the numbers do not make an RSA key.
    pub fn from_blob(blob: &[u8]) -> Result<Self, CryptoError> {
        let Some((header, modulus)) = blob.split_first_chunk::<PUBLIC_KEY_HEADER_LEN>() else {
            return Err(CryptoError::PublicKeyBlob("shorter than its header"));
        };
        // Constant offsets inside a fixed 20-byte header: these cannot go out of bounds.
        if header[0] != PUBLICKEYBLOB || header[1] != CUR_BLOB_VERSION {
            return Err(CryptoError::PublicKeyBlob("not a version 2 PUBLICKEYBLOB"));
        }
        if le_u32(header, 4) != CALG_RSA_KEYX {
            return Err(CryptoError::PublicKeyBlob(
                "key algorithm is not CALG_RSA_KEYX",
            ));
        }
        if &header[8..12] != RSA1_MAGIC {
            return Err(CryptoError::PublicKeyBlob("magic is not RSA1"));
        }
        let bits = le_u32(header, 12);
        if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) || bits % 8 != 0 {
            return Err(CryptoError::PublicKeyBlob("unsupported key size"));
        }
        if modulus.len() != (bits / 8) as usize {
            return Err(CryptoError::PublicKeyBlob(
                "modulus length does not match bit length",
            ));
        }
        let exponent = le_u32(header, 16);
        let n = BigUint::from_bytes_le(modulus);
        let rsa = RsaPublicKey::new(n, BigUint::from(exponent))
            .map_err(|e| CryptoError::Rsa(e.to_string()))?;
        Ok(Self { rsa })
    }

    /// Parses the base64 text of the `PublicKey` property.
    ///
    /// # Errors
    ///
    /// [`CryptoError::Base64`] or the errors of [`from_blob`](Self::from_blob).
    pub fn from_base64(text: &str) -> Result<Self, CryptoError> {
        let blob = STANDARD
            .decode(text.trim())
            .map_err(|_| CryptoError::Base64)?;
        Self::from_blob(&blob)
    }

    /// Encodes the key as a PUBLICKEYBLOB.
    ///
    /// Keys whose exponent does not fit 32 bits cannot be expressed; the keys this module
    /// generates and parses always use a 32-bit exponent.
    pub fn to_blob(&self) -> Vec<u8> {
        let size = self.rsa.size();
        let mut blob = Vec::with_capacity(PUBLIC_KEY_HEADER_LEN + size);
        blob.extend_from_slice(&[PUBLICKEYBLOB, CUR_BLOB_VERSION, 0, 0]);
        blob.extend_from_slice(&CALG_RSA_KEYX.to_le_bytes());
        blob.extend_from_slice(RSA1_MAGIC);
        blob.extend_from_slice(&((size * 8) as u32).to_le_bytes());
        let mut exponent = [0u8; 4];
        let e = self.rsa.e().to_bytes_le();
        let n = e.len().min(4);
        exponent[..n].copy_from_slice(&e[..n]);
        blob.extend_from_slice(&exponent);
        let mut modulus = self.rsa.n().to_bytes_le();
        modulus.resize(size, 0);
        blob.extend_from_slice(&modulus);
        blob
    }

    /// The base64 text for the `PublicKey` property.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.to_blob())
    }

    /// Modulus size in bits.
    pub fn bits(&self) -> usize {
        self.rsa.size() * 8
    }

    /// The public exponent, when it fits 32 bits.
    pub fn exponent(&self) -> Option<u32> {
        let bytes = self.rsa.e().to_bytes_le();
        (bytes.len() <= 4).then(|| {
            let mut e = [0; 4];
            e[..bytes.len()].copy_from_slice(&bytes);
            u32::from_le_bytes(e)
        })
    }

    /// Encrypts `key` for this public key (RSAES-PKCS1-v1_5), as the server does.
    ///
    /// # Errors
    ///
    /// [`CryptoError::Rsa`] when encryption fails.
    pub fn encrypt_session_key(
        &self,
        key: &SessionKey,
        rng: &mut impl CryptoRngCore,
    ) -> Result<EncryptedSessionKey, CryptoError> {
        let ciphertext = self
            .rsa
            .encrypt(rng, Pkcs1v15Encrypt, &key.0)
            .map_err(|e| CryptoError::Rsa(e.to_string()))?;
        Ok(EncryptedSessionKey { ciphertext })
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("bits", &self.bits())
            .field("exponent", &self.exponent())
            .finish()
    }
}

/// The session key encrypted for the client, as ENCRYPTED_SESSION_KEY carries it (a
/// CryptoAPI SIMPLEBLOB for CALG_AES_256 under CALG_RSA_KEYX).
#[derive(Clone, PartialEq, Eq)]
pub struct EncryptedSessionKey {
    /// RSA ciphertext in big-endian order, as RFC 8017 defines it (the blob stores it reversed).
    ciphertext: Vec<u8>,
}

impl EncryptedSessionKey {
    /// Parses a SIMPLEBLOB.
    ///
    /// # Errors
    ///
    /// [`CryptoError::SessionKeyBlob`] when the header or algorithms are wrong or the
    /// ciphertext is empty or larger than a 4096-bit key allows.
    pub fn from_blob(blob: &[u8]) -> Result<Self, CryptoError> {
        let Some((header, reversed)) = blob.split_first_chunk::<SIMPLE_BLOB_HEADER_LEN>() else {
            return Err(CryptoError::SessionKeyBlob("shorter than its header"));
        };
        if header[0] != SIMPLEBLOB || header[1] != CUR_BLOB_VERSION {
            return Err(CryptoError::SessionKeyBlob("not a version 2 SIMPLEBLOB"));
        }
        if le_u32(header, 4) != CALG_AES_256 {
            return Err(CryptoError::SessionKeyBlob(
                "session key algorithm is not CALG_AES_256",
            ));
        }
        if le_u32(header, 8) != CALG_RSA_KEYX {
            return Err(CryptoError::SessionKeyBlob(
                "key exchange algorithm is not CALG_RSA_KEYX",
            ));
        }
        if reversed.is_empty() || reversed.len() > (MAX_RSA_BITS / 8) as usize {
            return Err(CryptoError::SessionKeyBlob(
                "ciphertext length out of range",
            ));
        }
        let mut ciphertext = reversed.to_vec();
        ciphertext.reverse();
        Ok(Self { ciphertext })
    }

    /// Parses the base64 text of the `EncryptedSessionKey` property.
    ///
    /// # Errors
    ///
    /// [`CryptoError::Base64`] or the errors of [`from_blob`](Self::from_blob).
    pub fn from_base64(text: &str) -> Result<Self, CryptoError> {
        let blob = STANDARD
            .decode(text.trim())
            .map_err(|_| CryptoError::Base64)?;
        Self::from_blob(&blob)
    }

    /// Encodes the SIMPLEBLOB.
    pub fn to_blob(&self) -> Vec<u8> {
        let mut blob = Vec::with_capacity(SIMPLE_BLOB_HEADER_LEN + self.ciphertext.len());
        blob.extend_from_slice(&[SIMPLEBLOB, CUR_BLOB_VERSION, 0, 0]);
        blob.extend_from_slice(&CALG_AES_256.to_le_bytes());
        blob.extend_from_slice(&CALG_RSA_KEYX.to_le_bytes());
        blob.extend(self.ciphertext.iter().rev());
        blob
    }

    /// The base64 text for the `EncryptedSessionKey` property.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.to_blob())
    }

    /// The RSA ciphertext in RFC 8017 (big-endian) order.
    pub fn ciphertext(&self) -> &[u8] {
        &self.ciphertext
    }
}

impl fmt::Debug for EncryptedSessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptedSessionKey")
            .field("len", &self.ciphertext.len())
            .finish()
    }
}

/// A key exchange or SecureString that failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// A blob property is not valid base64.
    #[error("key blob is not valid base64")]
    Base64,
    /// The PUBLIC_KEY blob is malformed.
    #[error("invalid public key blob: {0}")]
    PublicKeyBlob(&'static str),
    /// The ENCRYPTED_SESSION_KEY blob is malformed.
    #[error("invalid encrypted session key blob: {0}")]
    SessionKeyBlob(&'static str),
    /// The decrypted session key is not 32 bytes.
    #[error("session key is {0} bytes, expected 32")]
    SessionKeyLength(usize),
    /// RSA key generation, encryption or decryption failed.
    #[error("rsa: {0}")]
    Rsa(String),
    /// A SecureString did not decrypt.
    #[error("secure string does not decrypt: {0}")]
    SecureString(&'static str),
}

fn le_u32<const N: usize>(header: &[u8; N], at: usize) -> u32 {
    let mut b = [0; 4];
    b.copy_from_slice(&header[at..at + 4]);
    u32::from_le_bytes(b)
}

const AES_BLOCK: usize = 16;
const ZERO_IV: [u8; 16] = [0; 16];

#[cfg(test)]
mod tests;
