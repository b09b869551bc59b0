//! The PowerShell side's fake file system and `env:` drive: `New-Item`, `Test-Path` and
//! `Get-Content` see the files of [`EngineContext::files`](super::EngineContext) plus what
//! `New-Item` created in this runspace (session state, like variables).
//!
//! Paths are Windows paths on drive `C:` (relative ones resolve against the remote session's
//! default location, `C:\Users\<user>\Documents`); directories exist when they are one of a few
//! well-known ones, were created, or lie above an existing file or directory.

use super::builtins::Args;
use super::eval::{Evaluator, R};
use super::time::DateTime;
use super::value::{ErrorCategory, ErrorRecord, PsObject, Value};

/// Directories and files created in a runspace.
#[derive(Debug, Clone, Default)]
pub(crate) struct FakeFs {
    dirs: Vec<String>,
    files: Vec<(String, String)>,
}

/// Where a path points.
enum Target {
    Env(String),
    File(String),
}

const PROVIDER: &str = "Microsoft.PowerShell.Core\\FileSystem::";

impl FakeFs {
    fn well_known(user: &str) -> Vec<String> {
        [
            "C:\\".to_owned(),
            "C:\\Program Files".to_owned(),
            "C:\\Windows\\System32".to_owned(),
            "C:\\Windows\\Temp".to_owned(),
            format!("C:\\Users\\{user}\\Documents"),
            format!("C:\\Users\\{user}\\AppData\\Local\\Temp"),
        ]
        .into()
    }

    /// Whether `path` (normalized) is an existing directory.
    fn is_dir(&self, ev: &Evaluator<'_>, path: &str) -> bool {
        let ctx = &ev.rs.ctx;
        let want = path.to_ascii_lowercase();
        let prefix = if want.ends_with('\\') {
            want.clone()
        } else {
            format!("{want}\\")
        };
        let covers = |p: &str| {
            let p = p.to_ascii_lowercase();
            p == want || p.starts_with(&prefix)
        };
        Self::well_known(&ctx.user_name).iter().any(|d| covers(d))
            || self.dirs.iter().any(|d| covers(d))
            || self
                .files
                .iter()
                .any(|(f, _)| f.len() > path.len() && covers(f))
            || ctx
                .files
                .iter()
                .any(|(f, _)| f.len() > path.len() && covers(f))
    }

    /// The content of the file at `path` (normalized), if it exists.
    pub(crate) fn file(&self, ev: &Evaluator<'_>, path: &str) -> Option<String> {
        self.files
            .iter()
            .rev()
            .chain(ev.rs.ctx.files.iter())
            .find(|(p, _)| p.eq_ignore_ascii_case(path))
            .map(|(_, c)| c.clone())
    }
}

/// The remote session's current location.
fn cwd(ev: &Evaluator<'_>) -> String {
    format!("C:\\Users\\{}\\Documents", ev.rs.ctx.user_name)
}

/// Resolves a path for a cmdlet: `env:NAME`, or a normalized absolute path on `C:`.
fn resolve(ev: &Evaluator<'_>, raw: &str, cmdlet: &str) -> Result<Target, Box<ErrorRecord>> {
    let raw = raw.trim();
    let stripped = raw
        .get(..PROVIDER.len())
        .filter(|p| p.eq_ignore_ascii_case(PROVIDER))
        .map_or(raw, |_| &raw[PROVIDER.len()..]);
    if let Some((drive, rest)) = stripped.split_once(':') {
        if drive.eq_ignore_ascii_case("env") {
            return Ok(Target::Env(rest.trim_start_matches(['\\', '/']).to_owned()));
        }
        if !drive.eq_ignore_ascii_case("c") {
            return Err(Box::new(
                ErrorRecord::new(
                    "System.Management.Automation.DriveNotFoundException",
                    format!("Cannot find drive. A drive with the name '{drive}' does not exist."),
                    ErrorCategory::ObjectNotFound,
                )
                .with_id(&format!(
                    "DriveNotFound,Microsoft.PowerShell.Commands.{cmdlet}Command"
                ))
                .with_target(Value::String(drive.to_owned())),
            ));
        }
        return Ok(Target::File(normalize(&format!("C:\\{rest}"))));
    }
    Ok(Target::File(normalize(&format!("{}\\{stripped}", cwd(ev)))))
}

