//! Built-in cmdlets and their parameter binding.

use std::time::Duration;

use super::eval::{Evaluator, Flow, R};
use super::format;
use super::host::{InformationRecord, ProgressRecord, StreamRecord};
use super::ops::{self, runtime_error};
use super::time::{DateTime, TICKS_PER_SECOND};
use super::value::{ErrorCategory, ErrorRecord, Hashtable, PsObject, Value};

/// An argument as written, before binding.
#[derive(Debug, Clone)]
pub enum ArgItem {
    /// `-Name` or `-Name:value`.
    Named(String, Option<Value>),
    /// A positional value.
    Pos(Value),
}

/// Bound arguments: named parameters (switches have no value) and the remaining positionals.
#[derive(Debug, Clone, Default)]
pub struct Args {
    /// Positional values in order.
    pub positional: Vec<Value>,
    /// Named parameters in order.
    pub named: Vec<(String, Option<Value>)>,
}

impl Args {
    /// Binds: a named non-switch parameter without `:value` takes the following positional.
    pub fn bind(items: Vec<ArgItem>, is_switch: impl Fn(&str) -> bool) -> Self {
        let mut out = Self::default();
        let mut it = items.into_iter().peekable();
        while let Some(item) = it.next() {
            match item {
                ArgItem::Named(n, Some(v)) => out.named.push((n, Some(v))),
                ArgItem::Named(n, None) => {
                    if !is_switch(&n)
                        && matches!(it.peek(), Some(ArgItem::Pos(_)))
                        && let Some(ArgItem::Pos(v)) = it.next()
                    {
                        out.named.push((n, Some(v)));
                        continue;
                    }
                    out.named.push((n, None));
                }
                ArgItem::Pos(v) => out.positional.push(v),
            }
        }
        out
    }

    /// A named parameter by any of its names (a given name may be an unambiguous prefix).
    pub fn get(&self, names: &[&str]) -> Option<Value> {
        self.named
            .iter()
            .find(|(n, _)| matches_param(n, names))
            .map(|(_, v)| v.clone().unwrap_or(Value::Bool(true)))
    }

    /// A named parameter, else the positional at `pos`.
    pub fn get_or_pos(&self, names: &[&str], pos: usize) -> Option<Value> {
        self.get(names)
            .or_else(|| self.positional.get(pos).cloned())
    }

    /// Whether a switch is set (and not `:$false`).
    pub fn has(&self, names: &[&str]) -> bool {
        self.get(names).is_some_and(|v| v.is_truthy())
    }

    /// Named parameters with values (switches as `$true`).
    pub fn named_values(&self) -> Vec<(String, Value)> {
        self.named
            .iter()
            .map(|(n, v)| (n.clone(), v.clone().unwrap_or(Value::Bool(true))))
            .collect()
    }
}

fn matches_param(given: &str, names: &[&str]) -> bool {
    let g = given.to_ascii_lowercase();
    !g.is_empty() && names.iter().any(|n| n.starts_with(&g) || *n == g)
}

/// Per-stage state kept between `process` calls.
#[derive(Debug, Default)]
pub struct State {
    items: Vec<Value>,
    count: usize,
}

/// The built-in commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Builtin {
    ClearHost,
    ConvertToJson,
    ForEachObject,
    FormatTable,
    FormatList,
    GetContent,
    GetDate,
    GetProcess,
    GetService,
    GetVariable,
    GetWinEvent,
    GroupObject,
    Hostname,
    InvokeExpression,
    MeasureObject,
    NewItem,
    NewObject,
    NewVariable,
    OutDefault,
    OutNull,
    OutString,
    RemoveVariable,
    SelectObject,
    SetVariable,
    SortObject,
    StartSleep,
    TestPath,
    WhereObject,
    Whoami,
    WriteDebug,
    WriteError,
    WriteHost,
    WriteInformation,
    WriteOutput,
    WriteProgress,
    WriteVerbose,
    WriteWarning,
}

/// Finds a built-in by name or alias.
pub fn lookup(name: &str) -> Option<Builtin> {
    use Builtin::*;
    Some(match name.to_ascii_lowercase().as_str() {
        "clear-host" | "cls" | "clear" => ClearHost,
        "convertto-json" => ConvertToJson,
        "foreach-object" | "%" | "foreach" => ForEachObject,
        "format-table" | "ft" => FormatTable,
        "format-list" | "fl" => FormatList,
        "get-content" | "gc" | "cat" | "type" => GetContent,
        "get-date" => GetDate,
        "get-process" | "gps" | "ps" => GetProcess,
        "get-service" | "gsv" => GetService,
        "get-variable" | "gv" => GetVariable,
        "get-winevent" => GetWinEvent,
        "group-object" | "group" => GroupObject,
        "hostname" => Hostname,
        "invoke-expression" | "iex" => InvokeExpression,
        "measure-object" | "measure" => MeasureObject,
        "new-item" | "ni" => NewItem,
        "new-object" => NewObject,
        "new-variable" | "nv" => NewVariable,
        "out-default" | "out-host" | "oh" => OutDefault,
        "out-null" => OutNull,
        "out-string" => OutString,
        "remove-variable" | "rv" => RemoveVariable,
        "select-object" | "select" => SelectObject,
        "set-variable" | "set" | "sv" => SetVariable,
        "sort-object" | "sort" => SortObject,
        "start-sleep" | "sleep" => StartSleep,
        "test-path" => TestPath,
        "where-object" | "?" | "where" => WhereObject,
        "whoami" => Whoami,
        "write-debug" => WriteDebug,
        "write-error" => WriteError,
        "write-host" => WriteHost,
        "write-information" => WriteInformation,
        "write-output" | "echo" | "write" => WriteOutput,
        "write-progress" => WriteProgress,
        "write-verbose" => WriteVerbose,
        "write-warning" => WriteWarning,
        _ => return None,
    })
}

