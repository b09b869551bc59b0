//! The engine's value model, kept close to what CLIXML needs: primitive types, ordered
//! case-insensitive hashtables, and objects with a type-name list and ordered properties.

use std::fmt;
use std::sync::Arc;

use super::ast::ScriptBlockAst;
use super::time::{DateTime, TimeSpan};

/// A PowerShell value.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// `$null`.
    Null,
    /// `System.Boolean`.
    Bool(bool),
    /// `System.Int32`.
    Int(i32),
    /// `System.Int64`.
    Long(i64),
    /// `System.Double`.
    Double(f64),
    /// `System.String`.
    String(String),
    /// `System.Char`.
    Char(char),
    /// `System.DateTime` with its UTC offset.
    DateTime(DateTime),
    /// `System.TimeSpan`.
    TimeSpan(TimeSpan),
    /// `System.Guid`.
    Guid(uuid::Uuid),
    /// `System.Object[]`.
    Array(Vec<Value>),
    /// `System.Collections.Hashtable` (insertion-ordered, case-insensitive keys).
    Hashtable(Hashtable),
    /// A PSObject: `PSCustomObject` or a fake .NET object such as a process.
    Object(Box<PsObject>),
    /// `System.Management.Automation.ScriptBlock`.
    ScriptBlock(ScriptBlock),
    /// `System.Management.Automation.ErrorRecord` (e.g. `$_` in a catch block, or `2>&1`).
    ErrorRecord(Box<ErrorRecord>),
}

impl Value {
    /// A string value.
    pub fn str(s: impl Into<String>) -> Self {
        Self::String(s.into())
    }

    /// The .NET type names, most derived first, as CLIXML's `<TN>` lists them.
    pub fn type_names(&self) -> Vec<String> {
        let v: &[&str] = match self {
            Self::Null => &[],
            Self::Bool(_) => &["System.Boolean", "System.ValueType", "System.Object"],
            Self::Int(_) => &["System.Int32", "System.ValueType", "System.Object"],
            Self::Long(_) => &["System.Int64", "System.ValueType", "System.Object"],
            Self::Double(_) => &["System.Double", "System.ValueType", "System.Object"],
            Self::String(_) => &["System.String", "System.Object"],
            Self::Char(_) => &["System.Char", "System.ValueType", "System.Object"],
            Self::DateTime(_) => &["System.DateTime", "System.ValueType", "System.Object"],
            Self::TimeSpan(_) => &["System.TimeSpan", "System.ValueType", "System.Object"],
            Self::Guid(_) => &["System.Guid", "System.ValueType", "System.Object"],
            Self::Array(_) => &["System.Object[]", "System.Array", "System.Object"],
            Self::Hashtable(_) => &["System.Collections.Hashtable", "System.Object"],
            Self::Object(o) => return o.type_names.clone(),
            Self::ScriptBlock(_) => &["System.Management.Automation.ScriptBlock", "System.Object"],
            Self::ErrorRecord(_) => &["System.Management.Automation.ErrorRecord", "System.Object"],
        };
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    /// The short type name used in messages (`Int32`, `String`, `Object[]`).
    pub fn short_type_name(&self) -> String {
        match self.type_names().first() {
            Some(t) => t.rsplit('.').next().unwrap_or(t).to_owned(),
            None => "null".to_owned(),
        }
    }

    /// PowerShell's truthiness (`[bool]$x`).
    pub fn is_truthy(&self) -> bool {
        match self {
            Self::Null => false,
            Self::Bool(b) => *b,
            Self::Int(i) => *i != 0,
            Self::Long(i) => *i != 0,
            Self::Double(d) => *d != 0.0,
            Self::String(s) => !s.is_empty(),
            Self::Char(c) => *c != '\0',
            Self::Array(a) => match a.len() {
                0 => false,
                1 => a.first().is_some_and(Self::is_truthy),
                _ => true,
            },
            _ => true,
        }
    }

    /// Whether this is a number type.
    pub fn is_numeric(&self) -> bool {
        matches!(self, Self::Int(_) | Self::Long(_) | Self::Double(_))
    }

    /// The value as f64 when numeric (or numeric-looking string).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Self::Int(i) => Some(f64::from(*i)),
            Self::Long(i) => Some(*i as f64),
            Self::Double(d) => Some(*d),
            Self::Bool(b) => Some(f64::from(u8::from(*b))),
            Self::Char(c) => Some(f64::from(u32::from(*c))),
            Self::String(s) => parse_number(s.trim()).and_then(|v| v.as_f64()),
            Self::Null => Some(0.0),
            _ => None,
        }
    }

    /// The value as i64 when it is an integral number (or converts to one).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Self::Int(i) => Some(i64::from(*i)),
            Self::Long(i) => Some(*i),
            Self::Double(d) => Some(round_half_even(*d) as i64),
            Self::Bool(b) => Some(i64::from(*b)),
            Self::Char(c) => Some(i64::from(u32::from(*c))),
            Self::String(s) => parse_number(s.trim()).and_then(|v| v.as_i64()),
            Self::Null => Some(0),
            _ => None,
        }
    }

    /// Enumerate as PowerShell does when writing to a pipeline: arrays unroll, other values are
    /// one item, `$null` is one `$null` item.
    pub fn into_items(self) -> Vec<Self> {
        match self {
            Self::Array(a) => a,
            other => vec![other],
        }
    }

    /// A property by name (case-insensitive) for objects, hashtables and a few intrinsic ones.
    pub fn property(&self, name: &str) -> Option<Self> {
        match self {
            Self::Object(o) => o.get(name).cloned(),
            Self::Hashtable(h) => h.get(name).cloned(),
            _ => None,
        }
    }

    /// Wraps a list: one item stays itself, none is `$null`, more is an array (statement output).
    pub fn from_output(mut items: Vec<Self>) -> Self {
        match items.len() {
            0 => Self::Null,
            1 => items.pop().unwrap_or(Self::Null),
            _ => Self::Array(items),
        }
    }
}

