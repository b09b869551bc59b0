//! Text rendering of values, as `Out-String` and the console host print them (an approximation
//! of PowerShell's default table/list views), plus `ConvertTo-Json` and error display text.

use super::value::{ErrorRecord, Value};

/// Renders values the way `Out-String` does (CRLF line endings).
pub fn format_values(items: &[Value]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while let Some(v) = items.get(i) {
        match v {
            Value::Object(o) if is_file_system_info(o.type_name()) => {
                let parent = o.get("PSParentPath");
                let mut group = vec![v];
                while let Some(Value::Object(n)) = items.get(i + group.len()) {
                    if !is_file_system_info(n.type_name()) || n.get("PSParentPath") != parent {
                        break;
                    }
                    group.push(&items[i + group.len()]);
                }
                i += group.len();
                out.push_str(&file_listing(&group));
            }
            Value::Object(o) => {
                let tn = o.type_name().to_owned();
                let mut group = vec![v];
                while let Some(Value::Object(n)) = items.get(i + group.len()) {
                    if n.type_name() != tn {
                        break;
                    }
                    group.push(&items[i + group.len()]);
                }
                i += group.len();
                let cols = columns(group.first().copied().unwrap_or(&Value::Null));
                if cols.len() > 4 && view_columns(&tn).is_none() {
                    out.push_str(&format_list(
                        &group.into_iter().cloned().collect::<Vec<_>>(),
                    ));
                } else {
                    out.push_str(&table(&group, &cols));
                }
            }
            Value::Hashtable(h) => {
                i += 1;
                let mut rows = vec![
                    ("Name".to_owned(), "Value".to_owned()),
                    ("----".to_owned(), "-----".to_owned()),
                ];
                for (k, v) in h.entries() {
                    rows.push((k.to_string(), cell(v)));
                }
                out.push_str("\r\n");
                for (k, v) in rows {
                    out.push_str(format!("{k:<30} {v}").trim_end());
                    out.push_str("\r\n");
                }
                out.push_str("\r\n\r\n");
            }
            Value::DateTime(d) => {
                i += 1;
                out.push_str(&format!("\r\n{}\r\n\r\n\r\n", d.to_long_string()));
            }
            Value::ErrorRecord(e) => {
                i += 1;
                out.push_str(&error_text(e, None));
            }
            Value::Null => i += 1,
            other => {
                i += 1;
                out.push_str(&other.to_string());
                out.push_str("\r\n");
            }
        }
    }
    out
}

fn is_file_system_info(type_name: &str) -> bool {
    type_name == "System.IO.FileInfo" || type_name == "System.IO.DirectoryInfo"
}

/// The FileSystem provider's default view: a `Directory:` header per parent directory, then
/// `Mode`, `LastWriteTime` (date and short time), `Length` (files only) and `Name`.
fn file_listing(group: &[&Value]) -> String {
    let prop = |v: &Value, name: &str| v.property(name).unwrap_or(Value::Null);
    let parent = group
        .first()
        .map(|v| prop(v, "PSParentPath").to_string())
        .unwrap_or_default();
    let dir = parent.split_once("::").map_or(parent.as_str(), |(_, p)| p);
    let mut out = format!("\r\n    Directory: {dir}\r\n\r\n\r\n");
    out.push_str("Mode                LastWriteTime         Length Name\r\n");
    out.push_str("----                -------------         ------ ----\r\n");
    for v in group {
        let when = match prop(v, "LastWriteTime") {
            Value::DateTime(d) => {
                let (y, mo, day) = d.date();
                let (h, mi, _, _) = d.time_of_day();
                let (h12, ampm) = match h {
                    0 => (12, "AM"),
                    1..=11 => (h, "AM"),
                    12 => (12, "PM"),
                    _ => (h - 12, "PM"),
                };
                format!(
                    "{:>10}  {:>8}",
                    format!("{mo}/{day}/{y}"),
                    format!("{h12}:{mi:02} {ampm}")
                )
            }
            _ => String::new(),
        };
        let length = match prop(v, "Length") {
            Value::Null => String::new(),
            l => l.to_string(),
        };
        let line = format!(
            "{:<7} {when:>25} {length:>14} {}",
            prop(v, "Mode").to_string(),
            prop(v, "Name")
        );
        out.push_str(&line);
        out.push_str("\r\n");
    }
    out.push_str("\r\n\r\n");
    out
}

