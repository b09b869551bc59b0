//! `sessions::rds` and `sessions::smb` parsers on hand-written samples of Windows' output
//! (`fixtures/windows-output/`, English, German and French), plus the emulator's own output.

use std::path::PathBuf;
use std::time::Duration;

use sessions::rds::{
    LogonTime, SessionState, parse_query_session, parse_query_user, tool_error_code,
};
use sessions::smb::{parse_net_session, parse_net_session_info};

fn sample(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/windows-output")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn query_session_english() {
    let rows = parse_query_session(&sample("query-session.en.txt")).unwrap();
    let view: Vec<(&str, &str, u32, &str, bool)> = rows
        .iter()
        .map(|r| {
            (
                r.name.as_str(),
                r.user.as_str(),
                r.id,
                r.state.as_str(),
                r.current,
            )
        })
        .collect();
    assert_eq!(
        view,
        vec![
            ("services", "", 0, "Disc", true),
            ("console", "Administrator", 1, "Active", false),
            ("rdp-tcp#6", "bob", 2, "Active", false),
            ("", "carol", 3, "Disc", false),
            ("rdp-tcp#12", "Jane Doe", 12, "Active", false),
            ("rdp-tcp", "", 65536, "Listen", false),
        ]
    );
    assert_eq!(rows[4].session_type, "rdpwd");
    assert_eq!(rows[3].state, SessionState::Disconnected);
}

#[test]
fn query_session_german_and_french() {
    for (file, admin) in [
        ("query-session.de.txt", "Administrator"),
        ("query-session.fr.txt", "Administrateur"),
    ] {
        let rows = parse_query_session(&sample(file)).unwrap();
        let view: Vec<(&str, &str, u32, SessionState)> = rows
            .iter()
            .map(|r| (r.name.as_str(), r.user.as_str(), r.id, r.state.clone()))
            .collect();
        assert_eq!(
            view,
            vec![
                ("services", "", 0, SessionState::Disconnected),
                ("console", admin, 1, SessionState::Active),
                ("rdp-tcp#6", "bob", 2, SessionState::Active),
                ("", "carol", 3, SessionState::Disconnected),
                ("rdp-tcp", "", 65536, SessionState::Listen),
            ],
            "{file}"
        );
        assert!(rows[0].current);
    }
}

#[test]
fn query_user_english() {
    let rows = parse_query_user(&sample("query-user.en.txt")).unwrap();
    assert_eq!(rows.len(), 4);
    let admin = &rows[0];
    assert!(admin.current);
    assert_eq!(
        (admin.user.as_str(), admin.session_name.as_str(), admin.id),
        ("administrator", "console", 1)
    );
    assert_eq!(admin.idle, None, "`none`");
    assert_eq!(admin.idle_text, "none");
    assert_eq!(
        admin.logon_time,
        Some(LogonTime {
            year: 2026,
            month: 11,
            day: 22,
            hour: 7,
            minute: 58
        })
    );
    assert_eq!(rows[1].idle, Some(Duration::ZERO), "`.`");
    let carol = &rows[2];
    assert_eq!((carol.session_name.as_str(), carol.id), ("", 3));
    assert_eq!(carol.state, SessionState::Disconnected);
    assert_eq!(carol.idle, Some(Duration::from_secs((26 * 60 + 3) * 60)));
    assert_eq!(carol.logon_time.map(|t| t.hour), Some(16));
    let jane = &rows[3];
    assert_eq!(
        (jane.user.as_str(), jane.session_name.as_str(), jane.id),
        ("Jane Doe", "rdp-tcp#12", 12)
    );
    assert_eq!(jane.idle, Some(Duration::from_secs(65 * 60)));
    assert_eq!(jane.logon_time.map(|t| (t.hour, t.minute)), Some((12, 5)));
}

#[test]
fn query_user_german_and_french() {
    let de = parse_query_user(&sample("query-user.de.txt")).unwrap();
    assert_eq!(de.len(), 3);
    assert_eq!(de[0].idle, None, "`Kein`");
    assert_eq!(de[2].state, SessionState::Disconnected);
    assert_eq!(
        de[2].logon_time,
        Some(LogonTime {
            year: 2026,
            month: 11,
            day: 21,
            hour: 16,
            minute: 40
        })
    );
    let fr = parse_query_user(&sample("query-user.fr.txt")).unwrap();
    assert_eq!(fr.len(), 2);
    assert_eq!(
        (fr[0].user.as_str(), fr[0].session_name.as_str()),
        ("bob", "rdp-tcp#6")
    );
    assert_eq!(fr[0].state, SessionState::Active);
    assert_eq!(fr[1].idle, Some(Duration::from_secs(65 * 60)));
    assert_eq!(
        fr[1].logon_time,
        Some(LogonTime {
            year: 2026,
            month: 11,
            day: 21,
            hour: 16,
            minute: 40
        })
    );
}

