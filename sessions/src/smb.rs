//! Network (SMB) sessions to a Windows host (`NetSessionEnum` / `NetSessionGetInfo` /
//! `NetSessionDel`), through WinRS with `net session`.
//!
//! `net session` prints fixed-width rows under a header whose words depend on the host's
//! language; the parser relies on what does not: the dashed rule before the rows, the `\\`
//! computer name first, the open count and idle time last (`HH:MM:SS`, or `05D 22H 02M` past a
//! day), and the user and client type between them at the header's column positions.
//! `net session \\client` prints label/value lines in a fixed order (user name, computer, guest
//! logon, client type, session time, idle time) and then a share table; values are read by
//! position in that order, so localized labels work too.

use std::time::Duration;

use crate::rds::{ToolError, classify, command_line};
use crate::winrs::Shell;

pub use crate::rds::ParseError;

/// A row of `net session`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetSession {
    /// Client computer name or address, without `\\`.
    pub client: String,
    /// User name (empty for anonymous sessions).
    pub user: String,
    /// Client type (often empty on current Windows).
    pub client_type: String,
    /// Open files.
    pub opens: u32,
    /// Idle time.
    pub idle: Duration,
}

/// `net session \\client`: one session in detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetSessionInfo {
    /// User name.
    pub user: String,
    /// Client computer.
    pub client: String,
    /// Guest logon (the value as printed, `No` / `Yes` or their translation).
    pub guest_logon: String,
    /// Client type.
    pub client_type: String,
    /// Time since the session was established.
    pub session_time: Duration,
    /// Idle time.
    pub idle: Duration,
    /// Shares in use: (name, type, open count).
    pub shares: Vec<ShareUse>,
}

/// A share used by a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareUse {
    /// Share name (`IPC$`).
    pub name: String,
    /// Type (`IPC`, `Disk`).
    pub share_type: String,
    /// Open files on it.
    pub opens: u32,
}

/// Lists the sessions to the host (`net session`).
///
/// # Errors
///
/// [`ToolError`]: [`ToolError::AccessDenied`] without administrator rights.
pub async fn list(shell: &Shell) -> Result<Vec<NetSession>, ToolError> {
    let args = ["session"];
    let out = shell.exec("net", &args).await?;
    let command = command_line("net", &args);
    if out.exit_code.unwrap_or(0) != 0 {
        return Err(classify(&command, "*", &out));
    }
    parse_net_session(&out.stdout_text()).map_err(|source| ToolError::Parse { command, source })
}

/// The session from `client` (`net session \\client`).
///
/// # Errors
///
/// [`ToolError::NotFound`] when there is none; see [`list`].
pub async fn info(shell: &Shell, client: &str) -> Result<NetSessionInfo, ToolError> {
    let target = format!("\\\\{}", client.trim_start_matches('\\'));
    let args = ["session", target.as_str()];
    let out = shell.exec("net", &args).await?;
    let command = command_line("net", &args);
    if out.exit_code.unwrap_or(0) != 0 {
        return Err(classify(&command, client, &out));
    }
    parse_net_session_info(&out.stdout_text())
        .map_err(|source| ToolError::Parse { command, source })
}

/// Ends the sessions from `client` (`net session \\client /delete /y`); open files are closed.
///
/// # Errors
///
/// As [`info`].
pub async fn delete(shell: &Shell, client: &str) -> Result<(), ToolError> {
    let target = format!("\\\\{}", client.trim_start_matches('\\'));
    let args = ["session", target.as_str(), "/delete", "/y"];
    let out = shell.exec("net", &args).await?;
    if out.exit_code.unwrap_or(0) != 0 {
        return Err(classify(&command_line("net", &args), client, &out));
    }
    Ok(())
}

/// Parses `net session`. "There are no entries in the list." (no dashed rule) is an empty list.
///
/// # Errors
///
/// [`ParseError::BadRow`] for a row without a computer, open count or idle time.
pub fn parse_net_session(text: &str) -> Result<Vec<NetSession>, ParseError> {
    let lines: Vec<&str> = text.lines().collect();
    let Some(rule) = lines.iter().position(|l| is_rule(l)) else {
        return Ok(Vec::new());
    };
    let header = lines
        .get(..rule)
        .unwrap_or_default()
        .iter()
        .rev()
        .find(|l| !l.trim().is_empty())
        .copied()
        .unwrap_or_default();
    let cols = header_columns(header);
    let c_user = cols.get(1).copied().unwrap_or(23);
    let c_type = cols.get(2).copied().unwrap_or(44);
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate().skip(rule + 1) {
        if !line.starts_with("\\\\") {
            continue;
        }
        let bad = |reason| ParseError::BadRow {
            line: i + 1,
            reason,
        };
        let row: Vec<char> = line.trim_end().chars().collect();
        let words: Vec<&str> = line.split_whitespace().collect();
        let client = words
            .first()
            .ok_or(bad("no computer"))?
            .trim_start_matches('\\')
            .to_owned();
        // Idle time: `HH:MM:SS` (one word) or `05D 22H 02M` (three).
        let (idle, idle_words) = match words.as_slice() {
            [.., d, h, m] if d.ends_with('D') && h.ends_with('H') && m.ends_with('M') => {
                (parse_dhm(d, h, m).ok_or(bad("bad idle time"))?, 3)
            }
            [.., t] => (parse_hms(t).ok_or(bad("bad idle time"))?, 1),
            [] => return Err(bad("empty row")),
        };
        let opens_word = words
            .len()
            .checked_sub(idle_words + 1)
            .and_then(|k| words.get(k))
            .ok_or(bad("no open count"))?;
        let opens = opens_word.parse().map_err(|_| bad("bad open count"))?;
        // The open count's position bounds the middle columns.
        let opens_start = find_word_before_end(&row, idle_words + 1);
        let user_end = c_type.min(opens_start);
        let client_width = words.first().map_or(0, |w| w.chars().count());
        let user_start = c_user.max(client_width + 1).min(opens_start);
        out.push(NetSession {
            client,
            user: slice(&row, user_start, user_end).trim().to_owned(),
            client_type: slice(&row, user_end.max(user_start), opens_start)
                .trim()
                .to_owned(),
            opens,
            idle,
        });
    }
    Ok(out)
}

