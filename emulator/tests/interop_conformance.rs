//! The conformance table end to end: every case marked `psrp(..)` in `conformance_cases` runs
//! through pypsrp's `RunspacePool` + `PowerShell` against the in-process emulator
//! (`tests/interop/conformance_pypsrp.py`), and what pypsrp received is checked against the
//! table (rendered outputs, stream records, error categories, how the pipeline ended) and
//! against the engine's own values for the same snippet (each output's CLIXML type and Python
//! type, PSCustomObject properties, DateTime text, FullyQualifiedErrorIds). The session table
//! runs its scripts in one pool each. Also: PIPELINE_INPUT into `process {}` blocks, and
//! `Client.execute_ps(environment=...)` (`New-Item -Path env:` statements before the script).

mod conformance_cases;
mod http_support;

use http_support::{ALICE_PW, manifest, python, server_config};

use std::io::Write;
use std::process::{Command, Stdio};

use conformance_cases::{CASES, Case, End, SESSIONS};
use emulator::engine::{
    CollectingHost, ErrorCategory, ErrorRecord, PipelineState, Runspace, StreamRecord, Value,
};
use emulator::powershell::PowerShellShells;
use emulator::service::WsManService;
use emulator::{Config, Emulator};
use serde_json::Value as Json;

/// pypsrp's PSInvocationState values.
const COMPLETED: i64 = 4;
const FAILED: i64 = 5;

fn config() -> Config {
    server_config(
        true,
        false,
        "[service]\nmax_timeout_ms = 5000\nallow_unencrypted = false",
    )
}

/// Runs the Python side with the plan on stdin; returns its JSON lines.
async fn run_pypsrp(url: String, plan: String) -> Vec<Json> {
    let script = manifest().join("tests/interop/conformance_pypsrp.py");
    let program = python();
    let output = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(&program)
            .arg(&script)
            .arg(&url)
            .arg("alice")
            .env("PSRM_TEST_PASSWORD", ALICE_PW)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{} runs: {e}", program.display()));
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(plan.as_bytes()).expect("plan written");
        }
        child.wait_with_output().expect("python finishes")
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stdout.lines().last(),
        Some("DONE"),
        "the pypsrp side failed:\n{stdout}\n{stderr}"
    );
    stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// What the engine itself produces for a snippet.
struct Direct {
    out: Vec<Value>,
    errors: Vec<ErrorRecord>,
    failed: Option<ErrorRecord>,
}

fn direct(script: &str) -> Direct {
    let mut rs = Runspace::new(Default::default());
    let host = CollectingHost::new();
    let outcome = rs.run_script(script, None, &host);
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for r in host.drain() {
        match r {
            StreamRecord::Output(v) => out.push(v),
            StreamRecord::Error(e) => errors.push(e),
            _ => {}
        }
    }
    let failed = match outcome.state {
        PipelineState::Failed(rec) => Some(*rec),
        _ => None,
    };
    Direct {
        out,
        errors,
        failed,
    }
}

/// The CLIXML element an engine value is serialized as.
fn clixml_tag(v: &Value) -> &'static str {
    match v {
        Value::Null => "Nil",
        Value::Bool(_) => "B",
        Value::Int(_) => "I32",
        Value::Long(_) => "I64",
        Value::Double(_) => "Db",
        Value::String(_) => "S",
        Value::Char(_) => "C",
        Value::DateTime(_) => "DT",
        Value::TimeSpan(_) => "TS",
        Value::Guid(_) => "G",
        Value::ScriptBlock(_) => "SBK",
        _ => "Obj",
    }
}

/// The Python type pypsrp deserializes an engine value into.
fn python_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Int(_) | Value::Long(_) => "int",
        Value::Double(_) => "float",
        // pypsrp keeps <DT>, <TS> and <G> as their text.
        Value::String(_) | Value::Char(_) | Value::DateTime(_) | Value::TimeSpan(_) => "str",
        Value::Array(_) => "list",
        Value::Hashtable(_) => "dict",
        _ => "GenericComplexObject",
    }
}

