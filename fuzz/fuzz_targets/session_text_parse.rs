//! The client's parsers of `query session`, `query user` and `net session` output (text a
//! server sends back): never panic, whatever the text. The first byte picks the parser.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    match which % 7 {
        0 => drop(sessions::rds::parse_query_session(&text)),
        1 => drop(sessions::rds::parse_query_user(&text)),
        2 => drop(sessions::rds::parse_idle(&text)),
        3 => drop(sessions::rds::parse_logon_time(&text)),
        4 => drop(sessions::smb::parse_net_session(&text)),
        5 => drop(sessions::smb::parse_net_session_info(&text)),
        _ => drop(sessions::smb::parse_net_time(&text)),
    }
});