#[test]
fn net_session_english_and_german() {
    for file in ["net-session.en.txt", "net-session.de.txt"] {
        let rows = parse_net_session(&sample(file)).unwrap();
        let bob = &rows[0];
        assert_eq!(
            (bob.client.as_str(), bob.user.as_str(), bob.opens),
            ("10.0.0.7", "bob", 3),
            "{file}"
        );
        assert_eq!(bob.idle, Duration::from_secs(600));
        let ws = rows.last().unwrap();
        assert_eq!(
            (ws.client.as_str(), ws.user.as_str(), ws.opens),
            ("WS-0042", "carol", 0)
        );
        assert_eq!(ws.idle, Duration::from_secs(5 * 86_400 + 22 * 3600 + 120));
    }
    let en = parse_net_session(&sample("net-session.en.txt")).unwrap();
    assert_eq!(en.len(), 3);
    assert_eq!(
        (en[1].user.as_str(), en[1].client_type.as_str()),
        ("", "posix")
    );
    assert!(
        parse_net_session(&sample("net-session-empty.en.txt"))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn net_session_detail_english_and_german() {
    let en = parse_net_session_info(&sample("net-session-client.en.txt")).unwrap();
    assert_eq!(
        (
            en.user.as_str(),
            en.client.as_str(),
            en.guest_logon.as_str()
        ),
        ("bob", "10.0.0.7", "No")
    );
    assert_eq!(en.session_time, Duration::from_secs(15 * 60 + 32));
    assert_eq!(en.idle, Duration::from_secs(600));
    assert_eq!(en.shares.len(), 2);
    assert_eq!(en.shares[1].opens, 3);
    let de = parse_net_session_info(&sample("net-session-client.de.txt")).unwrap();
    assert_eq!((de.user.as_str(), de.guest_logon.as_str()), ("bob", "Nein"));
    assert_eq!(
        de.session_time,
        Duration::from_secs(86_400 + 2 * 3600 + 180)
    );
}

#[test]
fn error_samples_carry_their_codes() {
    assert_eq!(
        tool_error_code(&sample("reset-session-access-denied.en.stderr.txt")),
        Some(5)
    );
    assert_eq!(
        tool_error_code(&sample("logoff-access-denied.en.stderr.txt")),
        Some(5)
    );
    assert_eq!(
        sessions::rds::net_error_code(&sample("net-session-access-denied.en.stderr.txt")),
        Some(5)
    );
    assert_eq!(
        sessions::rds::net_error_code(&sample("net-session-not-found.en.stderr.txt")),
        Some(2312)
    );
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    assert!(parse_query_session("").is_err());
    assert!(parse_query_user("hello\r\nworld").is_err());
    let bad = " SESSIONNAME       USERNAME                 ID  STATE   TYPE        DEVICE\r\n services   nope\r\n";
    assert!(parse_query_session(bad).is_err());
    for cut in 0..sample("query-user.en.txt").len() {
        let s = sample("query-user.en.txt");
        if let Some(prefix) = s.get(..cut) {
            let _ = parse_query_user(prefix);
            let _ = parse_query_session(prefix);
            let _ = parse_net_session(prefix);
            let _ = parse_net_session_info(prefix);
        }
    }
}

#[test]
fn quser_variants_with_wider_gaps_and_no_marker_column_content() {
    // Some builds leave three spaces before LOGON TIME; the row follows the header.
    let text = " USERNAME              SESSIONNAME        ID  STATE   IDLE TIME   LOGON TIME\r\n student               console             1  Active          .   7/2/2024 7:34 AM\r\n>operator              rdp-tcp#3           4  Active         12   7/2/2024 10:01 AM\r\n";
    let rows = parse_query_user(text).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[0].user.as_str(), rows[0].id), ("student", 1));
    assert_eq!(rows[0].logon_time_text, "7/2/2024 7:34 AM");
    assert_eq!(
        rows[0].logon_time,
        Some(LogonTime {
            year: 2024,
            month: 7,
            day: 2,
            hour: 7,
            minute: 34
        })
    );
    assert!(rows[1].current);
    assert_eq!(rows[1].idle, Some(Duration::from_secs(12 * 60)));
}