impl fmt::Display for Value {
    /// The .NET `ToString()` rendering PowerShell uses when converting to string.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => Ok(()),
            Self::Bool(true) => f.write_str("True"),
            Self::Bool(false) => f.write_str("False"),
            Self::Int(i) => write!(f, "{i}"),
            Self::Long(i) => write!(f, "{i}"),
            Self::Double(d) => f.write_str(&format_double(*d)),
            Self::String(s) => f.write_str(s),
            Self::Char(c) => write!(f, "{c}"),
            Self::DateTime(d) => f.write_str(&d.to_default_string()),
            Self::TimeSpan(t) => f.write_str(&t.to_string()),
            Self::Guid(g) => write!(f, "{g}"),
            Self::Array(a) => {
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{v}")?;
                }
                Ok(())
            }
            Self::Hashtable(_) => f.write_str("System.Collections.Hashtable"),
            Self::Object(o) => f.write_str(&o.to_display_string()),
            Self::ScriptBlock(s) => f.write_str(&s.text),
            Self::ErrorRecord(e) => f.write_str(&e.message),
        }
    }
}

/// An insertion-ordered hashtable with case-insensitive string keys.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Hashtable {
    entries: Vec<(Value, Value)>,
    /// Created by `[ordered]@{}` (`System.Collections.Specialized.OrderedDictionary`).
    pub ordered: bool,
}

impl Hashtable {
    /// An empty hashtable.
    pub fn new() -> Self {
        Self::default()
    }

    /// Inserts or replaces a value.
    pub fn insert(&mut self, key: Value, value: Value) {
        if let Some(slot) = self.entries.iter_mut().find(|(k, _)| key_eq(k, &key)) {
            slot.1 = value;
        } else {
            self.entries.push((key, value));
        }
    }

    /// Looks a key up by its string form, case-insensitively.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries
            .iter()
            .find(|(k, _)| k.to_string().eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    }

    /// Looks a key up by value.
    pub fn get_value(&self, key: &Value) -> Option<&Value> {
        self.entries
            .iter()
            .find(|(k, _)| key_eq(k, key))
            .map(|(_, v)| v)
    }

    /// Removes a key.
    pub fn remove(&mut self, key: &Value) {
        self.entries.retain(|(k, _)| !key_eq(k, key));
    }

    /// The entries in insertion order.
    pub fn entries(&self) -> &[(Value, Value)] {
        &self.entries
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn key_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.eq_ignore_ascii_case(y),
        _ => a == b || a.to_string().eq_ignore_ascii_case(&b.to_string()),
    }
}

