//! Hand-rolled civil-date math for `System.DateTime` and `System.TimeSpan` (no date crate: the
//! engine only needs ticks, a UTC offset, field access and a few fixed formats).

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// Ticks (100 ns) per second.
pub const TICKS_PER_SECOND: i64 = 10_000_000;
const TICKS_PER_DAY: i64 = TICKS_PER_SECOND * 86_400;
/// .NET ticks at 1970-01-01T00:00:00.
const UNIX_EPOCH_TICKS: i64 = 621_355_968_000_000_000;

/// A `System.DateTime`: local ticks since 0001-01-01 plus the UTC offset they are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DateTime {
    /// Ticks of the local (offset-applied) time since 0001-01-01T00:00:00.
    pub ticks: i64,
    /// Offset from UTC in minutes.
    pub offset_minutes: i32,
}

impl DateTime {
    /// From a `SystemTime` and the offset to present it in.
    pub fn from_system_time(t: SystemTime, offset_minutes: i32) -> Self {
        let nanos: i128 = match t.duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_nanos() as i128,
            Err(e) => -(e.duration().as_nanos() as i128),
        };
        let ticks = UNIX_EPOCH_TICKS
            + (nanos / 100) as i64
            + i64::from(offset_minutes) * 60 * TICKS_PER_SECOND;
        Self {
            ticks,
            offset_minutes,
        }
    }

    /// From civil fields (in the given offset).
    pub fn from_civil(
        y: i64,
        mo: u32,
        d: u32,
        h: u32,
        mi: u32,
        s: u32,
        offset_minutes: i32,
    ) -> Self {
        let days = days_from_civil(y, mo, d) + UNIX_EPOCH_TICKS / TICKS_PER_DAY;
        let ticks = days * TICKS_PER_DAY
            + (i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s)) * TICKS_PER_SECOND;
        Self {
            ticks,
            offset_minutes,
        }
    }

    /// (year, month, day).
    pub fn date(&self) -> (i64, u32, u32) {
        civil_from_days(self.ticks.div_euclid(TICKS_PER_DAY) - UNIX_EPOCH_TICKS / TICKS_PER_DAY)
    }

    /// (hour, minute, second, millisecond).
    pub fn time_of_day(&self) -> (u32, u32, u32, u32) {
        let t = self.ticks.rem_euclid(TICKS_PER_DAY);
        let secs = t / TICKS_PER_SECOND;
        (
            (secs / 3600) as u32,
            (secs / 60 % 60) as u32,
            (secs % 60) as u32,
            (t % TICKS_PER_SECOND / 10_000) as u32,
        )
    }

    /// 0 = Sunday.
    pub fn day_of_week(&self) -> u32 {
        // 0001-01-01 was a Monday.
        ((self.ticks.div_euclid(TICKS_PER_DAY) + 1).rem_euclid(7)) as u32
    }

    /// Day of the year, 1-based.
    pub fn day_of_year(&self) -> u32 {
        let (y, _, _) = self.date();
        let jan1 = days_from_civil(y, 1, 1) + UNIX_EPOCH_TICKS / TICKS_PER_DAY;
        (self.ticks.div_euclid(TICKS_PER_DAY) - jan1 + 1) as u32
    }

    /// Adds ticks.
    #[must_use]
    pub fn add_ticks(&self, ticks: i64) -> Self {
        Self {
            ticks: self.ticks.saturating_add(ticks),
            offset_minutes: self.offset_minutes,
        }
    }

    /// `AddMonths`: the day is clamped to the length of the target month; the time of day is
    /// kept.
    #[must_use]
    pub fn add_months(&self, months: i64) -> Self {
        let (y, m, d) = self.date();
        let total = y * 12 + i64::from(m) - 1 + months;
        let (ny, nm) = (total.div_euclid(12), total.rem_euclid(12) as u32 + 1);
        let nd = d.min(days_in_month(ny, nm));
        let time_of_day = self.ticks.rem_euclid(TICKS_PER_DAY);
        let midnight = Self::from_civil(ny, nm, nd, 0, 0, 0, self.offset_minutes);
        midnight.add_ticks(time_of_day)
    }

    /// The same instant in UTC.
    #[must_use]
    pub fn to_utc(&self) -> Self {
        Self {
            ticks: self.ticks - i64::from(self.offset_minutes) * 60 * TICKS_PER_SECOND,
            offset_minutes: 0,
        }
    }

    /// en-US `ToString()`: `11/22/2026 4:40:45 PM`.
    pub fn to_default_string(&self) -> String {
        let (y, mo, d) = self.date();
        let (h, mi, s, _) = self.time_of_day();
        let (h12, ampm) = to_12h(h);
        format!("{mo}/{d}/{y} {h12}:{mi:02}:{s:02} {ampm}")
    }

    /// What `Get-Date` prints: `Sunday, November 22, 2026 4:40:45 PM`.
    pub fn to_long_string(&self) -> String {
        let (y, mo, d) = self.date();
        let (h, mi, s, _) = self.time_of_day();
        let (h12, ampm) = to_12h(h);
        format!(
            "{}, {} {d}, {y} {h12}:{mi:02}:{s:02} {ampm}",
            DAY_NAMES.get(self.day_of_week() as usize).unwrap_or(&""),
            MONTH_NAMES.get(mo as usize - 1).unwrap_or(&""),
        )
    }

    /// ISO 8601 with seven fractional digits and the offset, as CLIXML's `<DT>` holds it.
    pub fn to_iso(&self) -> String {
        let (y, mo, d) = self.date();
        let (h, mi, s, _) = self.time_of_day();
        let frac = self.ticks.rem_euclid(TICKS_PER_SECOND);
        let off = self.offset_minutes;
        let sign = if off < 0 { '-' } else { '+' };
        format!(
            "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{frac:07}{sign}{:02}:{:02}",
            off.abs() / 60,
            off.abs() % 60
        )
    }

    /// A small subset of .NET custom formats (`yyyy MM dd HH hh mm ss fff tt`) plus `o`, `s`, `u`.
    pub fn format(&self, fmt: &str) -> String {
        match fmt {
            "o" | "O" => return self.to_iso(),
            "s" => return self.format("yyyy-MM-ddTHH:mm:ss"),
            "u" => return self.to_utc().format("yyyy-MM-dd HH:mm:ssZ"),
            "d" => return self.format("M/d/yyyy"),
            _ => {}
        }
        let (y, mo, d) = self.date();
        let (h, mi, s, ms) = self.time_of_day();
        let chars: Vec<char> = fmt.chars().collect();
        let mut out = String::new();
        let mut i = 0;
        while let Some(&c) = chars.get(i) {
            let mut n = 1;
            while chars.get(i + n) == Some(&c) {
                n += 1;
            }
            let piece = match (c, n) {
                ('y', 4..) => format!("{y:04}"),
                ('y', _) => format!("{:02}", y % 100),
                ('M', 4..) => MONTH_NAMES.get(mo as usize - 1).unwrap_or(&"").to_string(),
                ('M', 3) => MONTH_NAMES
                    .get(mo as usize - 1)
                    .unwrap_or(&"")
                    .chars()
                    .take(3)
                    .collect(),
                ('M', 2) => format!("{mo:02}"),
                ('M', _) => mo.to_string(),
                ('d', 4..) => DAY_NAMES
                    .get(self.day_of_week() as usize)
                    .unwrap_or(&"")
                    .to_string(),
                ('d', 3) => DAY_NAMES
                    .get(self.day_of_week() as usize)
                    .unwrap_or(&"")
                    .chars()
                    .take(3)
                    .collect(),
                ('d', 2) => format!("{d:02}"),
                ('d', _) => d.to_string(),
                ('H', 2..) => format!("{h:02}"),
                ('H', _) => h.to_string(),
                ('h', 2..) => format!("{:02}", to_12h(h).0),
                ('h', _) => to_12h(h).0.to_string(),
                ('m', 2..) => format!("{mi:02}"),
                ('m', _) => mi.to_string(),
                ('s', 2..) => format!("{s:02}"),
                ('s', _) => s.to_string(),
                ('f', k) => format!("{:07}", self.ticks.rem_euclid(TICKS_PER_SECOND))
                    .chars()
                    .take(k)
                    .collect(),
                ('t', 2..) => to_12h(h).1.to_owned(),
                ('t', _) => to_12h(h).1.chars().take(1).collect(),
                _ => {
                    let _ = ms;
                    std::iter::repeat_n(c, n).collect()
                }
            };
            out.push_str(&piece);
            i += n;
        }
        out
    }

    /// Parses `yyyy-MM-dd[THH:mm:ss[.fffffff]][Z|±hh:mm]` or `M/d/yyyy [h:mm:ss [AM|PM]]`.
    pub fn parse(s: &str, default_offset: i32) -> Option<Self> {
        let s = s.trim();
        if let Some((date, rest)) = split_date(s) {
            let mut it = date.split(['-', '/']);
            let a: i64 = it.next()?.parse().ok()?;
            let b: u32 = it.next()?.parse().ok()?;
            let c: i64 = it.next()?.parse().ok()?;
            let (y, mo, d) = if date.contains('-') {
                (a, b, c as u32)
            } else {
                (c, a as u32, b)
            };
            if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || !(1..=9999).contains(&y) {
                return None;
            }
            let mut dt = Self::from_civil(y, mo, d, 0, 0, 0, default_offset);
            let rest = rest.trim();
            if rest.is_empty() {
                return Some(dt);
            }
            let (rest, offset) = if let Some(r) = rest.strip_suffix('Z') {
                (r, Some(0))
            } else if let Some(pos) = rest.rfind(['+', '-']).filter(|p| *p >= 5) {
                let (t, o) = rest.split_at(pos);
                let sign = if o.starts_with('-') { -1 } else { 1 };
                let (oh, om) = o.get(1..)?.split_once(':').unwrap_or((o.get(1..)?, "0"));
                (
                    t,
                    Some(sign * (oh.parse::<i32>().ok()? * 60 + om.parse::<i32>().ok()?)),
                )
            } else {
                (rest, None)
            };
            let (time, ampm) = match rest.trim().rsplit_once(' ') {
                Some((t, p)) if p.eq_ignore_ascii_case("AM") || p.eq_ignore_ascii_case("PM") => {
                    (t, Some(p.to_ascii_uppercase()))
                }
                _ => (rest.trim(), None),
            };
            let mut parts = time.split(':');
            let mut h: u32 = parts.next()?.parse().ok()?;
            let mi: u32 = parts.next().map_or(Some(0), |p| p.parse().ok())?;
            if h > 23 || mi > 59 {
                return None;
            }
            let sec = parts.next().unwrap_or("0");
            let (sec, frac) = sec.split_once('.').unwrap_or((sec, ""));
            let sec: u32 = sec.parse().ok()?;
            match ampm.as_deref() {
                Some("PM") if h < 12 => h += 12,
                Some("AM") if h == 12 => h = 0,
                _ => {}
            }
            let frac_ticks: i64 = format!("{frac:0<7}").get(..7)?.parse().ok()?;
            dt = Self::from_civil(y, mo, d, h, mi, sec, default_offset).add_ticks(frac_ticks);
            if let Some(off) = offset {
                let utc = dt.ticks - i64::from(off) * 60 * TICKS_PER_SECOND;
                dt = Self {
                    ticks: utc + i64::from(default_offset) * 60 * TICKS_PER_SECOND,
                    offset_minutes: default_offset,
                };
            }
            return Some(dt);
        }
        None
    }
}

