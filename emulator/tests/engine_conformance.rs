//! Table-driven conformance of the PowerShell subset against Windows PowerShell 5.1 behaviour:
//! every case of `conformance_cases` through the engine directly (a sample of them also runs
//! end to end through pypsrp in `interop_conformance.rs`).

mod conformance_cases;

use conformance_cases::{CASES, End, SESSIONS};
use emulator::engine::{CollectingHost, PipelineState, Runspace, StreamRecord, Value};

fn render(r: &StreamRecord) -> Option<String> {
    Some(match r {
        StreamRecord::Output(_) => return None,
        StreamRecord::Error(e) => format!("E:{}:{}", e.exception_name(), e.category.name()),
        StreamRecord::Warning(w) => format!("W:{w}"),
        StreamRecord::Verbose(w) => format!("V:{w}"),
        StreamRecord::Debug(w) => format!("D:{w}"),
        StreamRecord::Information(i) if i.is_host() => format!("H:{}", i.text()),
        StreamRecord::Information(i) => format!("I:{}", i.text()),
        StreamRecord::Progress(p) => format!("P:{}", p.activity),
        other => format!("?:{other:?}"),
    })
}

#[test]
fn conformance_table() {
    assert!(CASES.len() >= 150, "only {} cases", CASES.len());
    let sample = CASES.iter().filter(|c| c.psrp).count();
    assert!(sample >= 25, "only {sample} cases in the pypsrp sample");
    let mut failures = Vec::new();
    for case in CASES {
        let mut rs = Runspace::new(Default::default());
        let host = CollectingHost::new();
        let outcome = rs.run_script(case.script, None, &host);
        let records = host.drain();
        let out: Vec<String> = records
            .iter()
            .filter_map(|r| match r {
                StreamRecord::Output(v) => Some(v.to_string()),
                _ => None,
            })
            .collect();
        let streams: Vec<String> = records.iter().filter_map(render).collect();
        let end_ok = match (&case.end, &outcome.state, outcome.exit_code) {
            (End::Ok, PipelineState::Completed, None) => true,
            (End::Exit(c), PipelineState::Completed, Some(x)) => *c == x,
            (End::Fail(exc, cat), PipelineState::Failed(rec), _) => {
                rec.exception_name() == *exc && rec.category.name() == *cat
            }
            _ => false,
        };
        if out != case.out || streams != case.streams || !end_ok {
            failures.push(format!(
                "{:?}\n   out: {:?} (want {:?})\n   streams: {:?} (want {:?})\n   end: {:?} exit {:?} (want {:?})",
                case.script, out, case.out, streams, case.streams, outcome.state, outcome.exit_code, case.end
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

#[test]
fn command_not_found_has_powershell_message_and_target() {
    let mut rs = Runspace::new(Default::default());
    let host = CollectingHost::new();
    rs.run_script("nosuch-thing", None, &host);
    let recs = host.drain();
    let Some(StreamRecord::Error(e)) = recs.first() else {
        panic!("no error record: {recs:?}")
    };
    assert_eq!(
        e.message,
        "The term 'nosuch-thing' is not recognized as the name of a cmdlet, function, script file, or operable program. Check the spelling of the name, or if a path was included, verify that the path is correct and try again."
    );
    assert_eq!(
        e.exception_type,
        "System.Management.Automation.CommandNotFoundException"
    );
    assert_eq!(e.fully_qualified_error_id, "CommandNotFoundException");
    assert_eq!(
        e.category_info(),
        "ObjectNotFound: (nosuch-thing:String) [], CommandNotFoundException"
    );
    let pos = e.position.as_ref().expect("position");
    assert_eq!((pos.line, pos.column, pos.length), (1, 1, 12));
}

#[test]
fn variables_and_functions_persist_across_pipelines() {
    let mut rs = Runspace::new(Default::default());
    let host = CollectingHost::new();
    rs.run_script(
        "$counter = 41; function bump { $global:counter++ }",
        None,
        &host,
    );
    rs.run_script("bump", None, &host);
    let o = rs.run_script("$counter", None, &host);
    assert_eq!(o.state, PipelineState::Completed);
    let out: Vec<_> = host
        .drain()
        .into_iter()
        .filter_map(|r| {
            if let StreamRecord::Output(v) = r {
                Some(v)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(out, vec![Value::Int(42)]);
    assert_eq!(rs.variable("counter"), Some(Value::Int(42)));
}

#[test]
fn outputs_keep_their_types() {
    let mut rs = Runspace::new(Default::default());
    let host = CollectingHost::new();
    rs.run_script(
        "1; 'two'; 3.5; $true; [pscustomobject]@{Name='n'; Id=7}; @{k='v'}; [datetime]'2024-01-01'",
        None,
        &host,
    );
    let out: Vec<_> = host
        .drain()
        .into_iter()
        .filter_map(|r| {
            if let StreamRecord::Output(v) = r {
                Some(v)
            } else {
                None
            }
        })
        .collect();
    assert!(matches!(out[0], Value::Int(1)));
    assert!(matches!(&out[1], Value::String(s) if s == "two"));
    assert!(matches!(out[2], Value::Double(d) if d == 3.5));
    assert!(matches!(out[3], Value::Bool(true)));
    let Value::Object(o) = &out[4] else {
        panic!("{:?}", out[4])
    };
    assert_eq!(
        o.type_names[0],
        "System.Management.Automation.PSCustomObject"
    );
    assert_eq!(
        o.properties,
        vec![
            ("Name".to_owned(), Value::str("n")),
            ("Id".to_owned(), Value::Int(7))
        ]
    );
    assert!(matches!(&out[5], Value::Hashtable(h) if h.get("K") == Some(&Value::str("v"))));
    let Value::DateTime(d) = &out[6] else {
        panic!()
    };
    assert_eq!(d.to_iso(), "2024-01-01T00:00:00.0000000+00:00");
}

#[test]
fn session_state_survives_between_pipelines() {
    for session in SESSIONS {
        let mut rs = Runspace::new(Default::default());
        let host = CollectingHost::new();
        let mut last = None;
        for script in session.scripts {
            host.drain();
            last = Some(rs.run_script(script, None, &host));
        }
        let out: Vec<String> = host
            .drain()
            .iter()
            .filter_map(|r| match r {
                StreamRecord::Output(v) => Some(v.to_string()),
                _ => None,
            })
            .collect();
        assert_eq!(out, session.out, "{:?}", session.scripts);
        assert_eq!(
            last.map(|o| o.state),
            Some(PipelineState::Completed),
            "{:?}",
            session.scripts
        );
    }
}

#[test]
fn psrp_script_process_block_runs_per_input_item() {
    let mut rs = Runspace::new(Default::default());
    let host = CollectingHost::new();
    let input = Some(vec![Value::Int(1), Value::Int(2), Value::Int(3)]);
    let o = rs.run_script(
        "begin { 'b' } process { if ($_ -eq 2) { return }; $_ * 10 } end { 'e' }",
        input,
        &host,
    );
    assert_eq!(o.state, PipelineState::Completed);
    let out: Vec<String> = host
        .drain()
        .iter()
        .filter_map(|r| match r {
            StreamRecord::Output(v) => Some(v.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(out, ["b", "10", "30", "e"]);
}