/// Whether `-name` is a switch (takes no value) for this command.
pub fn is_switch(cmd: Builtin, name: &str) -> bool {
    use Builtin::*;
    let n = name.to_ascii_lowercase();
    let common = ["verbose", "debug", "whatif", "confirm"];
    if common.iter().any(|c| c.starts_with(&n)) {
        return true;
    }
    let list: &[&str] = match cmd {
        SelectObject => &["unique", "wait"],
        SortObject => &["descending", "unique", "casesensitive"],
        MeasureObject => &[
            "sum",
            "average",
            "maximum",
            "minimum",
            "line",
            "word",
            "character",
            "ignorewhitespace",
        ],
        GroupObject => &["noelement", "asstring", "ashashtable"],
        WriteOutput => &["noenumerate"],
        WriteHost => &["nonewline"],
        WriteProgress => &["completed"],
        OutString => &["stream"],
        GetVariable => &["valueonly"],
        ConvertToJson => &["compress"],
        NewItem => &["force"],
        FormatTable => &["autosize", "wrap", "hidetableheaders"],
        WhereObject => &[
            "eq",
            "ne",
            "gt",
            "ge",
            "lt",
            "le",
            "like",
            "notlike",
            "match",
            "notmatch",
            "contains",
            "notcontains",
            "in",
            "notin",
            "ceq",
            "cne",
            "clike",
            "cmatch",
            "is",
            "isnot",
            "not",
        ],
        _ => &[],
    };
    list.iter().any(|s| *s == n)
}

/// The `begin` step.
pub(crate) fn begin(ev: &mut Evaluator<'_>, cmd: Builtin, args: &Args, _st: &mut State) -> R<()> {
    if cmd == Builtin::ForEachObject
        && let Some(sb) = args.get(&["begin"])
    {
        ev.run_scriptblock_items(&sb, None)?;
    }
    Ok(())
}

/// The `process` step for one input item (`None` when the command has no pipeline input).
pub(crate) fn process(
    ev: &mut Evaluator<'_>,
    cmd: Builtin,
    args: &Args,
    st: &mut State,
    item: Option<Value>,
) -> R<()> {
    with_prefs(ev, args, |ev| process_inner(ev, cmd, args, st, item))
}

/// The `end` step.
pub(crate) fn end(ev: &mut Evaluator<'_>, cmd: Builtin, args: &Args, st: &mut State) -> R<()> {
    with_prefs(ev, args, |ev| end_inner(ev, cmd, args, st))
}