fn split_date(s: &str) -> Option<(&str, &str)> {
    let end = s.find(['T', ' ']).unwrap_or(s.len());
    let (date, rest) = s.split_at(end);
    if date.chars().filter(|c| *c == '-' || *c == '/').count() != 2 {
        return None;
    }
    Some((date, rest.strip_prefix('T').unwrap_or(rest)))
}

fn to_12h(h: u32) -> (u32, &'static str) {
    let ampm = if h < 12 { "AM" } else { "PM" };
    let h12 = match h % 12 {
        0 => 12,
        x => x,
    };
    (h12, ampm)
}

const DAY_NAMES: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const MONTH_NAMES: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: u32) -> u32 {
    let (ny, nm) = if m >= 12 { (y + 1, 1) } else { (y, m + 1) };
    (days_from_civil(ny, nm, 1) - days_from_civil(y, m, 1)) as u32
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A `System.TimeSpan` in ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimeSpan {
    /// 100 ns ticks.
    pub ticks: i64,
}

impl TimeSpan {
    /// Total seconds as f64.
    pub fn total_seconds(&self) -> f64 {
        self.ticks as f64 / TICKS_PER_SECOND as f64
    }
}

impl fmt::Display for TimeSpan {
    /// `[-][d.]hh:mm:ss[.fffffff]`, as .NET's constant format.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let neg = self.ticks < 0;
        let t = self.ticks.unsigned_abs();
        let tps = TICKS_PER_SECOND as u64;
        let secs = t / tps;
        let frac = t % tps;
        let days = secs / 86_400;
        if neg {
            f.write_str("-")?;
        }
        if days > 0 {
            write!(f, "{days}.")?;
        }
        write!(
            f,
            "{:02}:{:02}:{:02}",
            secs / 3600 % 24,
            secs / 60 % 60,
            secs % 60
        )?;
        if frac > 0 {
            write!(f, ".{frac:07}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        let dt = DateTime::from_civil(2026, 11, 22, 16, 40, 45, 0);
        assert_eq!(dt.date(), (2026, 11, 22));
        assert_eq!(dt.time_of_day(), (16, 40, 45, 0));
        assert_eq!(dt.day_of_week(), 0);
        assert_eq!(dt.to_default_string(), "11/22/2026 4:40:45 PM");
        assert_eq!(dt.to_long_string(), "Sunday, November 22, 2026 4:40:45 PM");
        assert_eq!(dt.to_iso(), "2026-11-22T16:40:45.0000000+00:00");
        assert_eq!(dt.format("yyyy-MM-dd HH:mm"), "2026-11-22 16:40");
        let unix = DateTime::from_system_time(UNIX_EPOCH, 0);
        assert_eq!(unix.date(), (1970, 1, 1));
        assert_eq!(DateTime::parse("2026-11-22T16:40:45", 0), Some(dt));
        assert_eq!(DateTime::parse("11/22/2026 4:40:45 PM", 0), Some(dt));
    }

    #[test]
    fn timespan_format() {
        assert_eq!(
            TimeSpan {
                ticks: 90 * TICKS_PER_SECOND
            }
            .to_string(),
            "00:01:30"
        );
        assert_eq!(
            TimeSpan {
                ticks: 86_400 * TICKS_PER_SECOND + 5
            }
            .to_string(),
            "1.00:00:00.0000005"
        );
    }
}