/// A JSON scalar as PowerShell's `ToString()` shows it.
fn render(v: &Json) -> String {
    match v {
        Json::Null => String::new(),
        Json::Bool(true) => "True".to_owned(),
        Json::Bool(false) => "False".to_owned(),
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Whether a received scalar carries the engine value (DateTime as its CLIXML text).
fn same_scalar(got: &Json, want: &Value) -> bool {
    match want {
        Value::Null => got.is_null(),
        Value::Bool(b) => got.as_bool() == Some(*b),
        Value::Int(i) => got.as_i64() == Some(i64::from(*i)),
        Value::Long(i) => got.as_i64() == Some(*i),
        Value::Double(d) => got.as_f64() == Some(*d),
        Value::String(s) => got.as_str() == Some(s.as_str()),
        Value::DateTime(d) => got.as_str() == Some(d.to_iso().as_str()),
        // Compared by type only (nested objects, clocks).
        _ => true,
    }
}

fn digits_as_d(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_digit() { 'd' } else { c })
        .collect()
}

fn strs(v: &Json, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .map(|a| a.iter().map(render).collect())
        .unwrap_or_default()
}

/// Checks one case's pypsrp observation; returns the problems found.
fn check_case(case: &Case, seen: &Json) -> Vec<String> {
    let mut problems = Vec::new();
    let mut fail = |what: String| problems.push(what);
    let eng = direct(case.script);
    let empty = Vec::new();
    let outputs = seen["output"].as_array().unwrap_or(&empty);
    if outputs.len() != case.out.len() || eng.out.len() != case.out.len() {
        fail(format!(
            "{} outputs received, {} from the engine, table {:?}",
            outputs.len(),
            eng.out.len(),
            case.out
        ));
    }
    for ((got, want), table) in outputs.iter().zip(&eng.out).zip(case.out) {
        if got["tag"] != clixml_tag(want) || got["py"] != python_type(want) {
            fail(format!(
                "{:?} arrived as <{}> / {}; want <{}> / {}",
                table,
                render(&got["tag"]),
                render(&got["py"]),
                clixml_tag(want),
                python_type(want)
            ));
        }
        let shown = match want {
            // The table shows ToString(); the wire carries the value.
            Value::Double(_) | Value::DateTime(_) => want.to_string(),
            _ => render(&got["value"]),
        };
        if shown != *table || !same_scalar(&got["value"], want) {
            fail(format!(
                "value {} (shown {shown:?}), table {table:?}, engine {want:?}",
                got["value"]
            ));
        }
        if let Value::Object(o) = want {
            let types = strs(got, "types");
            if types.first() != o.type_names.first() {
                fail(format!("type names {types:?}, engine {:?}", o.type_names));
            }
            let props = got["props"].as_object();
            let names: Vec<&String> = props.map(|p| p.keys().collect()).unwrap_or_default();
            if names.len() != o.properties.len() {
                fail(format!("properties {names:?}, engine {:?}", o.properties));
            }
            for (name, v) in &o.properties {
                let p = &got["props"][name];
                let same = match v {
                    // File times come from the clock: the same DateTime text shape.
                    Value::DateTime(d) => {
                        p["value"].as_str().map(digits_as_d) == Some(digits_as_d(&d.to_iso()))
                    }
                    _ => same_scalar(&p["value"], v),
                };
                if p["py"] != python_type(v) || !same {
                    fail(format!("property {name}: {p}, engine {v:?}"));
                }
            }
        }
    }

    // Stream records other than errors, per stream in order.
    let records = strs(seen, "records");
    for prefix in ["W:", "V:", "D:", "I:", "H:", "P:"] {
        let got: Vec<&String> = records.iter().filter(|r| r.starts_with(prefix)).collect();
        let want: Vec<&&str> = case
            .streams
            .iter()
            .filter(|r| r.starts_with(prefix))
            .collect();
        if got.len() != want.len() || got.iter().zip(&want).any(|(g, w)| g.as_str() != **w) {
            fail(format!("{prefix} records {got:?}, table {want:?}"));
        }
    }

    // Error records: reason and category from the table, FullyQualifiedErrorId from the engine.
    let mut errors: Vec<&Json> = seen["errors"]
        .as_array()
        .map_or_else(Vec::new, |a| a.iter().collect());
    let state = seen["state"].as_i64();
    let failure = if state == Some(FAILED) {
        errors.pop()
    } else {
        None
    };
    let table_errors: Vec<(&str, i64)> = case
        .streams
        .iter()
        .filter_map(|r| r.strip_prefix("E:"))
        .filter_map(|r| r.split_once(':'))
        .map(|(exc, cat)| (exc, category(cat)))
        .collect();
    let got_errors: Vec<(String, i64)> = errors
        .iter()
        .map(|e| (render(&e["reason"]), e["category"].as_i64().unwrap_or(-1)))
        .collect();
    if got_errors.len() != table_errors.len()
        || got_errors
            .iter()
            .zip(&table_errors)
            .any(|((gr, gc), (wr, wc))| gr != wr || gc != wc)
    {
        fail(format!("errors {got_errors:?}, table {table_errors:?}"));
    }
    let got_ids: Vec<String> = errors.iter().map(|e| render(&e["fqid"])).collect();
    let want_ids: Vec<&str> = eng
        .errors
        .iter()
        .map(|e| e.fully_qualified_error_id.as_str())
        .collect();
    if got_ids != want_ids {
        fail(format!(
            "FullyQualifiedErrorIds {got_ids:?}, engine {want_ids:?}"
        ));
    }

    match (&case.end, state) {
        (End::Ok, Some(COMPLETED)) => {}
        (End::Exit(code), Some(COMPLETED)) => {
            let last = seen["lastexitcode"].as_array().and_then(|a| a.first());
            if last.and_then(Json::as_i64) != Some(i64::from(*code)) {
                fail(format!("$LASTEXITCODE afterwards {last:?}, want {code}"));
            }
        }
        (End::Fail(exc, cat), Some(FAILED)) => {
            let f = failure.unwrap_or(&Json::Null);
            let want_id = eng
                .failed
                .as_ref()
                .map(|r| r.fully_qualified_error_id.clone());
            if f["reason"] != *exc
                || f["category"].as_i64() != Some(category(cat))
                || Some(render(&f["fqid"])) != want_id
                || seen["had_errors"] != true
            {
                fail(format!(
                    "failure record {f}, want {exc}/{cat}/{want_id:?} and had_errors"
                ));
            }
        }
        (end, got) => fail(format!("ended in state {got:?}, want {end:?}")),
    }
    problems
}

fn category(name: &str) -> i64 {
    ErrorCategory::from_name(name).map_or(-1, |c| i64::from(c.value()))
}

fn find<'a>(seen: &'a [Json], key: &str, id: &Json) -> &'a Json {
    seen.iter()
        .find(|s| &s[key] == id)
        .unwrap_or_else(|| panic!("no observation {key}={id}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_sample_through_pypsrp() {
    let sample: Vec<&Case> = CASES.iter().filter(|c| c.psrp).collect();
    assert!(sample.len() >= 25, "only {} sample cases", sample.len());
    let plan = serde_json::json!({
        "cases": sample.iter().map(|c| c.script).collect::<Vec<_>>(),
        "sessions": SESSIONS.iter().map(|s| s.scripts).collect::<Vec<_>>(),
    });
    let cfg = config();
    let emu = Emulator::builder(cfg.clone())
        .listen("127.0.0.1:0".parse().expect("address"))
        .start(WsManService::with_powershell(cfg, PowerShellShells::new()))
        .await
        .expect("emulator starts");
    let seen = run_pypsrp(emu.url(), plan.to_string()).await;
    emu.shutdown().await;
    for s in &seen {
        eprintln!("{s}");
    }

    let mut failures = Vec::new();
    for (i, case) in sample.iter().enumerate() {
        let problems = check_case(case, find(&seen, "case", &Json::from(i)));
        if !problems.is_empty() {
            failures.push(format!("{:?}\n   {}", case.script, problems.join("\n   ")));
        }
    }
    for (i, session) in SESSIONS.iter().enumerate() {
        let got = find(&seen, "session", &Json::from(i));
        let out: Vec<String> = got["output"]
            .as_array()
            .map(|a| a.iter().map(|o| render(&o["value"])).collect())
            .unwrap_or_default();
        if out != session.out || got["state"].as_i64() != Some(COMPLETED) {
            failures.push(format!(
                "session {:?}: {out:?} in state {}, want {:?}",
                session.scripts, got["state"], session.out
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} sample cases and sessions differ:\n{}",
        failures.len(),
        sample.len() + SESSIONS.len(),
        failures.join("\n")
    );

    // PIPELINE_INPUT reaches `process {}` item by item, typed.
    let p = find(&seen, "extra", &Json::from("process_input"));
    let values: Vec<&Json> = p["output"]
        .as_array()
        .map_or_else(Vec::new, |a| a.iter().map(|o| &o["value"]).collect());
    assert_eq!(
        Json::from(values.into_iter().cloned().collect::<Vec<_>>()),
        serde_json::json!(["b", 2, 4, 6, "e"]),
        "{p}"
    );
    let tags: Vec<String> = p["output"]
        .as_array()
        .map(|a| a.iter().map(|o| render(&o["tag"])).collect())
        .unwrap_or_default();
    assert_eq!(tags, ["S", "I32", "I32", "I32", "S"]);
    let f = find(&seen, "extra", &Json::from("function_process_input"));
    let values: Vec<String> = f["output"]
        .as_array()
        .map(|a| a.iter().map(|o| render(&o["value"])).collect())
        .unwrap_or_default();
    assert_eq!(values, ["A", "B"], "{f}");

    // Client.execute_ps(environment=...): the New-Item env: statements ran first.
    let e = find(&seen, "extra", &Json::from("execute_ps_environment"));
    assert_eq!(e["output"], "first/second value\n2001-02-03", "{e}");
    assert_eq!(e["had_errors"], false, "{e}");
    assert_eq!(e["errors"], serde_json::json!([]), "{e}");
}
