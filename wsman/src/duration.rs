//! `xs:duration` as WS-Management uses it (OperationTimeout, IdleTimeOut, ShellRunTime…).
//!
//! Values seen on the wire: `PT20S`, `PT5M0S`, `PT180.000S`, `PT7200.000S`, `P0DT0H0M9S`,
//! `P1DT2H`. Negative durations and calendar units (non-zero years or months, whose length
//! varies) are refused.

use std::time::Duration;

/// Why a duration did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration `{value}`: {reason}")]
pub struct InvalidDuration {
    /// The offending text (truncated to 64 characters).
    pub value: String,
    /// Why it was refused.
    pub reason: &'static str,
}

/// Parses an `xs:duration` into a [`Duration`].
///
/// # Errors
/// [`InvalidDuration`] for negative values, non-zero years or months, garbage, or overflow.
pub fn parse(text: &str) -> Result<Duration, InvalidDuration> {
    let err = |reason| InvalidDuration {
        value: crate::error::truncate(text),
        reason,
    };
    let s = text.trim();
    if s.starts_with('-') {
        return Err(err("negative durations are not allowed"));
    }
    let Some(rest) = s.strip_prefix('P') else {
        return Err(err("must start with `P`"));
    };
    if rest.is_empty() {
        return Err(err("no components"));
    }
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) => {
            if t.is_empty() {
                return Err(err("`T` without time components"));
            }
            (d, Some(t))
        }
        None => (rest, None),
    };
    let mut total_nanos: u128 = 0;
    let mut seen_any = false;
    let mut parse_part = |part: &str, units: &[(u8, u128)], allow_fraction_on: u8| {
        let mut order = 0usize;
        let mut num = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                num.push(c);
                continue;
            }
            let Ok(unit) = u8::try_from(c) else {
                return Err(err("unexpected character"));
            };
            let Some(idx) = units[order..].iter().position(|(u, _)| *u == unit) else {
                return Err(err("unexpected or misplaced unit"));
            };
            let (_, nanos_per) = units[order + idx];
            order += idx + 1;
            if num.is_empty() {
                return Err(err("unit without a number"));
            }
            let (int, frac) = match num.split_once('.') {
                Some((i, f)) => {
                    if unit != allow_fraction_on {
                        return Err(err("fractions only allowed on seconds"));
                    }
                    if f.contains('.') || (i.is_empty() && f.is_empty()) {
                        return Err(err("malformed number"));
                    }
                    (i, f)
                }
                None => (num.as_str(), ""),
            };
            let int: u128 = if int.is_empty() {
                0
            } else {
                int.parse().map_err(|_| err("number out of range"))?
            };
            if nanos_per == 0 {
                if int != 0 {
                    return Err(err("years and months are not supported"));
                }
            } else {
                total_nanos = int
                    .checked_mul(nanos_per)
                    .and_then(|v| total_nanos.checked_add(v))
                    .ok_or_else(|| err("number out of range"))?;
                if !frac.is_empty() {
                    let digits: String = frac.chars().take(9).collect();
                    let scale = 10u128.pow(9 - u32::try_from(digits.len()).unwrap_or(9));
                    let f: u128 = digits.parse().map_err(|_| err("malformed number"))?;
                    total_nanos += f * scale;
                }
            }
            num.clear();
            seen_any = true;
        }
        if !num.is_empty() {
            return Err(err("number without a unit"));
        }
        Ok(())
    };
    const S: u128 = 1_000_000_000;
    parse_part(date, &[(b'Y', 0), (b'M', 0), (b'D', 86_400 * S)], 0)?;
    if let Some(t) = time {
        parse_part(t, &[(b'H', 3600 * S), (b'M', 60 * S), (b'S', S)], b'S')?;
    }
    if !seen_any {
        return Err(err("no components"));
    }
    let secs = u64::try_from(total_nanos / S).map_err(|_| err("number out of range"))?;
    let nanos = u32::try_from(total_nanos % S).unwrap_or(0);
    Ok(Duration::new(secs, nanos))
}

