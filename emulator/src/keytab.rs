//! A reader for MIT keytab files (format 0x0502, the one `kadmin ktadd` and `ktutil` write):
//! the service keys the Kerberos acceptor decrypts tickets with.
//!
//! Layout (all integers big-endian): the version `05 02`, then records, each a signed 32-bit
//! size followed by that many bytes; a negative size marks a deleted record (a hole) of that
//! many bytes. A record holds: component count (u16), realm and components (u16 length +
//! bytes each), name type (u32), timestamp (u32), 8-bit key version, key type (u16), key (u16
//! length + bytes), and optionally a 32-bit key version that, when present and non-zero,
//! replaces the 8-bit one.

use std::path::Path;

/// One key of one principal.
#[derive(Clone, PartialEq, Eq)]
pub struct KeytabEntry {
    /// The principal's realm (`PSRM.TEST`).
    pub realm: String,
    /// Name components (`["HTTP", "localhost"]`).
    pub components: Vec<String>,
    /// The principal's name type (1 principal, 3 service-and-host, …).
    pub name_type: u32,
    /// Key version number.
    pub kvno: u32,
    /// Kerberos encryption type (17 aes128-cts-hmac-sha1-96, 18 aes256-cts-hmac-sha1-96).
    pub enctype: u16,
    /// The key.
    pub key: Vec<u8>,
}

impl KeytabEntry {
    /// `HTTP/localhost` (components joined by `/`, without the realm).
    pub fn name(&self) -> String {
        self.components.join("/")
    }

    /// `HTTP/localhost@PSRM.TEST`.
    pub fn principal(&self) -> String {
        format!("{}@{}", self.name(), self.realm)
    }
}

impl std::fmt::Debug for KeytabEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.debug_struct("KeytabEntry")
            .field("principal", &self.principal())
            .field("kvno", &self.kvno)
            .field("enctype", &self.enctype)
            .finish_non_exhaustive()
    }
}

/// The keys of a keytab file, in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Keytab {
    /// Every live record.
    pub entries: Vec<KeytabEntry>,
}

/// Why a keytab could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeytabError {
    /// The file could not be read.
    #[error("cannot read the keytab: {0}")]
    Io(#[from] std::io::Error),
    /// Not an MIT keytab of version 0x0502.
    #[error("not an mit keytab of version 0x0502 (first bytes {0:02x?})")]
    Version(Vec<u8>),
    /// A record or field runs past its end.
    #[error("keytab record at offset {offset} is truncated")]
    Truncated {
        /// Offset of the record.
        offset: usize,
    },
    /// A name is not UTF-8.
    #[error("keytab record at offset {offset} has a name that is not utf-8")]
    Name {
        /// Offset of the record.
        offset: usize,
    },
    /// No live record.
    #[error("the keytab holds no keys")]
    Empty,
}

impl Keytab {
    /// Reads and parses a keytab file.
    ///
    /// # Errors
    ///
    /// [`KeytabError`] when the file is unreadable or malformed.
    pub fn load(path: &Path) -> Result<Keytab, KeytabError> {
        Keytab::parse(&std::fs::read(path)?)
    }

    /// Parses the bytes of a keytab file; never panics.
    ///
    /// # Errors
    ///
    /// [`KeytabError`] naming the malformed part.
    pub fn parse(bytes: &[u8]) -> Result<Keytab, KeytabError> {
        if bytes.get(..2) != Some(&[5, 2][..]) {
            return Err(KeytabError::Version(
                bytes.iter().take(2).copied().collect(),
            ));
        }
        let mut entries = Vec::new();
        let mut pos = 2;
        while pos < bytes.len() {
            let offset = pos;
            let truncated = KeytabError::Truncated { offset };
            let size_bytes = bytes.get(pos..pos + 4).ok_or(truncated)?;
            let size =
                i32::from_be_bytes([size_bytes[0], size_bytes[1], size_bytes[2], size_bytes[3]]);
            pos += 4;
            let len = usize::try_from(size.unsigned_abs())
                .map_err(|_| KeytabError::Truncated { offset })?;
            let record = bytes
                .get(pos..pos.saturating_add(len))
                .filter(|r| r.len() == len)
                .ok_or(KeytabError::Truncated { offset })?;
            pos += len;
            if size <= 0 {
                continue; // a hole left by a deleted record
            }
            entries.push(parse_record(record, offset)?);
        }
        if entries.is_empty() {
            return Err(KeytabError::Empty);
        }
        Ok(Keytab { entries })
    }
}

fn parse_record(record: &[u8], offset: usize) -> Result<KeytabEntry, KeytabError> {
    let mut r = Reader {
        bytes: record,
        pos: 0,
    };
    let truncated = || KeytabError::Truncated { offset };
    let count = r.u16().ok_or_else(truncated)?;
    let text =
        |data: &[u8]| String::from_utf8(data.to_vec()).map_err(|_| KeytabError::Name { offset });
    let realm = text(r.counted().ok_or_else(truncated)?)?;
    let mut components = Vec::with_capacity(usize::from(count).min(16));
    for _ in 0..count {
        components.push(text(r.counted().ok_or_else(truncated)?)?);
    }
    let name_type = r.u32().ok_or_else(truncated)?;
    let _timestamp = r.u32().ok_or_else(truncated)?;
    let kvno8 = r.u8().ok_or_else(truncated)?;
    let enctype = r.u16().ok_or_else(truncated)?;
    let key = r.counted().ok_or_else(truncated)?.to_vec();
    let kvno = match r.u32() {
        Some(v) if v != 0 => v,
        _ => u32::from(kvno8),
    };
    Ok(KeytabEntry {
        realm,
        components,
        name_type,
        kvno,
        enctype,
        key,
    })
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let out = self.bytes.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(out)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }

    fn u16(&mut self) -> Option<u16> {
        let b = self.take(2)?;
        Some(u16::from_be_bytes([*b.first()?, *b.get(1)?]))
    }

    fn u32(&mut self) -> Option<u32> {
        let b = self.take(4)?;
        Some(u32::from_be_bytes(b.try_into().ok()?))
    }

    fn counted(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }
}