/// `C:\a\.\b\..\c\` → `C:\a\c`; `/` separators become `\`; the root stays `C:\`.
fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.get(3..).unwrap_or_default().split(['\\', '/']) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("C:\\{}", parts.join("\\"))
}

fn parent(path: &str) -> Option<&str> {
    let cut = path.rfind('\\')?;
    if cut + 1 == path.len() {
        return None;
    }
    Some(if cut == 2 { &path[..3] } else { &path[..cut] })
}

fn leaf(path: &str) -> &str {
    path.rsplit('\\').next().unwrap_or(path)
}

fn join(base: &str, name: &str) -> String {
    if base.is_empty() {
        name.to_owned()
    } else if base.ends_with(['\\', '/', ':']) {
        format!("{base}{name}")
    } else {
        format!("{base}\\{name}")
    }
}

fn fs_error(exception: &str, message: String, category: ErrorCategory, id: &str) -> ErrorRecord {
    ErrorRecord::new(exception, message, category)
        .with_id(&format!(
            "{id},Microsoft.PowerShell.Commands.NewItemCommand"
        ))
        .with_activity("New-Item")
}

/// `New-Item [-Path] <string[]> [-Name <string>] [-ItemType File|Directory] [-Value <object>]
/// [-Force]`, on `C:` and `env:`.
pub(crate) fn new_item(ev: &mut Evaluator<'_>, args: &Args, item: Option<Value>) -> R<()> {
    let paths: Vec<String> = args
        .get_or_pos(&["path"], 0)
        .map(|p| p.into_items().iter().map(ToString::to_string).collect())
        .unwrap_or_else(|| vec![String::new()]);
    let name = args.get(&["name"]).map(|n| n.to_string());
    let kind = args
        .get(&["itemtype", "type"])
        .map(|t| t.to_string().to_ascii_lowercase());
    let value = args.get(&["value"]).or(item);
    let force = args.has(&["force"]);
    for raw in paths {
        let full = match &name {
            Some(n) => join(&raw, n),
            None if raw.is_empty() => {
                return Err(fs_error(
                    "System.Management.Automation.PSArgumentException",
                    "Cannot bind argument to parameter 'Path' because it is an empty string."
                        .to_owned(),
                    ErrorCategory::InvalidData,
                    "ParameterArgumentValidationErrorEmptyStringNotAllowed",
                )
                .into());
            }
            None => raw.clone(),
        };
        let target = match resolve(ev, &full, "NewItem") {
            Ok(t) => t,
            Err(e) => {
                ev.write_error(e.with_activity("New-Item"))?;
                continue;
            }
        };
        match target {
            Target::Env(var) => new_env(ev, &var, value.as_ref(), force)?,
            Target::File(path) => new_fs_item(ev, &path, kind.as_deref(), value.as_ref(), force)?,
        }
    }
    Ok(())
}

fn new_env(ev: &mut Evaluator<'_>, var: &str, value: Option<&Value>, force: bool) -> R<()> {
    if var.is_empty() {
        return ev.write_error(fs_error(
            "System.Management.Automation.PSArgumentException",
            "The name of the item to create is missing: give it in -Path env:NAME or -Name."
                .to_owned(),
            ErrorCategory::InvalidArgument,
            "NewItemNameMissing",
        ));
    }
    let key = format!("env:{var}");
    if !force && ev.get_var(&key).is_some() {
        return ev.write_error(
            fs_error(
                "System.Management.Automation.SessionStateException",
                format!("The item at path '{var}' already exists."),
                ErrorCategory::ResourceExists,
                "NewItemAlreadyExists",
            )
            .with_target(Value::String(var.to_owned())),
        );
    }
    let text = value.map(ToString::to_string).unwrap_or_default();
    ev.set_var(&key, Value::String(text.clone()));
    let entry = PsObject {
        to_string: Some("System.Collections.DictionaryEntry".to_owned()),
        type_names: vec![
            "System.Collections.DictionaryEntry".to_owned(),
            "System.ValueType".to_owned(),
            "System.Object".to_owned(),
        ],
        properties: Vec::new(),
    }
    .with("Name", Value::String(var.to_owned()))
    .with("Key", Value::String(var.to_owned()))
    .with("Value", Value::String(text));
    ev.write_output(Value::Object(Box::new(entry)))
}