fn with_prefs<F>(ev: &mut Evaluator<'_>, args: &Args, f: F) -> R<()>
where
    F: FnOnce(&mut Evaluator<'_>) -> R<()>,
{
    let mut saved = Vec::new();
    let overrides = [
        (&["erroraction", "ea"][..], "ErrorActionPreference"),
        (&["warningaction", "wa"][..], "WarningPreference"),
        (&["informationaction", "infa"][..], "InformationPreference"),
    ];
    for (names, var) in overrides {
        if let Some(v) = args
            .named
            .iter()
            .find(|(n, _)| names.contains(&n.to_ascii_lowercase().as_str()))
            .and_then(|(_, v)| v.clone())
        {
            saved.push((var, ev.get_var(var)));
            ev.set_var(var, v);
        }
    }
    for (name, var) in [
        ("verbose", "VerbosePreference"),
        ("debug", "DebugPreference"),
    ] {
        if args
            .named
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case(name) && v.as_ref().is_none_or(Value::is_truthy))
        {
            saved.push((var, ev.get_var(var)));
            ev.set_var(var, Value::str("Continue"));
        }
    }
    let res = f(ev);
    for (var, v) in saved.into_iter().rev() {
        ev.set_var(var, v.unwrap_or(Value::Null));
    }
    res
}

fn process_inner(
    ev: &mut Evaluator<'_>,
    cmd: Builtin,
    args: &Args,
    st: &mut State,
    item: Option<Value>,
) -> R<()> {
    use Builtin::*;
    match cmd {
        ForEachObject => {
            let blocks = args.get_or_pos(&["process"], 0).unwrap_or(Value::Null);
            match blocks {
                Value::String(member) => {
                    let v = item.unwrap_or(Value::Null);
                    let m = ev.member(&v, &member);
                    for x in m.into_items() {
                        if !matches!(x, Value::Null) {
                            ev.write_output(x)?;
                        }
                    }
                    Ok(())
                }
                Value::Array(sbs) => {
                    for sb in sbs {
                        ev.run_scriptblock_items(&sb, Some(item.clone().unwrap_or(Value::Null)))?;
                    }
                    Ok(())
                }
                Value::Null => Ok(()),
                sb => ev.run_scriptblock_items(&sb, Some(item.unwrap_or(Value::Null))),
            }
        }
        WhereObject => {
            let Some(v) = item else { return Ok(()) };
            if where_matches(ev, args, &v)? {
                ev.write_output(v)?;
            }
            Ok(())
        }
        SelectObject => {
            let Some(v) = item else { return Ok(()) };
            let first = args.get(&["first"]).and_then(|x| x.as_i64());
            let skip = args.get(&["skip"]).and_then(|x| x.as_i64()).unwrap_or(0) as usize;
            if args.get(&["last"]).is_some()
                || args.has(&["unique"])
                || args.get(&["index"]).is_some()
            {
                st.items.push(v);
                return Ok(());
            }
            st.count += 1;
            if st.count <= skip {
                return Ok(());
            }
            if let Some(f) = first
                && st.count - skip > f.max(0) as usize
            {
                return Ok(());
            }
            select_project(ev, args, v)
        }
        SortObject | MeasureObject | GroupObject | OutString | FormatTable | FormatList
        | ConvertToJson => {
            if let Some(v) = item {
                st.items.push(v);
            }
            Ok(())
        }
        WriteOutput => match item {
            Some(v) => ev.write_output(v),
            None => {
                let no_enum = args.has(&["noenumerate"]);
                for v in args
                    .positional
                    .iter()
                    .cloned()
                    .chain(args.get(&["inputobject"]))
                {
                    if no_enum {
                        ev.write_output(v)?;
                    } else {
                        for x in v.into_items() {
                            ev.write_output(x)?;
                        }
                    }
                }
                Ok(())
            }
        },
        OutDefault => match item {
            Some(v) => ev.write_output(v),
            None => Ok(()),
        },
        OutNull | ClearHost => Ok(()),
        WriteError => {
            if let Some(Value::ErrorRecord(r)) = &item {
                return ev.write_error((**r).clone());
            }
            let msg = args
                .get_or_pos(&["message"], 0)
                .or(item)
                .map(|m| m.to_string())
                .unwrap_or_default();
            let category = args
                .get(&["category"])
                .and_then(|c| ErrorCategory::from_name(&c.to_string()))
                .unwrap_or(ErrorCategory::NotSpecified);
            let mut rec = ErrorRecord::new(
                "Microsoft.PowerShell.Commands.WriteErrorException",
                msg,
                category,
            )
            .with_id(&args.get(&["errorid"]).map_or_else(
                || "Microsoft.PowerShell.Commands.WriteErrorException".to_owned(),
                |v| v.to_string(),
            ))
            .with_activity("Write-Error");
            if let Some(t) = args.get(&["targetobject"]) {
                rec.target_object = Some(t);
            }
            if let Some(e) = args.get(&["exception"]) {
                rec.message = e.to_string();
            }
            ev.write_error(rec)
        }
        WriteWarning | WriteVerbose | WriteDebug => {
            let msg = args
                .get_or_pos(&["message"], 0)
                .or(item)
                .map(|m| m.to_string())
                .unwrap_or_default();
            let (pref, rec) = match cmd {
                WriteWarning => ("WarningPreference", StreamRecord::Warning(msg.clone())),
                WriteVerbose => ("VerbosePreference", StreamRecord::Verbose(msg.clone())),
                _ => ("DebugPreference", StreamRecord::Debug(msg.clone())),
            };
            match ev.preference(pref).as_str() {
                "silentlycontinue" | "ignore" => Ok(()),
                "stop" => {
                    ev.emit(rec)?;
                    Err(Flow::Error(
                        Box::new(
                            ErrorRecord::new("System.Management.Automation.ActionPreferenceStopException", format!("The running command stopped because the preference variable \"{pref}\" or common parameter is set to Stop: {msg}"), ErrorCategory::OperationStopped)
                                .with_id("ActionPreferenceStop"),
                        ),
                        true,
                    ))
                }
                _ => ev.emit(rec),
            }
        }
        WriteInformation => {
            if ev.preference("InformationPreference") == "ignore" {
                return Ok(());
            }
            let data = args
                .get_or_pos(&["messagedata", "msg"], 0)
                .or(item)
                .unwrap_or(Value::Null);
            let tags = args
                .get_or_pos(&["tags"], 1)
                .map(|t| t.into_items().iter().map(ToString::to_string).collect())
                .unwrap_or_default();
            let rec = info_record(ev, data, "Write-Information", tags);
            ev.emit(StreamRecord::Information(rec))
        }
        WriteHost => {
            let sep = args
                .get(&["separator"])
                .map_or_else(|| " ".to_owned(), |s| s.to_string());
            let objs: Vec<Value> = if args.positional.is_empty() {
                args.get(&["object"]).or(item).into_iter().collect()
            } else {
                args.positional.clone()
            };
            let text = objs
                .iter()
                .map(|o| match o {
                    Value::Array(a) => a
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(&sep),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(&sep);
            let color = |n: &[&str]| {
                args.get(n)
                    .map_or(Value::Int(-1), |c| Value::String(c.to_string()))
            };
            let msg = PsObject {
                to_string: Some(text.clone()),
                ..PsObject::typed("System.Management.Automation.HostInformationMessage")
                    .with("Message", Value::String(text))
                    .with("NoNewLine", Value::Bool(args.has(&["nonewline"])))
                    .with("ForegroundColor", color(&["foregroundcolor"]))
                    .with("BackgroundColor", color(&["backgroundcolor"]))
            };
            let rec = info_record(
                ev,
                Value::Object(Box::new(msg)),
                "Write-Host",
                vec!["PSHOST".to_owned()],
            );
            ev.emit(StreamRecord::Information(rec))
        }
        WriteProgress => {
            if matches!(
                ev.preference("ProgressPreference").as_str(),
                "silentlycontinue" | "ignore"
            ) {
                return Ok(());
            }
            let rec = ProgressRecord {
                activity: args
                    .get_or_pos(&["activity"], 0)
                    .map(|v| v.to_string())
                    .unwrap_or_default(),
                status_description: args
                    .get_or_pos(&["status"], 1)
                    .map_or_else(|| "Processing".to_owned(), |v| v.to_string()),
                current_operation: args.get(&["currentoperation"]).map(|v| v.to_string()),
                activity_id: args.get(&["id"]).and_then(|v| v.as_i64()).unwrap_or(0) as i32,
                parent_activity_id: args
                    .get(&["parentid"])
                    .and_then(|v| v.as_i64())
                    .unwrap_or(-1) as i32,
                percent_complete: args
                    .get(&["percentcomplete"])
                    .and_then(|v| v.as_i64())
                    .unwrap_or(-1) as i32,
                seconds_remaining: args
                    .get(&["secondsremaining"])
                    .and_then(|v| v.as_i64())
                    .unwrap_or(-1) as i32,
                completed: args.has(&["completed"]),
            };
            ev.emit(StreamRecord::Progress(rec))
        }
        StartSleep => {
            if item.is_some() {
                return Ok(());
            }
            let d = if let Some(ms) = args.get(&["milliseconds", "m"]) {
                Duration::from_millis(ms.as_i64().unwrap_or(0).max(0) as u64)
            } else {
                let s = args
                    .get_or_pos(&["seconds"], 0)
                    .and_then(|v| v.as_f64())
                    .unwrap_or(0.0)
                    .max(0.0);
                Duration::from_secs_f64(s)
            };
            ev.host.sleep(d)?;
            Ok(())
        }
        GetDate => {
            if item.is_some() {
                return Ok(());
            }
            let off = ev.rs.ctx.utc_offset_minutes;
            let d = match args.get_or_pos(&["date"], 0) {
                Some(v) => match ops::cast("datetime", v, off)? {
                    Value::DateTime(d) => d,
                    _ => DateTime::from_system_time(ev.host.now(), off),
                },
                None => DateTime::from_system_time(ev.host.now(), off),
            };
            let d = set_date_parts(d, args)?;
            match args.get(&["format"]) {
                Some(f) => ev.write_output(Value::String(d.format(&f.to_string()))),
                None => ev.write_output(Value::DateTime(d)),
            }
        }
        Hostname => {
            if item.is_some() {
                return Ok(());
            }
            let n = ev.rs.ctx.computer_name.clone();
            ev.write_output(Value::String(n))
        }
        Whoami => {
            if item.is_some() {
                return Ok(());
            }
            let c = &ev.rs.ctx;
            let s = format!("{}\\{}", c.user_domain, c.user_name).to_lowercase();
            ev.write_output(Value::String(s))
        }
        GetProcess => {
            if item.is_some() {
                return Ok(());
            }
            let mut procs = ev.rs.ctx.processes.clone();
            procs.sort_by_key(|p| p.name.to_lowercase());
            if let Some(ids) = args.get(&["id"]) {
                for id in ids.into_items() {
                    let id = id.as_i64().unwrap_or(-1);
                    match procs.iter().find(|p| i64::from(p.id) == id) {
                        Some(p) => ev.write_output(p.to_object())?,
                        None => ev.write_error(
                            ErrorRecord::new("Microsoft.PowerShell.Commands.ProcessCommandException", format!("Cannot find a process with the process identifier {id}."), ErrorCategory::ObjectNotFound)
                                .with_id("NoProcessFoundForGivenId,Microsoft.PowerShell.Commands.GetProcessCommand")
                                .with_target(Value::Long(id))
                                .with_activity("Get-Process"),
                        )?,
                    }
                }
                return Ok(());
            }
            let names = args
                .get_or_pos(&["name", "processname"], 0)
                .map(Value::into_items);
            match names {
                None => {
                    for p in &procs {
                        ev.write_output(p.to_object())?;
                    }
                }
                Some(names) => {
                    for n in names {
                        let pat = n.to_string();
                        let hits: Vec<_> = procs
                            .iter()
                            .filter(|p| ops::wildcard_match(&pat, &p.name, false))
                            .collect();
                        if hits.is_empty() && !pat.contains(['*', '?']) {
                            ev.write_error(
                                ErrorRecord::new("Microsoft.PowerShell.Commands.ProcessCommandException", format!("Cannot find a process with the name \"{pat}\". Verify the process name and call the cmdlet again."), ErrorCategory::ObjectNotFound)
                                    .with_id("NoProcessFoundForGivenName,Microsoft.PowerShell.Commands.GetProcessCommand")
                                    .with_target(Value::String(pat.clone()))
                                    .with_activity("Get-Process"),
                            )?;
                        }
                        for p in hits {
                            ev.write_output(p.to_object())?;
                        }
                    }
                }
            }
            Ok(())
        }
        GetService => {
            if item.is_some() {
                return Ok(());
            }
            let svcs = ev.rs.ctx.services.clone();
            let names = args
                .get_or_pos(&["name", "servicename"], 0)
                .map(Value::into_items);
            let display = args.get(&["displayname"]).map(|v| v.to_string());
            for s in &svcs {
                if let Some(d) = &display
                    && ops::wildcard_match(d, &s.display_name, false)
                {
                    ev.write_output(s.to_object())?;
                }
            }
            if display.is_some() {
                return Ok(());
            }
            match names {
                None => {
                    for s in &svcs {
                        ev.write_output(s.to_object())?;
                    }
                }
                Some(names) => {
                    for n in names {
                        let pat = n.to_string();
                        let hits: Vec<_> = svcs
                            .iter()
                            .filter(|s| ops::wildcard_match(&pat, &s.name, false))
                            .collect();
                        if hits.is_empty() && !pat.contains(['*', '?']) {
                            ev.write_error(
                                ErrorRecord::new("Microsoft.PowerShell.Commands.ServiceCommandException", format!("Cannot find any service with service name '{pat}'."), ErrorCategory::ObjectNotFound)
                                    .with_id("NoServiceFoundForGivenName,Microsoft.PowerShell.Commands.GetServiceCommand")
                                    .with_target(Value::String(pat.clone()))
                                    .with_activity("Get-Service"),
                            )?;
                        }
                        for s in hits {
                            ev.write_output(s.to_object())?;
                        }
                    }
                }
            }
            Ok(())
        }
        GetWinEvent => {
            if item.is_some() {
                return Ok(());
            }
            get_win_event(ev, args)
        }
        GetVariable => {
            if item.is_some() {
                return Ok(());
            }
            let all = ev.visible_vars();
            let value_only = args.has(&["valueonly"]);
            let names = args
                .get_or_pos(&["name"], 0)
                .map_or_else(|| vec![Value::str("*")], Value::into_items);
            for n in names {
                let pat = n.to_string();
                let hits: Vec<_> = all
                    .iter()
                    .filter(|(name, _)| ops::wildcard_match(&pat, name, false))
                    .cloned()
                    .collect();
                if hits.is_empty() && !pat.contains(['*', '?']) {
                    ev.write_error(
                        ErrorRecord::new(
                            "System.Management.Automation.ItemNotFoundException",
                            format!("Cannot find a variable with the name '{pat}'."),
                            ErrorCategory::ObjectNotFound,
                        )
                        .with_id(
                            "VariableNotFound,Microsoft.PowerShell.Commands.GetVariableCommand",
                        )
                        .with_target(Value::String(pat.clone()))
                        .with_activity("Get-Variable"),
                    )?;
                }
                for (name, v) in hits {
                    if value_only {
                        ev.write_output(v)?;
                    } else {
                        ev.write_output(variable_object(&name, v))?;
                    }
                }
            }
            Ok(())
        }
        SetVariable | NewVariable => {
            let name = args
                .get_or_pos(&["name"], 0)
                .map(|v| v.to_string())
                .unwrap_or_default();
            let value = args
                .get_or_pos(&["value"], 1)
                .or(item)
                .unwrap_or(Value::Null);
            let scope = args
                .get(&["scope"])
                .map(|s| s.to_string().to_ascii_lowercase());
            if cmd == NewVariable
                && ev.get_var(&name).is_some()
                && scope.is_none()
                && !args.has(&["force"])
            {
                return ev.write_error(
                    ErrorRecord::new(
                        "System.Management.Automation.SessionStateUnauthorizedAccessException",
                        format!("A variable with name '{name}' already exists."),
                        ErrorCategory::ResourceUnavailable,
                    )
                    .with_id(
                        "VariableAlreadyExists,Microsoft.PowerShell.Commands.NewVariableCommand",
                    )
                    .with_target(Value::String(name.clone()))
                    .with_activity("New-Variable"),
                );
            }
            match scope.as_deref() {
                Some("global" | "script") => ev.set_var(&format!("global:{name}"), value.clone()),
                _ => ev.set_var(&name, value.clone()),
            }
            if args.has(&["passthru"]) {
                ev.write_output(variable_object(&name, value))?;
            }
            Ok(())
        }
        RemoveVariable => {
            for n in args
                .get_or_pos(&["name"], 0)
                .map(Value::into_items)
                .unwrap_or_default()
            {
                let name = n.to_string();
                if !ev.remove_var(&name) {
                    ev.write_error(
                        ErrorRecord::new(
                            "System.Management.Automation.ItemNotFoundException",
                            format!("Cannot find a variable with the name '{name}'."),
                            ErrorCategory::ObjectNotFound,
                        )
                        .with_id(
                            "VariableNotFound,Microsoft.PowerShell.Commands.RemoveVariableCommand",
                        )
                        .with_target(Value::String(name.clone()))
                        .with_activity("Remove-Variable"),
                    )?;
                }
            }
            Ok(())
        }
        InvokeExpression => {
            let text = args
                .get_or_pos(&["command"], 0)
                .or(item)
                .map(|v| v.to_string())
                .unwrap_or_default();
            let ast = super::parser::parse_script(&text)
                .map_err(|e| Flow::from(super::eval::parse_error_record(&e)))?;
            ev.exec_block(&ast.body)
        }
        NewObject => {
            let t = args
                .get_or_pos(&["typename"], 0)
                .map(|v| v.to_string())
                .unwrap_or_default();
            let norm = ops::normalize_type(&t);
            match norm.as_str() {
                "psobject" | "pscustomobject" | "object" => {
                    let mut o = PsObject::custom();
                    if let Some(Value::Hashtable(h)) = args.get(&["property"]) {
                        for (k, v) in h.entries() {
                            o.set(&k.to_string(), v.clone());
                        }
                    }
                    ev.write_output(Value::Object(Box::new(o)))
                }
                "collections.arraylist" | "collections.generic.list[object]" | "collections.generic.list[string]" => ev.write_output(Value::Array(Vec::new())),
                "collections.hashtable" | "hashtable" => ev.write_output(Value::Hashtable(Hashtable::new())),
                _ => Err(ErrorRecord::new("System.Management.Automation.PSArgumentException", format!("Cannot find type [{t}]: verify that the assembly containing this type is loaded."), ErrorCategory::InvalidType)
                    .with_id("TypeNotFound,Microsoft.PowerShell.Commands.NewObjectCommand")
                    .with_activity("New-Object")
                    .into()),
            }
        }
        NewItem => super::fs::new_item(ev, args, item),
        TestPath => {
            if item.is_some() {
                return Ok(());
            }
            super::fs::test_path(ev, args)
        }
        GetContent => {
            if item.is_some() {
                return Ok(());
            }
            let path = args
                .get_or_pos(&["path", "literalpath"], 0)
                .map(|v| v.to_string())
                .unwrap_or_default();
            let file = super::fs::content(ev, &path);
            match file {
                Some(content) => {
                    for line in content.lines() {
                        ev.write_output(Value::String(line.trim_end_matches('\r').to_owned()))?;
                    }
                    Ok(())
                }
                None => ev.write_error(
                    ErrorRecord::new(
                        "System.Management.Automation.ItemNotFoundException",
                        format!("Cannot find path '{path}' because it does not exist."),
                        ErrorCategory::ObjectNotFound,
                    )
                    .with_id("PathNotFound,Microsoft.PowerShell.Commands.GetContentCommand")
                    .with_target(Value::String(path.clone()))
                    .with_activity("Get-Content"),
                ),
            }
        }
    }
}

/// `Get-Date -Year -Month -Day -Hour -Minute -Second -Millisecond`: each given part replaces the
/// date's own by adding the difference, in that order, as PowerShell does (so `-Day 31` in a
/// 30-day month rolls over, and `-Month` keeps the day within the month).
fn set_date_parts(mut d: DateTime, args: &Args) -> R<DateTime> {
    let parts: [(&str, &str, i64, i64); 7] = [
        ("year", "Year", 1, 9999),
        ("month", "Month", 1, 12),
        ("day", "Day", 1, 31),
        ("hour", "Hour", 0, 23),
        ("minute", "Minute", 0, 59),
        ("second", "Second", 0, 59),
        ("millisecond", "Millisecond", 0, 999),
    ];
    for (key, name, min, max) in parts {
        // Exact names: a prefix such as `-m` is ambiguous between month, minute and millisecond.
        let Some(v) = args
            .named
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(key))
            .and_then(|(_, v)| v.clone())
        else {
            continue;
        };
        let Some(n) = v.as_i64() else {
            return Err(ErrorRecord::new(
                "System.Management.Automation.ParameterBindingArgumentTransformationException",
                format!("Cannot process argument transformation on parameter '{name}'. Cannot convert value \"{v}\" to type \"System.Int32\". Error: \"Input string was not in a correct format.\""),
                ErrorCategory::InvalidData,
            )
            .with_id("ParameterArgumentTransformationError,Microsoft.PowerShell.Commands.GetDateCommand")
            .with_activity("Get-Date")
            .into());
        };
        if n < min || n > max {
            let detail = if n < min {
                format!(
                    "The {n} argument is less than the minimum allowed range of {min}. Supply an argument that is greater than or equal to {min} and then try the command again."
                )
            } else {
                format!(
                    "The {n} argument is greater than the maximum allowed range of {max}. Supply an argument that is less than or equal to {max} and then try the command again."
                )
            };
            return Err(ErrorRecord::new(
                "System.Management.Automation.ParameterBindingValidationException",
                format!("Cannot validate argument on parameter '{name}'. {detail}"),
                ErrorCategory::InvalidData,
            )
            .with_id(
                "ParameterArgumentValidationError,Microsoft.PowerShell.Commands.GetDateCommand",
            )
            .with_activity("Get-Date")
            .into());
        }
        let (y, mo, day) = d.date();
        let (h, mi, s, ms) = d.time_of_day();
        d = match key {
            "year" => d.add_months((n - y) * 12),
            "month" => d.add_months(n - i64::from(mo)),
            "day" => d.add_ticks((n - i64::from(day)) * 86_400 * TICKS_PER_SECOND),
            "hour" => d.add_ticks((n - i64::from(h)) * 3600 * TICKS_PER_SECOND),
            "minute" => d.add_ticks((n - i64::from(mi)) * 60 * TICKS_PER_SECOND),
            "second" => d.add_ticks((n - i64::from(s)) * TICKS_PER_SECOND),
            // Also drops the sub-millisecond ticks.
            _ => {
                let sub_ms = d.ticks.rem_euclid(TICKS_PER_SECOND / 1000);
                d.add_ticks((n - i64::from(ms)) * (TICKS_PER_SECOND / 1000) - sub_ms)
            }
        };
    }
    Ok(d)
}

fn end_inner(ev: &mut Evaluator<'_>, cmd: Builtin, args: &Args, st: &mut State) -> R<()> {
    use Builtin::*;
    let items = std::mem::take(&mut st.items);
    match cmd {
        ForEachObject => {
            if let Some(sb) = args.get(&["end"]) {
                ev.run_scriptblock_items(&sb, None)?;
            }
            Ok(())
        }
        SelectObject if !items.is_empty() || args.get(&["last"]).is_some() => {
            let mut items = items;
            if args.has(&["unique"]) {
                let mut uniq: Vec<Value> = Vec::new();
                for i in items {
                    if !uniq.iter().any(|u| ops::equals(u, &i, true)) {
                        uniq.push(i);
                    }
                }
                items = uniq;
            }
            if let Some(idx) = args.get(&["index"]) {
                let picked: Vec<Value> = idx
                    .into_items()
                    .iter()
                    .filter_map(|i| i.as_i64())
                    .filter_map(|i| items.get(i as usize).cloned())
                    .collect();
                items = picked;
            }
            let skip = args
                .get(&["skip"])
                .and_then(|x| x.as_i64())
                .unwrap_or(0)
                .max(0) as usize;
            let mut items: Vec<Value> = items.into_iter().skip(skip).collect();
            if let Some(f) = args.get(&["first"]).and_then(|x| x.as_i64()) {
                items.truncate(f.max(0) as usize);
            }
            if let Some(l) = args.get(&["last"]).and_then(|x| x.as_i64()) {
                let l = l.max(0) as usize;
                let start = items.len().saturating_sub(l);
                items = items.split_off(start);
            }
            for i in items {
                select_project(ev, args, i)?;
            }
            Ok(())
        }
        SortObject => {
            let props = args
                .get_or_pos(&["property"], 0)
                .map(Value::into_items)
                .unwrap_or_default();
            let desc = args.has(&["descending"]);
            let mut keyed: Vec<(Vec<Value>, Value)> = Vec::new();
            for i in items {
                let mut keys = Vec::new();
                if props.is_empty() {
                    keys.push(i.clone());
                }
                for p in &props {
                    keys.push(property_value(ev, &i, p)?);
                }
                keyed.push((keys, i));
            }
            keyed.sort_by(|a, b| {
                let ord = a
                    .0
                    .iter()
                    .zip(b.0.iter())
                    .map(|(x, y)| ops::compare(x, y, false).unwrap_or(std::cmp::Ordering::Equal))
                    .find(|o| *o != std::cmp::Ordering::Equal)
                    .unwrap_or(std::cmp::Ordering::Equal);
                if desc { ord.reverse() } else { ord }
            });
            if args.has(&["unique"]) {
                keyed.dedup_by(|a, b| {
                    a.0.iter()
                        .zip(b.0.iter())
                        .all(|(x, y)| ops::equals(x, y, false))
                });
            }
            for (_, v) in keyed {
                ev.write_output(v)?;
            }
            Ok(())
        }
        MeasureObject => {
            let props = args
                .get_or_pos(&["property"], 0)
                .map(Value::into_items)
                .unwrap_or_default();
            let targets: Vec<Option<String>> = if props.is_empty() {
                vec![None]
            } else {
                props.iter().map(|p| Some(p.to_string())).collect()
            };
            for prop in targets {
                let vals: Vec<Value> = items
                    .iter()
                    .map(|i| match &prop {
                        Some(p) => ev.member(i, p),
                        None => i.clone(),
                    })
                    .filter(|v| prop.is_none() || !matches!(v, Value::Null))
                    .collect();
                let mut nums = Vec::new();
                let want_num = args.has(&["sum"])
                    || args.has(&["average"])
                    || args.has(&["maximum"])
                    || args.has(&["minimum"]);
                if want_num {
                    for v in &vals {
                        match v.as_f64() {
                            Some(n)
                                if !matches!(
                                    v,
                                    Value::Array(_) | Value::Object(_) | Value::Hashtable(_)
                                ) =>
                            {
                                nums.push(n)
                            }
                            _ => {
                                return Err(ErrorRecord::new("System.Management.Automation.PSInvalidOperationException", format!("Input object \"{v}\" is not numeric."), ErrorCategory::InvalidType)
                                    .with_id("NonNumericInputObject,Microsoft.PowerShell.Commands.MeasureObjectCommand")
                                    .with_activity("Measure-Object")
                                    .into());
                            }
                        }
                    }
                }
                let sum: f64 = nums.iter().sum();
                let opt = |on: bool, v: f64| {
                    if on && !nums.is_empty() {
                        Value::Double(v)
                    } else {
                        Value::Null
                    }
                };
                let obj = PsObject::typed("Microsoft.PowerShell.Commands.GenericMeasureInfo")
                    .with("Count", Value::Int(vals.len() as i32))
                    .with(
                        "Average",
                        opt(args.has(&["average"]), sum / nums.len().max(1) as f64),
                    )
                    .with("Sum", opt(args.has(&["sum"]), sum))
                    .with(
                        "Maximum",
                        opt(
                            args.has(&["maximum"]),
                            nums.iter().copied().fold(f64::MIN, f64::max),
                        ),
                    )
                    .with(
                        "Minimum",
                        opt(
                            args.has(&["minimum"]),
                            nums.iter().copied().fold(f64::MAX, f64::min),
                        ),
                    )
                    .with("Property", prop.map_or(Value::Null, Value::String));
                ev.write_output(Value::Object(Box::new(obj)))?;
            }
            Ok(())
        }
        GroupObject => {
            let props = args
                .get_or_pos(&["property"], 0)
                .map(Value::into_items)
                .unwrap_or_default();
            let mut groups: Vec<(String, Vec<Value>, Vec<Value>)> = Vec::new();
            for i in items {
                let mut keys = Vec::new();
                for p in &props {
                    keys.push(property_value(ev, &i, p)?);
                }
                if props.is_empty() {
                    keys.push(i.clone());
                }
                let name = keys
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ");
                match groups
                    .iter_mut()
                    .find(|(n, _, _)| n.eq_ignore_ascii_case(&name))
                {
                    Some(g) => g.1.push(i),
                    None => groups.push((name, vec![i], keys)),
                }
            }
            for (name, members, keys) in groups {
                let mut o = PsObject::typed("Microsoft.PowerShell.Commands.GroupInfo")
                    .with("Count", Value::Int(members.len() as i32))
                    .with("Name", Value::String(name))
                    .with("Values", Value::Array(keys));
                if !args.has(&["noelement"]) {
                    o.set("Group", Value::Array(members));
                }
                ev.write_output(Value::Object(Box::new(o)))?;
            }
            Ok(())
        }
        OutString => {
            let text = format::format_values(&items);
            if args.has(&["stream"]) {
                for line in text.split("\r\n").filter(|l| !l.is_empty()) {
                    ev.write_output(Value::String(line.to_owned()))?;
                }
                Ok(())
            } else {
                ev.write_output(Value::String(text))
            }
        }
        FormatTable | FormatList => {
            let text = if cmd == FormatList {
                format::format_list(&items)
            } else {
                format::format_values(&items)
            };
            for line in text.split("\r\n") {
                ev.write_output(Value::String(line.to_owned()))?;
            }
            Ok(())
        }
        ConvertToJson => {
            let depth = args.get(&["depth"]).and_then(|d| d.as_i64()).unwrap_or(2) as usize;
            let compress = args.has(&["compress"]);
            let input: Vec<Value> = if items.is_empty() {
                args.get_or_pos(&["inputobject"], 0).into_iter().collect()
            } else {
                items
            };
            let v = if input.len() == 1 {
                input.into_iter().next().unwrap_or(Value::Null)
            } else {
                Value::Array(input)
            };
            ev.write_output(Value::String(format::to_json(&v, depth, compress, 0)))
        }
        _ => Ok(()),
    }
}

fn where_matches(ev: &mut Evaluator<'_>, args: &Args, v: &Value) -> R<bool> {
    let first = args.get_or_pos(&["filterscript"], 0);
    if let Some(sb @ Value::ScriptBlock(_)) = &first {
        let out = ev.collect(|ev| ev.run_scriptblock_items(sb, Some(v.clone())))?;
        return Ok(Value::from_output(out).is_truthy());
    }
    let prop = args
        .get_or_pos(&["property"], 0)
        .map(|p| p.to_string())
        .unwrap_or_default();
    let lhs = ev.member(v, &prop);
    let value_pos = if args.get(&["property"]).is_some() {
        0
    } else {
        1
    };
    let rhs = args
        .get_or_pos(&["value"], value_pos)
        .unwrap_or(Value::Bool(true));
    let ops_list: [(&str, super::ast::CmpOp, bool); 18] = {
        use super::ast::CmpOp::*;
        [
            ("eq", Eq, false),
            ("ne", Ne, false),
            ("gt", Gt, false),
            ("ge", Ge, false),
            ("lt", Lt, false),
            ("le", Le, false),
            ("like", Like, false),
            ("notlike", NotLike, false),
            ("match", Match, false),
            ("notmatch", NotMatch, false),
            ("contains", Contains, false),
            ("notcontains", NotContains, false),
            ("in", In, false),
            ("notin", NotIn, false),
            ("ceq", Eq, true),
            ("cne", Ne, true),
            ("clike", Like, true),
            ("cmatch", Match, true),
        ]
    };
    for (name, op, cs) in ops_list {
        if args.named.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
            return Ok(ops::compare_op(op, &lhs, &rhs, cs)?);
        }
    }
    Ok(lhs.is_truthy())
}

fn select_project(ev: &mut Evaluator<'_>, args: &Args, v: Value) -> R<()> {
    if let Some(exp) = args.get(&["expandproperty"]) {
        let name = exp.to_string();
        let m = ev.member(&v, &name);
        if matches!(m, Value::Null) && v.property(&name).is_none() && !matches!(v, Value::Array(_))
        {
            return ev.write_error(
                ErrorRecord::new(
                    "System.Management.Automation.PSArgumentException",
                    format!("Property \"{name}\" cannot be found."),
                    ErrorCategory::InvalidArgument,
                )
                .with_id("ExpandPropertyNotFound,Microsoft.PowerShell.Commands.SelectObjectCommand")
                .with_target(v.clone())
                .with_activity("Select-Object"),
            );
        }
        for x in m.into_items() {
            ev.write_output(x)?;
        }
        return Ok(());
    }
    let Some(props) = args.get_or_pos(&["property"], 0) else {
        return ev.write_output(v);
    };
    let base = v
        .type_names()
        .first()
        .cloned()
        .unwrap_or_else(|| "System.Object".to_owned());
    let mut o = PsObject {
        type_names: vec![
            format!("Selected.{base}"),
            "System.Management.Automation.PSCustomObject".to_owned(),
            "System.Object".to_owned(),
        ],
        properties: Vec::new(),
        to_string: None,
    };
    for p in props.into_items() {
        match &p {
            Value::Hashtable(h) => {
                let name = h
                    .get("Name")
                    .or_else(|| h.get("N"))
                    .or_else(|| h.get("Label"))
                    .or_else(|| h.get("L"))
                    .map(ToString::to_string)
                    .unwrap_or_default();
                let val = property_value(ev, &v, &p)?;
                o.set(&name, val);
            }
            other => {
                let pat = other.to_string();
                if pat.contains('*') {
                    let names: Vec<String> = match &v {
                        Value::Object(obj) => {
                            obj.properties.iter().map(|(k, _)| k.clone()).collect()
                        }
                        Value::Hashtable(h) => {
                            h.entries().iter().map(|(k, _)| k.to_string()).collect()
                        }
                        _ => Vec::new(),
                    };
                    for n in names.iter().filter(|n| ops::wildcard_match(&pat, n, false)) {
                        o.set(n, ev.member(&v, n));
                    }
                } else {
                    let val = ev.member(&v, &pat);
                    o.set(&pat, val);
                }
            }
        }
    }
    ev.write_output(Value::Object(Box::new(o)))
}

/// A sort/group key: a property name, a script block, or `@{Expression=...}`.
fn property_value(ev: &mut Evaluator<'_>, item: &Value, p: &Value) -> R<Value> {
    match p {
        Value::ScriptBlock(_) => {
            let out = ev.collect(|ev| ev.run_scriptblock_items(p, Some(item.clone())))?;
            Ok(Value::from_output(out))
        }
        Value::Hashtable(h) => {
            let e = h
                .get("Expression")
                .or_else(|| h.get("E"))
                .cloned()
                .unwrap_or(Value::Null);
            property_value(ev, item, &e)
        }
        other => Ok(ev.member(item, &other.to_string())),
    }
}

fn variable_object(name: &str, v: Value) -> Value {
    Value::Object(Box::new(PsObject {
        to_string: Some("System.Management.Automation.PSVariable".to_owned()),
        ..PsObject::typed("System.Management.Automation.PSVariable")
            .with("Name", Value::String(name.to_owned()))
            .with("Value", v)
            .with("Description", Value::String(String::new()))
            .with("Options", Value::String("None".to_owned()))
    }))
}

fn info_record(
    ev: &Evaluator<'_>,
    data: Value,
    source: &str,
    tags: Vec<String>,
) -> InformationRecord {
    let c = &ev.rs.ctx;
    InformationRecord {
        message_data: data,
        source: source.to_owned(),
        time_generated: DateTime::from_system_time(ev.host.now(), c.utc_offset_minutes),
        tags,
        user: format!("{}\\{}", c.user_domain, c.user_name),
        computer: c.computer_name.clone(),
        process_id: c.process_id,
    }
}

fn get_win_event(ev: &mut Evaluator<'_>, args: &Args) -> R<()> {
    let mut log = args.get_or_pos(&["logname"], 0).map(|v| v.to_string());
    let mut ids: Option<Vec<i64>> = None;
    let mut level: Option<i64> = None;
    if let Some(Value::Hashtable(h)) = args.get(&["filterhashtable"]) {
        log = h.get("LogName").map(ToString::to_string).or(log);
        ids = h.get("Id").map(|v| {
            v.clone()
                .into_items()
                .iter()
                .filter_map(Value::as_i64)
                .collect()
        });
        level = h.get("Level").and_then(Value::as_i64);
    }
    let max = args.get(&["maxevents"]).and_then(|v| v.as_i64());
    let mut events = ev.rs.ctx.events.clone();
    events.extend(crate::sessions_table::log_events(
        &ev.rs.ctx.sessions.lock(),
        &ev.rs.ctx.computer_name,
        ev.host.now(),
    ));
    let Some(log) = log else {
        return Err(runtime_error(
            "The LogName parameter is required by the emulator.",
            ErrorCategory::InvalidArgument,
            "LogNameRequired",
        )
        .into());
    };
    if !events
        .iter()
        .any(|e| ops::wildcard_match(&log, &e.log_name, false))
    {
        return ev.write_error(
            ErrorRecord::new(
                "System.Exception",
                format!(
                    "There is not an event log on the localhost computer that matches \"{log}\"."
                ),
                ErrorCategory::ObjectNotFound,
            )
            .with_id("NoMatchingLogsFound,Microsoft.PowerShell.Commands.GetWinEventCommand")
            .with_target(Value::String(log.clone()))
            .with_activity("Get-WinEvent"),
        );
    }
    let mut hits: Vec<_> = events
        .iter()
        .filter(|e| ops::wildcard_match(&log, &e.log_name, false))
        .filter(|e| {
            ids.as_ref()
                .is_none_or(|ids| ids.contains(&i64::from(e.id)))
        })
        .filter(|e| level.is_none_or(|l| l == i64::from(e.level)))
        .collect();
    hits.sort_by_key(|e| e.minutes_ago);
    if let Some(m) = max {
        hits.truncate(m.max(0) as usize);
    }
    if hits.is_empty() {
        return ev.write_error(
            ErrorRecord::new(
                "System.Exception",
                "No events were found that match the specified selection criteria.",
                ErrorCategory::ObjectNotFound,
            )
            .with_id("NoMatchingEventsFound,Microsoft.PowerShell.Commands.GetWinEventCommand")
            .with_activity("Get-WinEvent"),
        );
    }
    let now = DateTime::from_system_time(ev.host.now(), ev.rs.ctx.utc_offset_minutes);
    let machine = ev.rs.ctx.computer_name.clone();
    for (i, e) in hits.into_iter().enumerate() {
        let level_name = match e.level {
            1 => "Critical",
            2 => "Error",
            3 => "Warning",
            _ => "Information",
        };
        let o = PsObject {
            to_string: Some("System.Diagnostics.Eventing.Reader.EventLogRecord".to_owned()),
            ..PsObject::typed("System.Diagnostics.Eventing.Reader.EventLogRecord")
                .with(
                    "TimeCreated",
                    Value::DateTime(now.add_ticks(-e.minutes_ago * 60 * TICKS_PER_SECOND)),
                )
                .with("Id", Value::Int(e.id))
                .with("Level", Value::Int(i32::from(e.level)))
                .with("LevelDisplayName", Value::str(level_name))
                .with("Message", Value::String(e.message.clone()))
                .with("ProviderName", Value::String(e.provider.clone()))
                .with("LogName", Value::String(e.log_name.clone()))
                .with("MachineName", Value::String(machine.clone()))
                .with("RecordId", Value::Long(10_000 - i as i64))
        };
        ev.write_output(Value::Object(Box::new(o)))?;
    }
    Ok(())
}