/// `Format-List` text.
pub fn format_list(items: &[Value]) -> String {
    let mut out = String::from("\r\n");
    for v in items {
        let props: Vec<(String, Value)> = match v {
            Value::Object(o) => o.properties.clone(),
            Value::Hashtable(h) => h
                .entries()
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            other => vec![("Value".to_owned(), other.clone())],
        };
        let width = props
            .iter()
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(0);
        for (k, v) in props {
            out.push_str(&format!("{k:<width$} : {}\r\n", cell(&v)));
        }
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out
}

struct Column {
    header: String,
    prop: String,
    scale: Option<i64>,
}

fn view_columns(type_name: &str) -> Option<Vec<Column>> {
    let c = |h: &str, p: &str, scale: Option<i64>| Column {
        header: h.to_owned(),
        prop: p.to_owned(),
        scale,
    };
    Some(match type_name {
        "System.Diagnostics.Process" => vec![
            c("Handles", "Handles", None),
            c("NPM(K)", "NPM", Some(1024)),
            c("PM(K)", "PM", Some(1024)),
            c("WS(K)", "WS", Some(1024)),
            c("CPU(s)", "CPU", None),
            c("Id", "Id", None),
            c("SI", "SI", None),
            c("ProcessName", "ProcessName", None),
        ],
        "System.ServiceProcess.ServiceController" => vec![
            c("Status", "Status", None),
            c("Name", "Name", None),
            c("DisplayName", "DisplayName", None),
        ],
        crate::sessions_table::smb::SMB_SESSION_TYPE => vec![
            c("SessionId", "SessionId", None),
            c("ClientComputerName", "ClientComputerName", None),
            c("ClientUserName", "ClientUserName", None),
            c("NumOpens", "NumOpens", None),
        ],
        "System.Diagnostics.Eventing.Reader.EventLogRecord" => {
            vec![
                c("TimeCreated", "TimeCreated", None),
                c("Id", "Id", None),
                c("LevelDisplayName", "LevelDisplayName", None),
                c("Message", "Message", None),
            ]
        }
        _ => return None,
    })
}

fn columns(v: &Value) -> Vec<Column> {
    let Value::Object(o) = v else {
        return Vec::new();
    };
    if let Some(cols) = view_columns(o.type_name()) {
        return cols;
    }
    o.properties
        .iter()
        .map(|(k, _)| Column {
            header: k.clone(),
            prop: k.clone(),
            scale: None,
        })
        .collect()
}

fn table(rows: &[&Value], cols: &[Column]) -> String {
    let cells: Vec<Vec<(String, bool)>> = rows
        .iter()
        .map(|r| {
            cols.iter()
                .map(|c| {
                    let v = r.property(&c.prop).unwrap_or(Value::Null);
                    match (c.scale, &v) {
                        (Some(s), _) => (((v.as_i64().unwrap_or(0)) / s).to_string(), true),
                        (None, Value::Double(d)) if c.prop == "CPU" => (format!("{d:.2}"), true),
                        (None, x) => (cell(x), x.is_numeric()),
                    }
                })
                .collect()
        })
        .collect();
    let widths: Vec<usize> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| {
            cells
                .iter()
                .map(|r| r.get(i).map_or(0, |x| x.0.chars().count()))
                .max()
                .unwrap_or(0)
                .max(c.header.chars().count())
        })
        .collect();
    let right: Vec<bool> = (0..cols.len())
        .map(|i| {
            cells
                .iter()
                .all(|r| r.get(i).is_some_and(|x| x.1 || x.0.is_empty()))
                && !cells.is_empty()
        })
        .collect();
    let line = |vals: Vec<String>| {
        let mut s = String::new();
        for (i, v) in vals.iter().enumerate() {
            if i > 0 {
                s.push(' ');
            }
            let w = widths.get(i).copied().unwrap_or(0);
            let last = i + 1 == vals.len();
            if right.get(i).copied().unwrap_or(false) {
                s.push_str(&format!("{v:>w$}"));
            } else if last {
                s.push_str(v);
            } else {
                s.push_str(&format!("{v:<w$}"));
            }
        }
        s.trim_end().to_owned()
    };
    let mut out = String::from("\r\n");
    out.push_str(&line(cols.iter().map(|c| c.header.clone()).collect()));
    out.push_str("\r\n");
    out.push_str(&line(
        cols.iter()
            .map(|c| "-".repeat(c.header.chars().count()))
            .collect(),
    ));
    out.push_str("\r\n");
    for r in cells {
        out.push_str(&line(r.into_iter().map(|x| x.0).collect()));
        out.push_str("\r\n");
    }
    out.push_str("\r\n\r\n");
    out
}