/// Keytab files for tests, written the way MIT's `ktadd` writes them.
#[cfg(test)]
pub(crate) mod testing {
    /// One record (with the 32-bit key version trailer MIT adds).
    pub(crate) fn record(
        realm: &str,
        comps: &[&str],
        kvno: u32,
        enctype: u16,
        key: &[u8],
    ) -> Vec<u8> {
        let mut r = Vec::new();
        r.extend_from_slice(&u16::try_from(comps.len()).unwrap().to_be_bytes());
        for s in std::iter::once(&realm).chain(comps) {
            r.extend_from_slice(&u16::try_from(s.len()).unwrap().to_be_bytes());
            r.extend_from_slice(s.as_bytes());
        }
        r.extend_from_slice(&3u32.to_be_bytes());
        r.extend_from_slice(&0x6500_0000u32.to_be_bytes());
        r.push(u8::try_from(kvno.min(255)).unwrap());
        r.extend_from_slice(&enctype.to_be_bytes());
        r.extend_from_slice(&u16::try_from(key.len()).unwrap().to_be_bytes());
        r.extend_from_slice(key);
        r.extend_from_slice(&kvno.to_be_bytes());
        let mut out = i32::try_from(r.len()).unwrap().to_be_bytes().to_vec();
        out.extend(r);
        out
    }

    /// A file in the temp dir holding one aes256 key (all 0x42) for `HTTP/host@EX.TEST`.
    pub(crate) fn one_key_file(name: &str, kvno: u32) -> std::path::PathBuf {
        let mut file = vec![5, 2];
        file.extend(record("EX.TEST", &["HTTP", "host"], kvno, 18, &[0x42; 32]));
        let path = std::env::temp_dir().join(format!("psrm-{}-{name}.keytab", std::process::id()));
        std::fs::write(&path, file).unwrap();
        path
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::testing::record;
    use super::*;

    fn sample() -> Vec<u8> {
        let mut file = vec![5, 2];
        file.extend(record("PSRM.TEST", &["HTTP", "localhost"], 2, 18, &[7; 32]));
        // A hole of 10 bytes.
        file.extend((-10i32).to_be_bytes());
        file.extend([0; 10]);
        file.extend(record(
            "PSRM.TEST",
            &["WSMAN", "127.0.0.1"],
            300,
            17,
            &[9; 16],
        ));
        file
    }

    #[test]
    fn parses_records_and_skips_holes() {
        let kt = Keytab::parse(&sample()).unwrap();
        assert_eq!(kt.entries.len(), 2);
        assert_eq!(kt.entries[0].principal(), "HTTP/localhost@PSRM.TEST");
        assert_eq!(kt.entries[0].kvno, 2);
        assert_eq!(kt.entries[0].enctype, 18);
        assert_eq!(kt.entries[0].key, vec![7; 32]);
        assert_eq!(kt.entries[1].name(), "WSMAN/127.0.0.1");
        // The 32-bit key version wins over the 8-bit one (300 does not fit in 8 bits).
        assert_eq!(kt.entries[1].kvno, 300);
        assert!(!format!("{:?}", kt.entries[0]).contains("7, 7"));
    }

    #[test]
    fn malformed_files_give_typed_errors() {
        assert!(matches!(Keytab::parse(b""), Err(KeytabError::Version(_))));
        assert!(matches!(
            Keytab::parse(&[5, 1, 0]),
            Err(KeytabError::Version(_))
        ));
        assert!(matches!(Keytab::parse(&[5, 2]), Err(KeytabError::Empty)));
        let mut cut = sample();
        cut.truncate(30);
        assert!(matches!(
            Keytab::parse(&cut),
            Err(KeytabError::Truncated { offset: 2 })
        ));
        let mut bad_name = vec![5, 2];
        bad_name.extend(record("PSRM.TEST", &["HTTP", "x"], 1, 18, &[1; 32]));
        // Corrupt a byte of the realm into invalid UTF-8.
        bad_name[10] = 0xff;
        assert!(matches!(
            Keytab::parse(&bad_name),
            Err(KeytabError::Name { .. })
        ));
        // A record whose inner lengths overrun it.
        let mut overrun = vec![5, 2];
        overrun.extend(4i32.to_be_bytes());
        overrun.extend([0, 1, 0xff, 0xff]);
        assert!(matches!(
            Keytab::parse(&overrun),
            Err(KeytabError::Truncated { .. })
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        #[test]
        fn corrupt_keytabs_never_panic(
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
            cut in any::<prop::sample::Index>(),
            tail in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            let mut file = sample();
            for (i, b) in flips {
                let i = i.index(file.len());
                file[i] = b;
            }
            file.truncate(cut.index(file.len() + 1));
            file.extend(tail);
            let _ = Keytab::parse(&file);
        }
    }
}
