//! PowerShell's SMB session cmdlets over the session table: `Get-SmbSession` returns
//! `MSFT_SmbSession` CIM instances, `Close-SmbSession` closes them (`-Force` skips the
//! confirmation a remote, non-interactive host cannot answer). Both need Administrators, as on
//! Windows ("Access denied", `Windows System Error 5`).

use std::sync::Arc;
use std::time::SystemTime;

use super::SmbSession;
use crate::engine::custom::{CommandFailure, CustomCommand, Invocation};
use crate::engine::ops;
use crate::engine::value::{ErrorCategory, ErrorRecord, PsObject, Value};

/// CIM class type name of `Get-SmbSession`'s objects.
pub const SMB_SESSION_TYPE: &str =
    "Microsoft.Management.Infrastructure.CimInstance#ROOT/Microsoft/Windows/SMB/MSFT_SmbSession";

/// The cmdlets of this module, for [`crate::engine::Runspace::register`].
pub fn commands() -> Vec<Arc<dyn CustomCommand>> {
    vec![Arc::new(GetSmbSession), Arc::new(CloseSmbSession)]
}

/// `Get-SmbSession [[-SessionId] <UInt64[]>] [-ClientComputerName <String[]>]
/// [-ClientUserName <String[]>]`.
#[derive(Debug)]
pub struct GetSmbSession;

/// `Close-SmbSession [[-SessionId] <UInt64[]>] [-ClientComputerName <String[]>]
/// [-ClientUserName <String[]>] [-Force]`, or sessions from the pipeline.
#[derive(Debug)]
pub struct CloseSmbSession;

impl CustomCommand for GetSmbSession {
    fn name(&self) -> &str {
        "Get-SmbSession"
    }

    fn invoke(&self, inv: &mut Invocation<'_, '_>) -> Result<(), CommandFailure> {
        let cmdlet = "Get-SmbSession";
        if !inv.context().is_admin {
            return Err(access_denied(cmdlet));
        }
        let filter = Filter::from_invocation(inv, cmdlet)?;
        let now = inv.now();
        let computer = inv.context().computer_name.clone();
        let sessions: Vec<SmbSession> = inv.context().sessions.lock().smb().to_vec();
        let hits: Vec<&SmbSession> = sessions.iter().filter(|s| filter.matches(s)).collect();
        if hits.is_empty() {
            if let Some(e) = filter.not_found(cmdlet) {
                inv.write_error(e);
            }
            return Ok(());
        }
        for s in hits {
            inv.write_output(to_object(s, now, &computer))?;
        }
        Ok(())
    }
}

impl CustomCommand for CloseSmbSession {
    fn name(&self) -> &str {
        "Close-SmbSession"
    }

    fn invoke(&self, inv: &mut Invocation<'_, '_>) -> Result<(), CommandFailure> {
        let cmdlet = "Close-SmbSession";
        if !inv.context().is_admin {
            return Err(access_denied(cmdlet));
        }
        let mut filter = Filter::from_invocation(inv, cmdlet)?;
        for v in &inv.input {
            if let Some(id) = v.property("SessionId").and_then(|v| v.as_i64()) {
                filter.ids.push(id as u64);
            }
        }
        if filter.is_empty() && inv.input.is_empty() {
            filter.all = true;
        }
        let force = inv.arg("Force").is_some_and(Value::is_truthy);
        if !force {
            return Err(CommandFailure::Terminating(Box::new(
                ErrorRecord::new(
                    "System.Management.Automation.Host.HostException",
                    "Windows PowerShell is in NonInteractive mode. Read and Prompt functionality is not available.",
                    ErrorCategory::ResourceUnavailable,
                )
                .with_id("HostFunctionNotImplemented,Microsoft.Management.Infrastructure.CimCmdlets.CloseSmbSession")
                .with_activity(cmdlet),
            )));
        }
        let now = inv.now();
        let by = inv.context().user_name.clone();
        let closed = {
            let mut t = inv.context().sessions.lock();
            t.close_smb(&by, now, |s| filter.matches(s))
        };
        if closed.is_empty()
            && let Some(e) = filter.not_found(cmdlet)
        {
            inv.write_error(e);
        }
        Ok(())
    }
}

/// Selection by `-SessionId`, `-ClientComputerName`, `-ClientUserName` (wildcards allowed for
/// the names, as CIM cmdletization does).
#[derive(Debug, Default)]
struct Filter {
    ids: Vec<u64>,
    computers: Vec<String>,
    users: Vec<String>,
    all: bool,
}