/// Parses `net session \\client`.
///
/// # Errors
///
/// [`ParseError::BadRow`] when the six label lines are not there.
pub fn parse_net_session_info(text: &str) -> Result<NetSessionInfo, ParseError> {
    let lines: Vec<&str> = text.lines().collect();
    // The first six non-empty lines: label, two or more spaces (or end), value.
    let mut values = Vec::new();
    let mut idx = 0;
    while values.len() < 6 {
        let Some(line) = lines.get(idx) else {
            return Err(ParseError::BadRow {
                line: idx + 1,
                reason: "missing session field",
            });
        };
        idx += 1;
        if line.trim().is_empty() {
            continue;
        }
        values.push(label_value(line));
    }
    let get = |k: usize| values.get(k).cloned().unwrap_or_default();
    let bad_time = ParseError::BadRow {
        line: idx,
        reason: "bad session or idle time",
    };
    let session_time = parse_net_time(&get(4)).ok_or(bad_time.clone())?;
    let idle = parse_net_time(&get(5)).ok_or(bad_time)?;
    let mut shares = Vec::new();
    if let Some(rule) = lines.iter().position(|l| is_rule(l)) {
        for line in lines.iter().skip(rule + 1) {
            let w: Vec<&str> = line.split_whitespace().collect();
            if let [name, kind, opens] = w.as_slice()
                && let Ok(opens) = opens.parse()
            {
                shares.push(ShareUse {
                    name: (*name).to_owned(),
                    share_type: (*kind).to_owned(),
                    opens,
                });
            }
        }
    }
    Ok(NetSessionInfo {
        user: get(0),
        client: get(1).trim_start_matches('\\').to_owned(),
        guest_logon: get(2),
        client_type: get(3),
        session_time,
        idle,
        shares,
    })
}

/// A `net` duration: `HH:MM:SS` or `05D 22H 02M`.
pub fn parse_net_time(s: &str) -> Option<Duration> {
    let w: Vec<&str> = s.split_whitespace().collect();
    match w.as_slice() {
        [t] => parse_hms(t),
        [d, h, m] => parse_dhm(d, h, m),
        _ => None,
    }
}

fn parse_hms(t: &str) -> Option<Duration> {
    let p: Vec<u64> = t
        .split(':')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, s] = p.as_slice() else {
        return None;
    };
    Some(Duration::from_secs(h * 3600 + m * 60 + s))
}

fn parse_dhm(d: &str, h: &str, m: &str) -> Option<Duration> {
    let n = |s: &str, suffix: char| s.strip_suffix(suffix)?.parse::<u64>().ok();
    Some(Duration::from_secs(
        n(d, 'D')? * 86_400 + n(h, 'H')? * 3600 + n(m, 'M')? * 60,
    ))
}

fn label_value(line: &str) -> String {
    let t = line.trim_end();
    // The value starts after the first run of two or more spaces.
    match t.find("  ") {
        Some(i) => t.get(i..).unwrap_or_default().trim().to_owned(),
        None => String::new(),
    }
}

fn is_rule(line: &str) -> bool {
    let t = line.trim();
    t.len() >= 10 && t.chars().all(|c| c == '-')
}

/// Start positions of header labels separated by two or more spaces; a label followed by a
/// single space and a lowercase word (`User name`) stays one label, while `Type       Opens Idle`
/// keeps `Opens` apart only when two spaces separate it.
fn header_columns(header: &str) -> Vec<usize> {
    let chars: Vec<char> = header.chars().collect();
    let mut starts = Vec::new();
    let mut spaces = 2;
    for (j, c) in chars.iter().enumerate() {
        if c.is_whitespace() {
            spaces += 1;
        } else {
            if spaces >= 2 {
                starts.push(j);
            }
            spaces = 0;
        }
    }
    starts
}

/// Char index where the `n`-th word from the end of `row` starts (1 = last word).
fn find_word_before_end(row: &[char], n: usize) -> usize {
    let mut pos = row.len();
    let mut start = pos;
    for _ in 0..n {
        while pos > 0 && row.get(pos - 1).is_some_and(|c| c.is_whitespace()) {
            pos -= 1;
        }
        while pos > 0 && row.get(pos - 1).is_some_and(|c| !c.is_whitespace()) {
            pos -= 1;
        }
        start = pos;
    }
    start
}

fn slice(row: &[char], from: usize, to: usize) -> String {
    if from >= to {
        return String::new();
    }
    row.get(from.min(row.len())..to.min(row.len()))
        .unwrap_or_default()
        .iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_net_time("00:00:07"), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_net_time("05D 22H 02M"),
            Some(Duration::from_secs(5 * 86_400 + 22 * 3600 + 120))
        );
        assert_eq!(parse_net_time("soon"), None);
    }

    #[test]
    fn empty_list() {
        assert_eq!(
            parse_net_session("There are no entries in the list.\r\n\r\n"),
            Ok(Vec::new())
        );
    }
}