fn new_fs_item(
    ev: &mut Evaluator<'_>,
    path: &str,
    kind: Option<&str>,
    value: Option<&Value>,
    force: bool,
) -> R<()> {
    let fs = ev.rs.fs.clone();
    let exists_dir = fs.is_dir(ev, path);
    let exists_file = fs.file(ev, path).is_some();
    let target = Value::String(path.to_owned());
    match kind.unwrap_or("file") {
        "directory" | "container" => {
            if (exists_dir && !force) || exists_file {
                return ev.write_error(
                    fs_error(
                        "System.IO.IOException",
                        format!("An item with the specified name {path} already exists."),
                        ErrorCategory::ResourceExists,
                        "DirectoryExist",
                    )
                    .with_target(target),
                );
            }
            if !exists_dir {
                ev.rs.fs.dirs.push(path.to_owned());
            }
            let info = item_info(ev, path, None);
            ev.write_output(info)
        }
        "file" | "leaf" => {
            if exists_dir {
                return ev.write_error(
                    fs_error(
                        "System.UnauthorizedAccessException",
                        format!("Access to the path '{path}' is denied."),
                        ErrorCategory::PermissionDenied,
                        "NewItemUnauthorizedAccessError",
                    )
                    .with_target(target),
                );
            }
            if exists_file && !force {
                return ev.write_error(
                    fs_error(
                        "System.IO.IOException",
                        format!("The file '{path}' already exists."),
                        ErrorCategory::WriteError,
                        "NewItemIOError",
                    )
                    .with_target(target),
                );
            }
            let parent_ok = parent(path).is_some_and(|p| fs.is_dir(ev, p));
            if !parent_ok && !force {
                return ev.write_error(
                    fs_error(
                        "System.IO.DirectoryNotFoundException",
                        format!("Could not find a part of the path '{path}'."),
                        ErrorCategory::WriteError,
                        "NewItemIOError",
                    )
                    .with_target(target),
                );
            }
            let content = value.map(ToString::to_string).unwrap_or_default();
            let files = &mut ev.rs.fs.files;
            files.retain(|(p, _)| !p.eq_ignore_ascii_case(path));
            files.push((path.to_owned(), content.clone()));
            let info = item_info(ev, path, Some(content.len() as i64));
            ev.write_output(info)
        }
        other => ev.write_error(fs_error(
            "System.ArgumentException",
            format!("The type '{other}' is not a known type for the file system. Only \"file\",\"directory\" or \"symboliclink\" can be specified."),
            ErrorCategory::InvalidArgument,
            "Argument",
        )),
    }
}

