//! A minimal DER reader/writer for the two SPNEGO tokens (RFC 4178) the acceptor sees, so the
//! NTLM messages inside can be checked before sspi touches them, and sspi only ever receives
//! tokens of the shape it handles.

/// `1.3.6.1.4.1.311.2.2.10`, NTLMSSP, as DER content bytes.
pub(crate) const NTLM_OID: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a];
/// `1.3.6.1.5.5.2`, SPNEGO.
const SPNEGO_OID: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];

/// negState `accept-completed`.
pub(crate) const ACCEPT_COMPLETED: u8 = 0;
/// negState `accept-incomplete`.
pub(crate) const ACCEPT_INCOMPLETE: u8 = 1;

/// The parts of a NegTokenInit the acceptor needs.
#[derive(Debug)]
pub(crate) struct NegTokenInit<'a> {
    /// Whether NTLM is the initiator's first choice.
    pub(crate) ntlm_first: bool,
    /// Whether NTLM is anywhere in the initiator's list.
    pub(crate) ntlm_offered: bool,
    /// The initiator's first choice (OID content bytes).
    pub(crate) first_mech: &'a [u8],
    /// The optimistic mechanism token.
    pub(crate) mech_token: Option<&'a [u8]>,
}

/// The parts of a NegTokenResp.
#[derive(Debug)]
pub(crate) struct NegTokenResp<'a> {
    /// negState.
    pub(crate) neg_state: Option<u8>,
    /// supportedMech (OID content bytes).
    pub(crate) supported_mech: Option<&'a [u8]>,
    /// responseToken.
    pub(crate) response_token: Option<&'a [u8]>,
    /// mechListMIC.
    pub(crate) mech_list_mic: Option<&'a [u8]>,
}

/// Parses `[APPLICATION 0] { OID spnego, [0] NegTokenInit }`.
pub(crate) fn parse_init(token: &[u8]) -> Option<NegTokenInit<'_>> {
    let (tag, app, rest) = tlv(token)?;
    if tag != 0x60 || !rest.is_empty() {
        return None;
    }
    let (tag, oid, rest) = tlv(app)?;
    if tag != 0x06 || oid != SPNEGO_OID {
        return None;
    }
    let (tag, init, _) = tlv(rest)?;
    if tag != 0xa0 {
        return None;
    }
    let (tag, mut seq, _) = tlv(init)?;
    if tag != 0x30 {
        return None;
    }
    let mut out = NegTokenInit {
        ntlm_first: false,
        ntlm_offered: false,
        first_mech: &[],
        mech_token: None,
    };
    let mut have_mechs = false;
    while !seq.is_empty() {
        let (tag, value, rest) = tlv(seq)?;
        seq = rest;
        match tag {
            0xa0 => {
                let (t, mut list, _) = tlv(value)?;
                if t != 0x30 {
                    return None;
                }
                let (t, first, _) = tlv(list)?;
                if t != 0x06 {
                    return None;
                }
                out.ntlm_first = first == NTLM_OID;
                out.first_mech = first;
                while !list.is_empty() {
                    let (t, mech, rest) = tlv(list)?;
                    if t != 0x06 {
                        return None;
                    }
                    out.ntlm_offered |= mech == NTLM_OID;
                    list = rest;
                }
                have_mechs = true;
            }
            0xa2 => {
                let (t, octets, _) = tlv(value)?;
                if t != 0x04 {
                    return None;
                }
                out.mech_token = Some(octets);
            }
            _ => {}
        }
    }
    have_mechs.then_some(out)
}

/// Parses `[1] NegTokenResp`.
pub(crate) fn parse_resp(token: &[u8]) -> Option<NegTokenResp<'_>> {
    let (tag, resp, rest) = tlv(token)?;
    if tag != 0xa1 || !rest.is_empty() {
        return None;
    }
    let (tag, mut seq, _) = tlv(resp)?;
    if tag != 0x30 {
        return None;
    }
    let mut out = NegTokenResp {
        neg_state: None,
        supported_mech: None,
        response_token: None,
        mech_list_mic: None,
    };
    while !seq.is_empty() {
        let (tag, value, rest) = tlv(seq)?;
        seq = rest;
        let (inner_tag, inner, _) = tlv(value)?;
        match (tag, inner_tag) {
            (0xa0, 0x0a) => out.neg_state = Some(*inner.first()?),
            (0xa1, 0x06) => out.supported_mech = Some(inner),
            (0xa2, 0x04) => out.response_token = Some(inner),
            (0xa3, 0x04) => out.mech_list_mic = Some(inner),
            _ => return None,
        }
    }
    Some(out)
}

/// Encodes a NegTokenResp.
pub(crate) fn encode_resp(resp: &NegTokenResp<'_>) -> Vec<u8> {
    let mut seq = Vec::new();
    if let Some(state) = resp.neg_state {
        seq.extend(wrap(0xa0, &wrap(0x0a, &[state])));
    }
    if let Some(mech) = resp.supported_mech {
        seq.extend(wrap(0xa1, &wrap(0x06, mech)));
    }
    if let Some(t) = resp.response_token {
        seq.extend(wrap(0xa2, &wrap(0x04, t)));
    }
    if let Some(m) = resp.mech_list_mic {
        seq.extend(wrap(0xa3, &wrap(0x04, m)));
    }
    wrap(0xa1, &wrap(0x30, &seq))
}

pub(crate) fn wrap(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// One DER TLV: (tag, content, rest). Single-byte tags, definite lengths up to 4 bytes.
pub(crate) fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let (bytes, after) = rest.split_at_checked(n)?;
        rest = after;
        bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
    };
    let (content, rest) = rest.split_at_checked(len)?;
    Some((tag, content, rest))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn resp_round_trip_and_neg_state_insertion() {
        let token = vec![0x4e; 300];
        let resp = NegTokenResp {
            neg_state: None,
            supported_mech: None,
            response_token: Some(&token),
            mech_list_mic: Some(&[1, 2, 3]),
        };
        let bytes = encode_resp(&resp);
        let parsed = parse_resp(&bytes).unwrap();
        assert_eq!(parsed.neg_state, None);
        assert_eq!(parsed.response_token, Some(token.as_slice()));
        assert_eq!(parsed.mech_list_mic, Some([1u8, 2, 3].as_slice()));
        let fixed = encode_resp(&NegTokenResp {
            neg_state: Some(ACCEPT_INCOMPLETE),
            ..parsed
        });
        assert_eq!(
            parse_resp(&fixed).unwrap().neg_state,
            Some(ACCEPT_INCOMPLETE)
        );
    }

    proptest! {
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_init(&bytes);
            let _ = parse_resp(&bytes);
        }
    }
}