/// Formats a duration compactly: `PT20S`, `PT1.5S`, `PT0S`.
pub fn format(d: Duration) -> String {
    let mut s = format!("PT{}", d.as_secs());
    let nanos = d.subsec_nanos();
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('S');
    s
}

/// Formats a duration in seconds with exactly three decimals, as the `rsp:Shell` element's
/// `IdleTimeOut` and `MaxIdleTimeOut` use: `PT7200.000S`, `PT2147483.647S` (PowerShell parses
/// that form).
///
/// Sub-millisecond precision, which Windows never sends, is kept with more digits so that a
/// decoded value always re-encodes losslessly.
pub fn format_shell(d: Duration) -> String {
    format!("PT{}.{}S", d.as_secs(), fraction(d, 3))
}

/// The fractional seconds with at least `min_digits` digits and no precision lost.
fn fraction(d: Duration, min_digits: usize) -> String {
    let digits = format!("{:09}", d.subsec_nanos());
    let trimmed = digits.trim_end_matches('0');
    digits[..trimmed.len().max(min_digits)].to_owned()
}

/// Formats a duration as days, hours, minutes and seconds, as `ShellRunTime` and
/// `ShellInactivity` appear: `P0DT0H0M9S`.
pub fn format_dhms(d: Duration) -> String {
    let total = d.as_secs();
    let (days, rem) = (total / 86_400, total % 86_400);
    let (hours, rem) = (rem / 3600, rem % 3600);
    let (minutes, seconds) = (rem / 60, rem % 60);
    if d.subsec_nanos() == 0 {
        format!("P{days}DT{hours}H{minutes}M{seconds}S")
    } else {
        format!("P{days}DT{hours}H{minutes}M{seconds}.{}S", fraction(d, 3))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_wire_forms() {
        assert_eq!(parse("PT20S"), Ok(Duration::from_secs(20)));
        assert_eq!(parse("PT5M0S"), Ok(Duration::from_secs(300)));
        assert_eq!(parse("PT180.000S"), Ok(Duration::from_secs(180)));
        assert_eq!(
            parse("PT2147483.647S"),
            Ok(Duration::from_millis(2_147_483_647))
        );
        assert_eq!(parse("P0DT0H0M9S"), Ok(Duration::from_secs(9)));
        assert_eq!(parse("P1DT2H"), Ok(Duration::from_secs(93_600)));
        assert_eq!(parse(" PT1.5S "), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("P0Y0M1D"), Ok(Duration::from_secs(86_400)));
    }

    #[test]
    fn refuses_garbage() {
        for bad in [
            "PT-1S",
            "-PT1S",
            "",
            "P",
            "PT",
            "20S",
            "PT1H2",
            "PTS",
            "P1Y",
            "P2M",
            "PT1.5M",
            "PT1..5S",
            "PT5S5M",
            "PT9999999999999999999999999999999999999999S",
            "P1S",
            "PTxS",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn formats() {
        assert_eq!(format(Duration::from_secs(20)), "PT20S");
        assert_eq!(format(Duration::from_millis(1500)), "PT1.5S");
        assert_eq!(format_shell(Duration::from_secs(7200)), "PT7200.000S");
        assert_eq!(
            format_shell(Duration::from_millis(2_147_483_647)),
            "PT2147483.647S"
        );
        assert_eq!(format_dhms(Duration::from_secs(93_609)), "P1DT2H0M9S");
        assert_eq!(
            format_shell(Duration::from_nanos(1_000_100_000)),
            "PT1.0001S"
        );
        for d in [0, 1, 999, 1000, 123_456_789, 1_000_100, 7] {
            let d = Duration::from_millis(d) + Duration::from_nanos(d % 3);
            assert_eq!(parse(&format(d)), Ok(d));
            assert_eq!(parse(&format_shell(d)), Ok(d));
            assert_eq!(parse(&format_dhms(d)), Ok(d));
        }
    }
}