/// A `FileInfo` (with `length`) or `DirectoryInfo` as PowerShell's FileSystem provider returns
/// them, with the provider's `PS*` note properties.
fn item_info(ev: &Evaluator<'_>, path: &str, length: Option<i64>) -> Value {
    let now = DateTime::from_system_time(ev.host.now(), ev.rs.ctx.utc_offset_minutes);
    let utc = Value::DateTime(now.to_utc());
    let now = Value::DateTime(now);
    let name = leaf(path).to_owned();
    let parent_path = parent(path).unwrap_or_default().to_owned();
    let s = |v: &str| Value::String(v.to_owned());
    let type_name = if length.is_some() {
        "System.IO.FileInfo"
    } else {
        "System.IO.DirectoryInfo"
    };
    let mut o = PsObject {
        to_string: Some(path.to_owned()),
        type_names: vec![
            type_name.to_owned(),
            "System.IO.FileSystemInfo".to_owned(),
            "System.MarshalByRefObject".to_owned(),
            "System.Object".to_owned(),
        ],
        properties: Vec::new(),
    }
    .with("PSPath", Value::String(format!("{PROVIDER}{path}")))
    .with(
        "PSParentPath",
        Value::String(format!("{PROVIDER}{parent_path}")),
    )
    .with("PSChildName", s(&name))
    .with("PSDrive", s("C"))
    .with("PSProvider", s("Microsoft.PowerShell.Core\\FileSystem"))
    .with("PSIsContainer", Value::Bool(length.is_none()));
    let (base, ext) = match name.rfind('.') {
        Some(i) if i > 0 => (name[..i].to_owned(), name[i..].to_owned()),
        _ => (name.clone(), String::new()),
    };
    match length {
        Some(len) => {
            o = o
                .with("Mode", s("-a----"))
                .with("BaseName", s(&base))
                .with("Name", s(&name))
                .with("Length", Value::Long(len))
                .with("DirectoryName", s(&parent_path))
                .with("Directory", s(&parent_path))
                .with("IsReadOnly", Value::Bool(false))
                .with("Exists", Value::Bool(true))
                .with("FullName", s(path))
                .with("Extension", s(&ext))
                .with("Attributes", s("Archive"));
        }
        None => {
            o = o
                .with("Mode", s("d-----"))
                .with("BaseName", s(&name))
                .with("Name", s(&name))
                // A nested DirectoryInfo serializes as its ToString(): the full path.
                .with("Parent", s(&parent_path))
                .with("Exists", Value::Bool(true))
                .with("Root", s("C:\\"))
                .with("FullName", s(path))
                .with("Extension", s(&ext))
                .with("Attributes", s("Directory"));
        }
    }
    for (prop, v) in [
        ("CreationTime", &now),
        ("CreationTimeUtc", &utc),
        ("LastAccessTime", &now),
        ("LastAccessTimeUtc", &utc),
        ("LastWriteTime", &now),
        ("LastWriteTimeUtc", &utc),
    ] {
        o = o.with(prop, v.clone());
    }
    Value::Object(Box::new(o))
}

/// `Test-Path [-Path] <string[]> [-PathType Any|Container|Leaf]`: one Boolean per path.
pub(crate) fn test_path(ev: &mut Evaluator<'_>, args: &Args) -> R<()> {
    let paths: Vec<String> = args
        .get_or_pos(&["path", "literalpath"], 0)
        .map(|p| p.into_items().iter().map(ToString::to_string).collect())
        .unwrap_or_default();
    let want = args
        .get(&["pathtype"])
        .map(|t| t.to_string().to_ascii_lowercase());
    for raw in paths {
        let found = match resolve(ev, &raw, "TestPath") {
            Ok(Target::Env(var)) if var.is_empty() => want.as_deref() != Some("leaf"),
            Ok(Target::Env(var)) => {
                want.as_deref() != Some("container") && ev.get_var(&format!("env:{var}")).is_some()
            }
            Ok(Target::File(path)) => {
                let fs = &ev.rs.fs;
                let dir = fs.is_dir(ev, &path);
                let file = fs.file(ev, &path).is_some();
                match want.as_deref() {
                    Some("container") => dir,
                    Some("leaf") => file,
                    _ => dir || file,
                }
            }
            Err(_) => false,
        };
        ev.write_output(Value::Bool(found))?;
    }
    Ok(())
}

/// Normalized path for `Get-Content`: `None` for other drives.
pub(crate) fn content(ev: &Evaluator<'_>, raw: &str) -> Option<String> {
    match resolve(ev, raw, "GetContent") {
        Ok(Target::File(path)) => ev.rs.fs.file(ev, &path),
        Ok(Target::Env(var)) => ev.get_var(&format!("env:{var}")).map(|v| v.to_string()),
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_normalize_and_split() {
        assert_eq!(normalize("C:\\a\\.\\b\\..\\c\\"), "C:\\a\\c");
        assert_eq!(normalize("C:/x/y"), "C:\\x\\y");
        assert_eq!(normalize("C:\\..\\.."), "C:\\");
        assert_eq!(parent("C:\\a\\b"), Some("C:\\a"));
        assert_eq!(parent("C:\\a"), Some("C:\\"));
        assert_eq!(parent("C:\\"), None);
        assert_eq!(leaf("C:\\a\\b.txt"), "b.txt");
        assert_eq!(join("env:", "X"), "env:X");
        assert_eq!(join("C:\\t", "x"), "C:\\t\\x");
    }
}