impl Filter {
    fn from_invocation(inv: &Invocation<'_, '_>, cmdlet: &str) -> Result<Self, CommandFailure> {
        let mut f = Self::default();
        let ids = inv
            .arg("SessionId")
            .cloned()
            .or_else(|| inv.positional.first().cloned());
        if let Some(v) = ids {
            for item in v.into_items() {
                match item
                    .as_i64()
                    .or_else(|| item.to_string().trim().parse().ok())
                {
                    Some(n) if n >= 0 => f.ids.push(n as u64),
                    _ => {
                        return Err(CommandFailure::Terminating(Box::new(
                            ErrorRecord::new(
                                "System.Management.Automation.ParameterBindingException",
                                format!(
                                    "Cannot process argument transformation on parameter 'SessionId'. Cannot convert value \"{item}\" to type \"System.UInt64[]\"."
                                ),
                                ErrorCategory::InvalidData,
                            )
                            .with_id(&format!("ParameterArgumentTransformationError,{cmdlet}"))
                            .with_activity(cmdlet),
                        )));
                    }
                }
            }
        }
        let strings = |name: &str| -> Vec<String> {
            inv.arg(name)
                .map(|v| {
                    v.clone()
                        .into_items()
                        .iter()
                        .map(ToString::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        f.computers = strings("ClientComputerName");
        f.users = strings("ClientUserName");
        Ok(f)
    }

    fn is_empty(&self) -> bool {
        self.ids.is_empty() && self.computers.is_empty() && self.users.is_empty()
    }

    fn matches(&self, s: &SmbSession) -> bool {
        if self.all {
            return true;
        }
        let id_ok = self.ids.is_empty() || self.ids.contains(&s.session_id);
        let client = s.client.trim_start_matches('\\');
        let pc_ok = self.computers.is_empty()
            || self.computers.iter().any(|p| {
                let p = p.trim_start_matches('\\');
                ops::wildcard_match(p, client, false)
            });
        let user_ok = self.users.is_empty()
            || self.users.iter().any(|p| {
                let account = p.rsplit('\\').next().unwrap_or(p);
                ops::wildcard_match(account, &s.user, false)
            });
        id_ok && pc_ok && user_ok
    }

    /// CIM cmdletization's "not found" error for the first exact key that matched nothing.
    fn not_found(&self, cmdlet: &str) -> Option<ErrorRecord> {
        let (prop, value) = if let Some(id) = self.ids.first() {
            ("SessionId", id.to_string())
        } else if let Some(c) = self.computers.iter().find(|c| !has_wildcard(c)) {
            ("ClientComputerName", c.clone())
        } else if let Some(u) = self.users.iter().find(|u| !has_wildcard(u)) {
            ("ClientUserName", u.clone())
        } else {
            return None;
        };
        Some(
            ErrorRecord::new(
                "Microsoft.Management.Infrastructure.CimException",
                format!(
                    "No MSFT_SmbSession objects found with property '{prop}' equal to '{value}'.  Verify the value of the property and retry."
                ),
                ErrorCategory::ObjectNotFound,
            )
            .with_id(&format!("CmdletizationQuery_NotFound_{prop},{cmdlet}"))
            .with_target(Value::String(value))
            .with_activity(cmdlet),
        )
    }
}

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

fn access_denied(cmdlet: &str) -> CommandFailure {
    CommandFailure::Terminating(Box::new(
        ErrorRecord::new(
            "Microsoft.Management.Infrastructure.CimException",
            "Access denied ",
            ErrorCategory::PermissionDenied,
        )
        .with_id(&format!("Windows System Error 5,{cmdlet}"))
        .with_target(Value::String("MSFT_SmbSession".to_owned()))
        .with_activity(cmdlet),
    ))
}

/// The `MSFT_SmbSession` instance for a session.
pub fn to_object(s: &SmbSession, now: SystemTime, computer: &str) -> Value {
    let secs = |t: SystemTime| now.duration_since(t).unwrap_or_default().as_secs() as i64;
    let client = s.client.trim_start_matches('\\').to_owned();
    Value::Object(Box::new(PsObject {
        type_names: vec![
            SMB_SESSION_TYPE.to_owned(),
            "Microsoft.Management.Infrastructure.CimInstance#MSFT_SmbSession".to_owned(),
            "Microsoft.Management.Infrastructure.CimInstance".to_owned(),
            "System.Object".to_owned(),
        ],
        properties: vec![
            ("SessionId".to_owned(), Value::Long(s.session_id as i64)),
            ("ClientComputerName".to_owned(), Value::String(client)),
            (
                "ClientUserName".to_owned(),
                Value::String(format!("{computer}\\{}", s.user)),
            ),
            ("NumOpens".to_owned(), Value::Long(i64::from(s.open_files))),
            ("ScopeName".to_owned(), Value::str("*")),
            (
                "SecondsExists".to_owned(),
                Value::Long(secs(s.connected_at)),
            ),
            ("SecondsIdle".to_owned(), Value::Long(secs(s.last_active))),
            ("Dialect".to_owned(), Value::String(s.dialect.clone())),
            ("TransportName".to_owned(), Value::str("TCP")),
            ("Encrypted".to_owned(), Value::Bool(false)),
            ("Signed".to_owned(), Value::Bool(true)),
            ("ClusterNodeName".to_owned(), Value::str("")),
            ("PSComputerName".to_owned(), Value::Null),
        ],
        to_string: Some(format!("MSFT_SmbSession (SessionId = {})", s.session_id)),
    }))
}
