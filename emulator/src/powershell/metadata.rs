//! GET_COMMAND_METADATA answers (MS-PSRP 3.1.4.x "getting command metadata"): a count object,
//! then one `CommandMetadata` object per cmdlet of the PowerShell subset matching the names.

use psrp::clixml::{self, Container, PsObject as XObject, Value as X};

/// The cmdlets of the subset, with the module PowerShell ships them in.
const CMDLETS: &[(&str, &str)] = &[
    ("ForEach-Object", "Microsoft.PowerShell.Core"),
    ("Where-Object", "Microsoft.PowerShell.Core"),
    ("Get-Command", "Microsoft.PowerShell.Core"),
    ("Select-Object", "Microsoft.PowerShell.Utility"),
    ("Sort-Object", "Microsoft.PowerShell.Utility"),
    ("Measure-Object", "Microsoft.PowerShell.Utility"),
    ("Write-Output", "Microsoft.PowerShell.Utility"),
    ("Write-Error", "Microsoft.PowerShell.Utility"),
    ("Write-Warning", "Microsoft.PowerShell.Utility"),
    ("Write-Verbose", "Microsoft.PowerShell.Utility"),
    ("Write-Debug", "Microsoft.PowerShell.Utility"),
    ("Write-Information", "Microsoft.PowerShell.Utility"),
    ("Write-Progress", "Microsoft.PowerShell.Utility"),
    ("Write-Host", "Microsoft.PowerShell.Utility"),
    ("Start-Sleep", "Microsoft.PowerShell.Utility"),
    ("Get-Date", "Microsoft.PowerShell.Utility"),
    ("Get-Variable", "Microsoft.PowerShell.Utility"),
    ("Invoke-Expression", "Microsoft.PowerShell.Utility"),
    ("Out-String", "Microsoft.PowerShell.Utility"),
    ("Out-Null", "Microsoft.PowerShell.Core"),
    ("Get-Process", "Microsoft.PowerShell.Management"),
    ("Get-Service", "Microsoft.PowerShell.Management"),
    ("Get-WinEvent", "Microsoft.PowerShell.Diagnostics"),
];

/// Cmdlet names matching any of `patterns` (`*` and `?` wildcards, case-insensitive).
pub fn matching(patterns: &[String]) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = CMDLETS
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| patterns.iter().any(|p| wildcard(p, n)))
        .collect();
    out.sort_unstable();
    out
}

fn wildcard(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_ascii_lowercase().chars().collect();
    let t: Vec<char> = text.to_ascii_lowercase().chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let (mut star, mut mark) = (None, 0usize);
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some(pi);
                mark = ti;
                pi += 1;
            }
            Some(c) if *c == '?' || Some(c) == t.get(ti) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some(s) => {
                    pi = s + 1;
                    mark += 1;
                    ti = mark;
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|c| *c == '*'))
}

/// The `CommandMetadata` object for a cmdlet (MS-PSRP 2.2.3.22).
pub fn cmdlet_info(name: &str) -> X {
    let module = CMDLETS
        .iter()
        .find(|(n, _)| *n == name)
        .map_or("", |(_, m)| *m);
    let output_types = X::object(
        XObject::new()
            .with_type_names([
                "System.Collections.ObjectModel.ReadOnlyCollection`1[[System.Management.Automation.PSTypeName, System.Management.Automation, Version=3.0.0.0, Culture=neutral, PublicKeyToken=31bf3856ad364e35]]",
                "System.Object",
            ])
            .with_container(Container::List(Vec::new())),
    );
    let parameters = X::object(
        XObject::new()
            .with_type_names([
                "System.Collections.Generic.Dictionary`2[[System.String, mscorlib, Version=4.0.0.0, Culture=neutral, PublicKeyToken=b77a5c561934e089],[System.Management.Automation.ParameterMetadata, System.Management.Automation, Version=3.0.0.0, Culture=neutral, PublicKeyToken=31bf3856ad364e35]]",
                "System.Object",
            ])
            .with_container(Container::Dictionary(Vec::new())),
    );
    X::object(
        XObject::new()
            .with_type_names([
                "Selected.System.Management.Automation.CmdletInfo",
                "System.Management.Automation.PSCustomObject",
                "System.Object",
            ])
            .with_member("Name", name)
            .with_member("Namespace", module)
            .with_member("HelpUri", "")
            .with_member(
                "CommandType",
                clixml::enum_value("System.Management.Automation.CommandTypes", "Cmdlet", 8),
            )
            .with_member("OutputType", output_types)
            .with_member("Parameters", parameters),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_like_powershell() {
        assert!(wildcard("Get-*", "Get-Date"));
        assert!(wildcard("*-object", "ForEach-Object"));
        assert!(wildcard("Get-Dat?", "Get-Date"));
        assert!(!wildcard("Get-*", "Write-Host"));
        assert!(wildcard("*", "anything"));
        assert_eq!(
            matching(&["Write-*o*".into()]),
            [
                "Write-Error",
                "Write-Host",
                "Write-Information",
                "Write-Output",
                "Write-Progress",
                "Write-Verbose"
            ]
        );
        assert!(matching(&["nothing-like-this".into()]).is_empty());
    }

    #[test]
    fn metadata_objects_name_the_cmdlet() {
        let v = cmdlet_info("Get-Date");
        let o = v.as_object().expect("an object");
        assert_eq!(o.property_str("Name"), Some("Get-Date"));
        assert_eq!(
            o.property_str("Namespace"),
            Some("Microsoft.PowerShell.Utility")
        );
    }
}
