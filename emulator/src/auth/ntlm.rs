//! Just enough of MS-NLMP to check an NTLMv2 AUTHENTICATE message ourselves, independently of
//! sspi: who it claims to be, whether it carries a MIC, and whether its NTProofStr was computed
//! with the configured password (MS-NLMP 3.3.2).

use hmac::{KeyInit, Mac};
use md4::Digest;
use subtle::ConstantTimeEq;

/// `NTLMSSP\0`.
pub(crate) const SIGNATURE: &[u8; 8] = b"NTLMSSP\0";
/// NEGOTIATE_MESSAGE.
pub(crate) const NEGOTIATE: u32 = 1;
/// CHALLENGE_MESSAGE.
pub(crate) const CHALLENGE: u32 = 2;
/// AUTHENTICATE_MESSAGE.
pub(crate) const AUTHENTICATE: u32 = 3;

const NEGOTIATE_UNICODE: u32 = 0x0000_0001;
/// NTLMSSP_REQUEST_TARGET.
const REQUEST_TARGET: u32 = 0x0000_0004;
/// NTLMSSP_NEGOTIATE_NTLM.
const NEGOTIATE_NTLM: u32 = 0x0000_0200;
/// Where NegotiateFlags sit in a NEGOTIATE_MESSAGE.
const NEGOTIATE_FLAGS_AT: usize = 12;
/// MsvAvFlags AV pair id, and its bit saying the AUTHENTICATE message carries a MIC.
const MSV_AV_FLAGS: u16 = 6;
const AV_FLAG_MIC: u32 = 0x0000_0002;
/// MsvAvEOL.
const MSV_AV_EOL: u16 = 0;
/// NTProofStr (16) + RespType, HiRespType, Reserved1/2 (8) + TimeStamp (8) + ChallengeFromClient
/// (8) + Reserved3 (4): the AV pairs of the NTLMv2 client challenge start here.
const AV_PAIRS_OFFSET: usize = 44;

type HmacMd5 = hmac::Hmac<md5::Md5>;

/// The message type of an NTLM token, if it is one.
pub(crate) fn message_type(token: &[u8]) -> Option<u32> {
    if !token.starts_with(SIGNATURE) {
        return None;
    }
    read_u32(token, 8)
}

/// A copy of a NEGOTIATE_MESSAGE with NTLMSSP_REQUEST_TARGET and NTLMSSP_NEGOTIATE_NTLM set,
/// when it lacks either; `None` when it has both (or is too short to carry flags).
///
/// sspi's acceptor refuses a NEGOTIATE without these two flags, although Windows answers it:
/// Go's Azure/go-ntlmssp (masterzen/winrm `ClientNTLM`) sends 0xa0880001 and has neither. Both
/// only ask the server for something (NTLM rather than LM, a target name in the CHALLENGE), so
/// setting them does not lower what is checked afterwards. The one thing an amended copy changes
/// is the MIC: it is computed over the NEGOTIATE bytes as sent, and sspi keeps the copy, so a
/// MIC can never verify after an amendment. The caller refuses such AUTHENTICATE messages
/// outright (fail closed); clients sending these NEGOTIATE messages send no MIC (go-ntlmssp
/// never does), and without a MIC nothing protects the NEGOTIATE bytes anyway.
pub(crate) fn with_required_flags(token: &[u8]) -> Option<Vec<u8>> {
    if message_type(token) != Some(NEGOTIATE) {
        return None;
    }
    let flags = read_u32(token, NEGOTIATE_FLAGS_AT)?;
    let wanted = flags | REQUEST_TARGET | NEGOTIATE_NTLM;
    if wanted == flags {
        return None;
    }
    let mut copy = token.to_vec();
    copy.get_mut(NEGOTIATE_FLAGS_AT..NEGOTIATE_FLAGS_AT + 4)?
        .copy_from_slice(&wanted.to_le_bytes());
    Some(copy)
}

/// The 8-byte server challenge of a CHALLENGE_MESSAGE.
pub(crate) fn server_challenge(token: &[u8]) -> Option<[u8; 8]> {
    if message_type(token) != Some(CHALLENGE) {
        return None;
    }
    token.get(24..32)?.try_into().ok()
}

/// The fields of an AUTHENTICATE_MESSAGE this server checks.
#[derive(Clone)]
pub(crate) struct Authenticate {
    /// UserName as sent.
    pub(crate) user: String,
    /// DomainName as sent.
    pub(crate) domain: String,
    /// NtChallengeResponse (NTProofStr followed by the client challenge blob for NTLMv2).
    nt_response: Vec<u8>,
}