fn cell(v: &Value) -> String {
    match v {
        Value::Array(a) => format!(
            "{{{}}}",
            a.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

/// The console's rendering of an error record (what `powershell -Command` prints on stderr).
pub fn error_text(e: &ErrorRecord, invocation: Option<&str>) -> String {
    let mut out = String::new();
    let prefix = match (invocation, &e.target_object) {
        (Some(i), _) => i.to_owned(),
        (None, _) if e.exception_name() == "CommandNotFoundException" => e
            .target_object
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        (None, _) if !e.activity.is_empty() => e.activity.clone(),
        _ => String::new(),
    };
    if prefix.is_empty() {
        out.push_str(&e.message);
    } else {
        out.push_str(&format!("{prefix} : {}", e.message));
    }
    out.push_str("\r\n");
    if let Some(p) = &e.position
        && !p.line_text.is_empty()
        && e.activity != "Write-Error"
    {
        out.push_str(&format!(
            "At line:{} char:{}\r\n+ {}\r\n+ {}{}\r\n",
            p.line,
            p.column,
            p.line_text,
            " ".repeat(p.column.saturating_sub(1)),
            "~".repeat(p.length.max(1))
        ));
    }
    out.push_str(&format!(
        "    + CategoryInfo          : {}\r\n",
        e.category_info()
    ));
    out.push_str(&format!(
        "    + FullyQualifiedErrorId : {}\r\n",
        e.fully_qualified_error_id
    ));
    out.push_str(" \r\n");
    out
}

/// `ConvertTo-Json` with Windows PowerShell 5.1's layout (4-space indent, two spaces after `:`).
pub fn to_json(v: &Value, depth: usize, compress: bool, level: usize) -> String {
    let (nl, ind, ind_in, colon) = if compress {
        (String::new(), String::new(), String::new(), ":".to_owned())
    } else {
        (
            "\r\n".to_owned(),
            "    ".repeat(level),
            "    ".repeat(level + 1),
            ":  ".to_owned(),
        )
    };
    let props: Option<Vec<(String, Value)>> = match v {
        Value::Object(o) => Some(o.properties.clone()),
        Value::Hashtable(h) => Some(
            h.entries()
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        ),
        _ => None,
    };
    if let Some(props) = props {
        if level >= depth {
            return json_str(&v.to_string());
        }
        let inner: Vec<String> = props
            .iter()
            .map(|(k, x)| {
                format!(
                    "{ind_in}{}{colon}{}",
                    json_str(k),
                    to_json(x, depth, compress, level + 1)
                )
            })
            .collect();
        return format!("{{{nl}{}{nl}{ind}}}", inner.join(&format!(",{nl}")));
    }
    match v {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => if *b { "true" } else { "false" }.to_owned(),
        Value::Int(_) | Value::Long(_) | Value::Double(_) => v.to_string(),
        Value::Array(a) => {
            if level >= depth {
                return json_str(&v.to_string());
            }
            let inner: Vec<String> = a
                .iter()
                .map(|x| format!("{ind_in}{}", to_json(x, depth, compress, level + 1)))
                .collect();
            format!("[{nl}{}{nl}{ind}]", inner.join(&format!(",{nl}")))
        }
        Value::DateTime(d) => format!(
            "\"\\/Date({})\\/\"",
            (d.to_utc().ticks - 621_355_968_000_000_000) / 10_000
        ),
        other => json_str(&other.to_string()),
    }
}

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