/// A PSObject: type names (most derived first) and ordered, case-insensitive properties.
#[derive(Debug, Clone, PartialEq)]
pub struct PsObject {
    /// Type names as CLIXML's `<TN>` lists them.
    pub type_names: Vec<String>,
    /// Properties in order (CLIXML `<MS>` for PSCustomObject, `<Props>` for .NET objects).
    pub properties: Vec<(String, Value)>,
    /// `ToString()` override (`<ToString>` in CLIXML); `None` uses the default.
    pub to_string: Option<String>,
}

impl PsObject {
    /// An empty `PSCustomObject`.
    pub fn custom() -> Self {
        Self {
            type_names: vec![
                "System.Management.Automation.PSCustomObject".to_owned(),
                "System.Object".to_owned(),
            ],
            properties: Vec::new(),
            to_string: None,
        }
    }

    /// An object of a given .NET type (base type `System.Object` appended).
    pub fn typed(type_name: &str) -> Self {
        Self {
            type_names: vec![type_name.to_owned(), "System.Object".to_owned()],
            properties: Vec::new(),
            to_string: None,
        }
    }

    /// Adds or replaces a property; builder style.
    #[must_use]
    pub fn with(mut self, name: &str, value: Value) -> Self {
        self.set(name, value);
        self
    }

    /// Adds or replaces a property.
    pub fn set(&mut self, name: &str, value: Value) {
        if let Some(slot) = self
            .properties
            .iter_mut()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
        {
            slot.1 = value;
        } else {
            self.properties.push((name.to_owned(), value));
        }
    }

    /// A property, case-insensitively.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.properties
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Whether this is a `PSCustomObject`.
    pub fn is_custom(&self) -> bool {
        self.type_names
            .first()
            .is_some_and(|t| t.ends_with("PSCustomObject"))
    }

    /// The first type name.
    pub fn type_name(&self) -> &str {
        self.type_names
            .first()
            .map_or("System.Object", String::as_str)
    }

    /// `ToString()`: the override, `@{a=1; b=2}` for custom objects, else the type name.
    pub fn to_display_string(&self) -> String {
        if let Some(s) = &self.to_string {
            return s.clone();
        }
        if self.is_custom() {
            let inner: Vec<String> = self
                .properties
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            return format!("@{{{}}}", inner.join("; "));
        }
        self.type_name().to_owned()
    }
}

/// A script block value: its source text and parsed body.
#[derive(Debug, Clone)]
pub struct ScriptBlock {
    /// The text between the braces.
    pub text: String,
    /// The parsed body.
    pub ast: Arc<ScriptBlockAst>,
}

impl PartialEq for ScriptBlock {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

/// `System.Management.Automation.ErrorCategory`, with its .NET values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
#[allow(missing_docs)]
pub enum ErrorCategory {
    NotSpecified = 0,
    InvalidArgument = 5,
    InvalidData = 6,
    InvalidOperation = 7,
    InvalidResult = 8,
    InvalidType = 9,
    NotImplemented = 11,
    ObjectNotFound = 13,
    OperationStopped = 14,
    OperationTimeout = 15,
    SyntaxError = 16,
    ParserError = 17,
    PermissionDenied = 18,
    ResourceExists = 20,
    ResourceUnavailable = 21,
    WriteError = 23,
    LimitsExceeded = 29,
}

impl ErrorCategory {
    /// The enum member name.
    pub fn name(self) -> &'static str {
        match self {
            Self::NotSpecified => "NotSpecified",
            Self::InvalidArgument => "InvalidArgument",
            Self::InvalidData => "InvalidData",
            Self::InvalidOperation => "InvalidOperation",
            Self::InvalidResult => "InvalidResult",
            Self::InvalidType => "InvalidType",
            Self::NotImplemented => "NotImplemented",
            Self::ObjectNotFound => "ObjectNotFound",
            Self::OperationStopped => "OperationStopped",
            Self::OperationTimeout => "OperationTimeout",
            Self::SyntaxError => "SyntaxError",
            Self::ParserError => "ParserError",
            Self::LimitsExceeded => "LimitsExceeded",
            Self::PermissionDenied => "PermissionDenied",
            Self::ResourceExists => "ResourceExists",
            Self::ResourceUnavailable => "ResourceUnavailable",
            Self::WriteError => "WriteError",
        }
    }