impl std::fmt::Debug for Authenticate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticate")
            .field("user", &self.user)
            .field("domain", &self.domain)
            .finish_non_exhaustive()
    }
}

/// Why an AUTHENTICATE message is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum NtlmCheckError {
    /// Not a well-formed AUTHENTICATE_MESSAGE.
    #[error("malformed authenticate message")]
    Malformed,
    /// An NTLMv1 or anonymous response: no NTLMv2 blob to check.
    #[error("ntlmv2 response required")]
    NotV2,
    /// NTProofStr does not match the password.
    #[error("wrong credentials")]
    BadProof,
}

impl Authenticate {
    /// Parses an AUTHENTICATE_MESSAGE (MS-NLMP 2.2.1.3).
    pub(crate) fn parse(token: &[u8]) -> Result<Self, NtlmCheckError> {
        if message_type(token) != Some(AUTHENTICATE) {
            return Err(NtlmCheckError::Malformed);
        }
        let flags = read_u32(token, 60).ok_or(NtlmCheckError::Malformed)?;
        let nt_response = field(token, 20)?.to_vec();
        let domain = decode_string(field(token, 28)?, flags)?;
        let user = decode_string(field(token, 36)?, flags)?;
        Ok(Self {
            user,
            domain,
            nt_response,
        })
    }

    /// Whether the client says it sent a MIC: MsvAvFlags bit 0x2 in the AV pairs of its NTLMv2
    /// response (MS-NLMP 2.2.2.1). Responses that are not NTLMv2 have none.
    pub(crate) fn announces_mic(&self) -> bool {
        let mut pairs = self.nt_response.get(AV_PAIRS_OFFSET..).unwrap_or_default();
        while let (Some(id), Some(len)) = (read_u16(pairs, 0), read_u16(pairs, 2)) {
            let Some(value) = pairs.get(4..4 + usize::from(len)) else {
                return false;
            };
            match id {
                MSV_AV_EOL => return false,
                MSV_AV_FLAGS => return read_u32(value, 0).is_some_and(|f| f & AV_FLAG_MIC != 0),
                _ => pairs = pairs.get(4 + usize::from(len)..).unwrap_or_default(),
            }
        }
        false
    }

    /// Checks the NTProofStr against `server_challenge` and `password`.
    ///
    /// This is the password check sspi skips when the message carries no MIC (SPEC B5). With it,
    /// a message without MIC (older clients) is accepted only with the right password.
    pub(crate) fn verify(
        &self,
        server_challenge: &[u8; 8],
        password: &str,
    ) -> Result<(), NtlmCheckError> {
        if self.nt_response.len() <= AV_PAIRS_OFFSET {
            return Err(NtlmCheckError::NotV2);
        }
        let (proof, blob) = self.nt_response.split_at(16);
        let expected = nt_proof_str(password, &self.user, &self.domain, server_challenge, blob);
        if bool::from(expected.as_slice().ct_eq(proof)) {
            Ok(())
        } else {
            Err(NtlmCheckError::BadProof)
        }
    }
}

/// NTProofStr = HMAC-MD5(NTOWFv2(password, user, domain), server challenge ‖ blob).
pub(crate) fn nt_proof_str(
    password: &str,
    user: &str,
    domain: &str,
    server_challenge: &[u8; 8],
    blob: &[u8],
) -> [u8; 16] {
    let nt_hash = md4::Md4::digest(utf16le(password));
    let mut identity = utf16le(&user.to_uppercase());
    identity.extend_from_slice(&utf16le(domain));
    let ntowf = hmac_md5(&nt_hash, &[&identity]);
    hmac_md5(&ntowf, &[server_challenge, blob])
}

fn hmac_md5(key: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    // HMAC accepts keys of any length, so this cannot fail.
    let Ok(mut mac) = <HmacMd5 as KeyInit>::new_from_slice(key) else {
        return [0; 16];
    };
    for p in parts {
        mac.update(p);
    }
    let out = mac.finalize().into_bytes();
    let mut r = [0; 16];
    r.copy_from_slice(&out[..16]);
    r
}

fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

fn field(token: &[u8], at: usize) -> Result<&[u8], NtlmCheckError> {
    let len = read_u16(token, at).ok_or(NtlmCheckError::Malformed)?;
    let offset = read_u32(token, at + 4).ok_or(NtlmCheckError::Malformed)?;
    let start = usize::try_from(offset).map_err(|_| NtlmCheckError::Malformed)?;
    token
        .get(start..start.saturating_add(usize::from(len)))
        .ok_or(NtlmCheckError::Malformed)
}