    /// The numeric value (`ErrorCategory_Category` in CLIXML).
    pub fn value(self) -> i32 {
        self as i32
    }

    /// Parses a category name, case-insensitively.
    pub fn from_name(s: &str) -> Option<Self> {
        ALL_CATEGORIES
            .iter()
            .copied()
            .find(|c| c.name().eq_ignore_ascii_case(s))
    }
}

const ALL_CATEGORIES: [ErrorCategory; 17] = [
    ErrorCategory::NotSpecified,
    ErrorCategory::InvalidArgument,
    ErrorCategory::InvalidData,
    ErrorCategory::InvalidOperation,
    ErrorCategory::InvalidResult,
    ErrorCategory::InvalidType,
    ErrorCategory::NotImplemented,
    ErrorCategory::ObjectNotFound,
    ErrorCategory::OperationStopped,
    ErrorCategory::OperationTimeout,
    ErrorCategory::SyntaxError,
    ErrorCategory::ParserError,
    ErrorCategory::LimitsExceeded,
    ErrorCategory::PermissionDenied,
    ErrorCategory::ResourceExists,
    ErrorCategory::ResourceUnavailable,
    ErrorCategory::WriteError,
];

/// An ErrorRecord, shaped as CLIXML serializes one (`Exception`, `TargetObject`,
/// `FullyQualifiedErrorId`, `InvocationInfo`, `ErrorCategory_*`).
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorRecord {
    /// Full .NET exception type, e.g. `System.Management.Automation.RuntimeException`.
    pub exception_type: String,
    /// The exception message.
    pub message: String,
    /// The error category.
    pub category: ErrorCategory,
    /// `FullyQualifiedErrorId`.
    pub fully_qualified_error_id: String,
    /// The target object (e.g. the unknown command name).
    pub target_object: Option<Value>,
    /// `ErrorCategory_Activity` (the command that wrote the error).
    pub activity: String,
    /// `ErrorCategory_Reason` (the exception's short type name).
    pub reason: String,
    /// Where it happened, if known.
    pub position: Option<ScriptPosition>,
    /// The value thrown by `throw <object>` (when not a string).
    pub thrown: Option<Value>,
}

impl ErrorRecord {
    /// A record for an exception type, deriving `Reason` from the type's short name.
    pub fn new(exception_type: &str, message: impl Into<String>, category: ErrorCategory) -> Self {
        let reason = exception_type
            .rsplit('.')
            .next()
            .unwrap_or(exception_type)
            .to_owned();
        Self {
            exception_type: exception_type.to_owned(),
            message: message.into(),
            category,
            fully_qualified_error_id: reason.clone(),
            target_object: None,
            activity: String::new(),
            reason,
            position: None,
            thrown: None,
        }
    }

    /// Sets the fully qualified error id; builder style.
    #[must_use]
    pub fn with_id(mut self, id: &str) -> Self {
        self.fully_qualified_error_id = id.to_owned();
        self
    }

    /// Sets the target object; builder style.
    #[must_use]
    pub fn with_target(mut self, target: Value) -> Self {
        self.target_object = Some(target);
        self
    }

    /// Sets the activity; builder style.
    #[must_use]
    pub fn with_activity(mut self, activity: &str) -> Self {
        self.activity = activity.to_owned();
        self
    }

    /// The short exception type name (`CommandNotFoundException`).
    pub fn exception_name(&self) -> &str {
        self.exception_type
            .rsplit('.')
            .next()
            .unwrap_or(&self.exception_type)
    }

    /// `CategoryInfo.ToString()`: `ObjectNotFound: (fake:String) [], CommandNotFoundException`.
    pub fn category_info(&self) -> String {
        let (tn, tt) = match &self.target_object {
            Some(Value::Null) | None => (String::new(), String::new()),
            Some(v) => (v.to_string(), v.short_type_name()),
        };
        format!(
            "{}: ({}:{}) [{}], {}",
            self.category.name(),
            tn,
            tt,
            self.activity,
            self.reason
        )
    }
}

/// A position in the script, for `InvocationInfo` and the `At line:1 char:1` text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptPosition {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// The full text of the line.
    pub line_text: String,
    /// Length of the offending extent on that line.
    pub length: usize,
}

/// Formats a double as .NET Framework's `ToString()` (15 significant digits).
pub fn format_double(d: f64) -> String {
    if d.is_nan() {
        return "NaN".to_owned();
    }
    if d.is_infinite() {
        return if d > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    if d == 0.0 {
        return "0".to_owned();
    }
    let sci = format!("{d:.14e}");
    let Some((mant, exp)) = sci.split_once('e') else {
        return sci;
    };
    let exp: i32 = exp.parse().unwrap_or(0);
    let neg = mant.starts_with('-');
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    let sign = if neg { "-" } else { "" };
    if (-4..15).contains(&exp) {
        if exp >= 0 {
            let exp = exp as usize;
            let int_len = exp + 1;
            if digits.len() <= int_len {
                format!("{sign}{digits}{}", "0".repeat(int_len - digits.len()))
            } else {
                format!("{sign}{}.{}", &digits[..int_len], &digits[int_len..])
            }
        } else {
            let zeros = (-exp - 1) as usize;
            format!("{sign}0.{}{digits}", "0".repeat(zeros))
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let rest = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { "-" } else { "+" };
        format!("{sign}{first}{rest}E{esign}{:02}", exp.abs())
    }
}

/// Banker's rounding, as .NET's `Math.Round` and number conversions use.
pub fn round_half_even(d: f64) -> f64 {
    let r = d.round();
    if (d - d.trunc()).abs() == 0.5 {
        2.0 * (d / 2.0).round()
    } else {
        r
    }
}

/// Parses a PowerShell number literal (decimal, hex, exponent, `kb`..`pb` and `l` suffixes).
pub fn parse_number(s: &str) -> Option<Value> {
    if s.is_empty() {
        return None;
    }
    let (neg, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let lower = body.to_ascii_lowercase();
    let (lower, mult) = [
        ("kb", 1i64 << 10),
        ("mb", 1 << 20),
        ("gb", 1 << 30),
        ("tb", 1 << 40),
        ("pb", 1 << 50),
    ]
    .iter()
    .find_map(|(suf, m)| lower.strip_suffix(suf).map(|r| (r.to_owned(), *m)))
    .unwrap_or((lower, 1));
    let (lower, force_long) = match lower.strip_suffix('l') {
        Some(r) if !r.starts_with("0x") || !r.is_empty() => (r.to_owned(), true),
        _ => (lower, false),
    };
    let (lower, force_decimal) = match lower.strip_suffix('d') {
        Some(r) if !lower.starts_with("0x") => (r.to_owned(), true),
        _ => (lower, false),
    };
    if lower.is_empty() {
        return None;
    }
    if let Some(hex) = lower.strip_prefix("0x") {
        let v = i64::from_str_radix(hex, 16).ok()?;
        let v = if neg { -v } else { v };
        return Some(int_value(v.checked_mul(mult)?, force_long));
    }
    if !lower
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | '+' | '-'))
    {
        return None;
    }
    if !lower.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        return None;
    }
    let is_float = force_decimal || lower.contains(['.', 'e']);
    if !is_float && let Ok(v) = lower.parse::<i64>() {
        let v = if neg { -v } else { v };
        if let Some(m) = v.checked_mul(mult) {
            return Some(int_value(m, force_long));
        }
    }
    let d: f64 = lower.parse().ok()?;
    let d = if neg { -d } else { d } * mult as f64;
    Some(Value::Double(d))
}

fn int_value(v: i64, force_long: bool) -> Value {
    match i32::try_from(v) {
        Ok(i) if !force_long => Value::Int(i),
        _ => Value::Long(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_format_like_dotnet() {
        assert_eq!(format_double(0.1 + 0.2), "0.3");
        assert_eq!(format_double(2.5), "2.5");
        assert_eq!(format_double(100.0), "100");
        assert_eq!(format_double(1e20), "1E+20");
        assert_eq!(format_double(-0.000_012_5), "-1.25E-05");
        assert_eq!(format_double(0.0001), "0.0001");
    }

    #[test]
    fn numbers_parse() {
        assert_eq!(parse_number("0x10"), Some(Value::Int(16)));
        assert_eq!(parse_number("1kb"), Some(Value::Int(1024)));
        assert_eq!(parse_number("3000000000"), Some(Value::Long(3_000_000_000)));
        assert_eq!(parse_number("1.5"), Some(Value::Double(1.5)));
        assert_eq!(parse_number("abc"), None);
    }
}