fn decode_string(bytes: &[u8], flags: u32) -> Result<String, NtlmCheckError> {
    if flags & NEGOTIATE_UNICODE == 0 {
        return Ok(bytes.iter().map(|b| char::from(*b)).collect());
    }
    if !bytes.len().is_multiple_of(2) {
        return Err(NtlmCheckError::Malformed);
    }
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16(&units).map_err(|_| NtlmCheckError::Malformed)
}

fn read_u16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn read_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MS-NLMP 4.2.4 NTLMv2 test vectors: User "User", domain "Domain", password "Password",
    /// server challenge 0123456789abcdef.
    #[test]
    fn nt_proof_str_matches_ms_nlmp_4_2_4() {
        let server_challenge = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef];
        // temp = 0x01 0x01 Z(6) Time(8, zero) ClientChallenge(aa*8) Z(4) ServerName(AV pairs) Z(4)
        let mut temp = vec![1, 1, 0, 0, 0, 0, 0, 0];
        temp.extend_from_slice(&[0; 8]);
        temp.extend_from_slice(&[0xaa; 8]);
        temp.extend_from_slice(&[0; 4]);
        // AV pairs: MsvAvNbDomainName "Domain", MsvAvNbComputerName "Server", EOL.
        for (id, s) in [(2u16, "Domain"), (1u16, "Server")] {
            let v = utf16le(s);
            temp.extend_from_slice(&id.to_le_bytes());
            temp.extend_from_slice(&u16::try_from(v.len()).unwrap().to_le_bytes());
            temp.extend_from_slice(&v);
        }
        temp.extend_from_slice(&[0; 4]);
        temp.extend_from_slice(&[0; 4]);
        let proof = nt_proof_str("Password", "User", "Domain", &server_challenge, &temp);
        assert_eq!(
            proof,
            [
                0x68, 0xcd, 0x0a, 0xb8, 0x51, 0xe5, 0x1c, 0x96, 0xaa, 0xbc, 0x92, 0x7b, 0xeb, 0xef,
                0x6a, 0x1c
            ]
        );
    }

    #[test]
    fn required_flags_are_added_only_when_missing() {
        // go-ntlmssp: 0xa0880001.
        let mut go = b"NTLMSSP\0\x01\0\0\0\x01\x00\x88\xa0".to_vec();
        go.resize(40, 0);
        let amended = with_required_flags(&go).unwrap();
        assert_eq!(read_u32(&amended, 12), Some(0xa088_0205));
        assert_eq!(amended[..12], go[..12]);
        assert_eq!(amended[16..], go[16..]);
        // Already has both (pyspnego's 0xe2088237): untouched.
        assert_eq!(with_required_flags(&amended), None);
        // Not a NEGOTIATE, or too short for flags.
        assert_eq!(with_required_flags(b"NTLMSSP\0\x01\0\0\0\x01"), None);
        let mut other = go.clone();
        other[8] = 3;
        assert_eq!(with_required_flags(&other), None);
    }

    fn authenticate_with_av_pairs(pairs: &[u8]) -> Authenticate {
        let mut nt_response = vec![0x11; AV_PAIRS_OFFSET];
        nt_response.extend_from_slice(pairs);
        Authenticate {
            user: "alice".into(),
            domain: String::new(),
            nt_response,
        }
    }

    #[test]
    fn mic_announcement_is_read_from_msv_av_flags() {
        let timestamp = [7, 0, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8];
        let mut with_mic = timestamp.to_vec();
        with_mic.extend_from_slice(&[6, 0, 4, 0, 2, 0, 0, 0, 0, 0, 0, 0]);
        assert!(authenticate_with_av_pairs(&with_mic).announces_mic());
        let mut other_flag = timestamp.to_vec();
        other_flag.extend_from_slice(&[6, 0, 4, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
        assert!(!authenticate_with_av_pairs(&other_flag).announces_mic());
        // Flags after EOL, truncated pairs, and no pairs at all announce nothing.
        assert!(!authenticate_with_av_pairs(&[0, 0, 0, 0, 6, 0, 4, 0, 2, 0, 0, 0]).announces_mic());
        assert!(!authenticate_with_av_pairs(&[6, 0, 4, 0, 2, 0]).announces_mic());
        assert!(!authenticate_with_av_pairs(&[6, 0]).announces_mic());
        assert!(!authenticate_with_av_pairs(&[]).announces_mic());
    }

    #[test]
    fn parse_rejects_garbage_without_panicking() {
        assert_eq!(message_type(b"NTLM"), None);
        assert!(Authenticate::parse(b"NTLMSSP\0\x03\0\0\0").is_err());
        let mut t = b"NTLMSSP\0\x03\0\0\0".to_vec();
        t.resize(88, 0xff);
        assert!(Authenticate::parse(&t).is_err());
    }
}
