//! Operators and conversions, following PowerShell's rules: the left operand picks the type,
//! comparisons are case-insensitive unless `-c…`, arrays on the left filter.

use std::cmp::Ordering;

use super::ast::CmpOp;
use super::time::{DateTime, TICKS_PER_SECOND, TimeSpan};
use super::value::{
    ErrorCategory, ErrorRecord, Hashtable, PsObject, Value, format_double, parse_number,
    round_half_even,
};

/// A runtime error from an operator or conversion (statement-terminating).
pub type OpResult<T> = Result<T, Box<ErrorRecord>>;

/// Largest string `*` may build.
const MAX_REPEAT_BYTES: usize = 64 << 20;

/// A boxed `RuntimeException` record, for [`OpResult`].
pub fn boxed_runtime_error(
    message: impl Into<String>,
    category: ErrorCategory,
    id: &str,
) -> Box<ErrorRecord> {
    Box::new(runtime_error(message, category, id))
}

/// A `RuntimeException` record.
pub fn runtime_error(message: impl Into<String>, category: ErrorCategory, id: &str) -> ErrorRecord {
    ErrorRecord::new(
        "System.Management.Automation.RuntimeException",
        message,
        category,
    )
    .with_id(id)
}

fn cast_error(v: &Value, type_name: &str, detail: &str) -> Box<ErrorRecord> {
    let shown = match v {
        Value::String(s) => format!("\"{s}\""),
        other => format!("\"{other}\""),
    };
    let msg = if detail.is_empty() {
        format!("Cannot convert value {shown} to type \"{type_name}\".")
    } else {
        format!("Cannot convert value {shown} to type \"{type_name}\". Error: \"{detail}\"")
    };
    Box::new(
        ErrorRecord::new(
            "System.Management.Automation.PSInvalidCastException",
            msg,
            ErrorCategory::InvalidArgument,
        )
        .with_id("InvalidCastFromStringToInteger"),
    )
}

#[derive(Debug, Clone, Copy)]
enum Num {
    Int(i64, bool),
    Dbl(f64),
}

fn to_num(v: &Value) -> OpResult<Num> {
    Ok(match v {
        Value::Int(i) => Num::Int(i64::from(*i), true),
        Value::Long(i) => Num::Int(*i, false),
        Value::Double(d) => Num::Dbl(*d),
        Value::Bool(b) => Num::Int(i64::from(*b), true),
        Value::Null => Num::Int(0, true),
        Value::Char(c) => Num::Int(i64::from(u32::from(*c)), true),
        Value::String(s) if s.trim().is_empty() => Num::Int(0, true),
        Value::String(s) => match parse_number(s.trim()) {
            Some(Value::Int(i)) => Num::Int(i64::from(i), true),
            Some(Value::Long(i)) => Num::Int(i, false),
            Some(Value::Double(d)) => Num::Dbl(d),
            _ => {
                return Err(cast_error(
                    v,
                    "System.Int32",
                    "Input string was not in a correct format.",
                ));
            }
        },
        other => {
            return Err(boxed_runtime_error(
                format!(
                    "Cannot convert the \"{other}\" value of type \"{}\" to type \"System.Int32\".",
                    other.type_names().first().cloned().unwrap_or_default()
                ),
                ErrorCategory::InvalidArgument,
                "ConvertToFinalInvalidCastException",
            ));
        }
    })
}

fn from_num(n: Num) -> Value {
    match n {
        Num::Int(i, small) => match i32::try_from(i) {
            Ok(x) if small => Value::Int(x),
            _ => Value::Long(i),
        },
        Num::Dbl(d) => Value::Double(d),
    }
}

fn arith(l: Num, r: Num, op: char) -> OpResult<Value> {
    if let (Num::Int(a, sa), Num::Int(b, sb)) = (l, r) {
        let small = sa && sb;
        let res = match op {
            '+' => a.checked_add(b),
            '-' => a.checked_sub(b),
            '*' => a.checked_mul(b),
            '%' => {
                if b == 0 {
                    return Err(div_zero());
                }
                a.checked_rem(b)
            }
            _ => {
                if b == 0 {
                    return Err(div_zero());
                }
                if a % b == 0 {
                    a.checked_div(b)
                } else {
                    return Ok(Value::Double(a as f64 / b as f64));
                }
            }
        };
        return Ok(match res {
            Some(v) => {
                let fits_small = i32::try_from(v).is_ok();
                if small && !fits_small {
                    Value::Double(v as f64)
                } else {
                    from_num(Num::Int(v, small))
                }
            }
            None => Value::Double(apply_f(a as f64, b as f64, op)),
        });
    }
    let a = match l {
        Num::Int(i, _) => i as f64,
        Num::Dbl(d) => d,
    };
    let b = match r {
        Num::Int(i, _) => i as f64,
        Num::Dbl(d) => d,
    };
    if (op == '/' || op == '%') && b == 0.0 {
        return Err(div_zero());
    }
    Ok(Value::Double(apply_f(a, b, op)))
}

fn apply_f(a: f64, b: f64, op: char) -> f64 {
    match op {
        '+' => a + b,
        '-' => a - b,
        '*' => a * b,
        '%' => a % b,
        _ => a / b,
    }
}

fn div_zero() -> Box<ErrorRecord> {
    Box::new(
        ErrorRecord::new(
            "System.Management.Automation.RuntimeException",
            "Attempted to divide by zero.",
            ErrorCategory::NotSpecified,
        )
        .with_id("RuntimeException"),
    )
}

/// `l + r`.
pub fn add(l: &Value, r: &Value) -> OpResult<Value> {
    match l {
        Value::Null => Ok(r.clone()),
        Value::String(s) => Ok(Value::String(format!("{s}{r}"))),
        Value::Char(c) => Ok(Value::String(format!("{c}{r}"))),
        Value::Array(a) => {
            let mut out = a.clone();
            out.extend(r.clone().into_items());
            Ok(Value::Array(out))
        }
        Value::Hashtable(h) => {
            let Value::Hashtable(rh) = r else {
                return Err(boxed_runtime_error(
                    "A hash table can only be added to another hash table.",
                    ErrorCategory::InvalidOperation,
                    "AddHashTableToNonHashTable",
                ));
            };
            let mut out = h.clone();
            for (k, v) in rh.entries() {
                if out.get_value(k).is_some() {
                    return Err(boxed_runtime_error(
                        format!(
                            "Item has already been added. Key in dictionary: '{k}'  Key being added: '{k}'"
                        ),
                        ErrorCategory::NotSpecified,
                        "System.ArgumentException",
                    ));
                }
                out.insert(k.clone(), v.clone());
            }
            Ok(Value::Hashtable(out))
        }
        Value::DateTime(d) => match r {
            Value::TimeSpan(t) => Ok(Value::DateTime(d.add_ticks(t.ticks))),
            other => Ok(Value::DateTime(d.add_ticks(to_i64(other)?))),
        },
        Value::TimeSpan(t) => match r {
            Value::TimeSpan(u) => Ok(Value::TimeSpan(TimeSpan {
                ticks: t.ticks + u.ticks,
            })),
            Value::DateTime(d) => Ok(Value::DateTime(d.add_ticks(t.ticks))),
            _ => Err(op_not_supported(l, "+")),
        },
        _ if l.is_numeric() || matches!(l, Value::Bool(_)) => arith(to_num(l)?, to_num(r)?, '+'),
        _ => Err(op_not_supported(l, "+")),
    }
}

fn op_not_supported(l: &Value, op: &str) -> Box<ErrorRecord> {
    boxed_runtime_error(
        format!(
            "Method invocation failed because [{}] does not contain a method named 'op_{}'.",
            l.type_names().first().cloned().unwrap_or_default(),
            match op {
                "+" => "Addition",
                "-" => "Subtraction",
                "*" => "Multiply",
                _ => "Division",
            }
        ),
        ErrorCategory::InvalidOperation,
        "MethodNotFound",
    )
}

/// `l - r`, `l * r`, `l / r`, `l % r`.
pub fn arithmetic(l: &Value, r: &Value, op: char) -> OpResult<Value> {
    match (l, op) {
        (Value::DateTime(a), '-') => match r {
            Value::DateTime(b) => Ok(Value::TimeSpan(TimeSpan {
                ticks: a.to_utc().ticks - b.to_utc().ticks,
            })),
            Value::TimeSpan(t) => Ok(Value::DateTime(a.add_ticks(-t.ticks))),
            _ => Err(op_not_supported(l, "-")),
        },
        (Value::TimeSpan(a), '-') => match r {
            Value::TimeSpan(b) => Ok(Value::TimeSpan(TimeSpan {
                ticks: a.ticks - b.ticks,
            })),
            _ => Err(op_not_supported(l, "-")),
        },
        (Value::String(s), '*') => {
            let n = to_i64(r)?.max(0) as usize;
            if n.saturating_mul(s.len()) > MAX_REPEAT_BYTES {
                return Err(boxed_runtime_error(
                    "The result would exceed the emulator's size limit.",
                    ErrorCategory::LimitsExceeded,
                    "LimitsExceeded",
                ));
            }
            Ok(Value::String(s.repeat(n)))
        }
        (Value::Array(a), '*') => {
            let n = to_i64(r)?.max(0) as usize;
            if n.saturating_mul(a.len()) > MAX_REPEAT_BYTES / 64 {
                return Err(boxed_runtime_error(
                    "The result would exceed the emulator's size limit.",
                    ErrorCategory::LimitsExceeded,
                    "LimitsExceeded",
                ));
            }
            let mut out = Vec::new();
            for _ in 0..n {
                out.extend(a.iter().cloned());
            }
            Ok(Value::Array(out))
        }
        (Value::Array(_) | Value::Hashtable(_) | Value::Object(_), _) => {
            Err(op_not_supported(l, &op.to_string()))
        }
        _ => arith(to_num(l)?, to_num(r)?, op),
    }
}

/// Unary minus.
pub fn negate(v: &Value) -> OpResult<Value> {
    arith(Num::Int(0, true), to_num(v)?, '-')
}

fn to_i64(v: &Value) -> OpResult<i64> {
    match to_num(v)? {
        Num::Int(i, _) => Ok(i),
        Num::Dbl(d) => Ok(round_half_even(d) as i64),
    }
}

/// Bitwise operators.
pub fn bitwise(l: &Value, r: &Value, op: &str) -> OpResult<Value> {
    let (a, b) = (to_i64(l)?, to_i64(r)?);
    let v = match op {
        "band" => a & b,
        "bor" => a | b,
        "bxor" => a ^ b,
        "shl" => a.wrapping_shl(b as u32),
        _ => a.wrapping_shr(b as u32),
    };
    Ok(from_num(Num::Int(
        v,
        matches!(l, Value::Int(_)) && matches!(r, Value::Int(_) | Value::Null),
    )))
}

/// Equality as `-eq` sees it, with the left operand's type deciding.
pub fn equals(l: &Value, r: &Value, cs: bool) -> bool {
    match (l, r) {
        (Value::Null, Value::Null) => true,
        (Value::Null, _) | (_, Value::Null) => false,
        (Value::String(a), _) => str_eq(a, &r.to_string(), cs),
        (Value::Char(a), _) => str_eq(&a.to_string(), &r.to_string(), cs),
        (Value::Bool(a), _) => *a == r.is_truthy(),
        (Value::DateTime(a), Value::DateTime(b)) => a.to_utc() == b.to_utc(),
        (Value::DateTime(a), Value::String(s)) => {
            DateTime::parse(s, a.offset_minutes).is_some_and(|b| b.to_utc() == a.to_utc())
        }
        (Value::Int(_) | Value::Long(_) | Value::Double(_), _) => match (to_num(l), to_num(r)) {
            (Ok(Num::Int(a, _)), Ok(Num::Int(b, _))) => a == b,
            (Ok(a), Ok(b)) => num_f(a) == num_f(b),
            _ => false,
        },
        _ => l == r,
    }
}

fn num_f(n: Num) -> f64 {
    match n {
        Num::Int(i, _) => i as f64,
        Num::Dbl(d) => d,
    }
}

fn str_eq(a: &str, b: &str, cs: bool) -> bool {
    if cs {
        a == b
    } else {
        a.to_lowercase() == b.to_lowercase()
    }
}

/// Ordering as `-lt`/`-gt` and Sort-Object see it (left operand's type decides).
pub fn compare(l: &Value, r: &Value, cs: bool) -> Option<Ordering> {
    match (l, r) {
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        (Value::Null, _) => Some(Ordering::Less),
        (_, Value::Null) => Some(Ordering::Greater),
        (Value::String(a), _) => Some(str_cmp(a, &r.to_string(), cs)),
        (Value::Char(a), _) => Some(str_cmp(&a.to_string(), &r.to_string(), cs)),
        (Value::DateTime(a), Value::DateTime(b)) => Some(a.to_utc().cmp(&b.to_utc())),
        (Value::DateTime(a), Value::String(s)) => {
            DateTime::parse(s, a.offset_minutes).map(|b| a.to_utc().cmp(&b.to_utc()))
        }
        (Value::TimeSpan(a), Value::TimeSpan(b)) => Some(a.cmp(b)),
        (Value::Bool(a), _) => Some(a.cmp(&r.is_truthy())),
        _ if l.is_numeric() => match (to_num(l).ok()?, to_num(r).ok()?) {
            (Num::Int(a, _), Num::Int(b, _)) => Some(a.cmp(&b)),
            (a, b) => num_f(a).partial_cmp(&num_f(b)),
        },
        _ => Some(str_cmp(&l.to_string(), &r.to_string(), cs)),
    }
}

fn str_cmp(a: &str, b: &str, cs: bool) -> Ordering {
    let ord = a.to_lowercase().cmp(&b.to_lowercase());
    if cs && ord == Ordering::Equal {
        b.cmp(a)
    } else {
        ord
    }
}

/// Wildcard match (`*`, `?`, `[abc]`, `[a-z]`, backtick escapes), case-insensitive unless `cs`.
pub fn wildcard_match(pattern: &str, text: &str, cs: bool) -> bool {
    let norm = |s: &str| {
        if cs {
            s.chars().collect::<Vec<_>>()
        } else {
            s.to_lowercase().chars().collect()
        }
    };
    let p = norm(pattern);
    let t = norm(text);
    wild(&p, &t)
}

fn wild(p: &[char], t: &[char]) -> bool {
    let Some((&first, rest)) = p.split_first() else {
        return t.is_empty();
    };
    match first {
        '*' => (0..=t.len()).any(|i| wild(rest, t.get(i..).unwrap_or(&[]))),
        '?' => !t.is_empty() && wild(rest, t.get(1..).unwrap_or(&[])),
        '[' => {
            let Some(close) = rest.iter().position(|&c| c == ']') else {
                return t.first() == Some(&'[') && wild(rest, t.get(1..).unwrap_or(&[]));
            };
            let Some(&c) = t.first() else { return false };
            let set = &rest[..close];
            let mut ok = false;
            let mut i = 0;
            while i < set.len() {
                if set.get(i + 1) == Some(&'-') && i + 2 < set.len() {
                    if set[i] <= c && c <= set[i + 2] {
                        ok = true;
                    }
                    i += 3;
                } else {
                    if set[i] == c {
                        ok = true;
                    }
                    i += 1;
                }
            }
            ok && wild(&rest[close + 1..], t.get(1..).unwrap_or(&[]))
        }
        '`' if !rest.is_empty() => {
            t.first() == rest.first() && wild(&rest[1..], t.get(1..).unwrap_or(&[]))
        }
        c => t.first() == Some(&c) && wild(rest, t.get(1..).unwrap_or(&[])),
    }
}

/// Builds a regex with PowerShell's default case-insensitivity.
pub fn regex(pattern: &str, cs: bool) -> OpResult<regex::Regex> {
    regex::RegexBuilder::new(pattern)
        .case_insensitive(!cs)
        .build()
        .map_err(|e| {
            boxed_runtime_error(
                format!("The regular expression pattern {pattern} is not valid. {e}"),
                ErrorCategory::InvalidOperation,
                "InvalidRegularExpression",
            )
        })
}

/// Captures of a successful `-match` as the `$Matches` hashtable.
pub fn matches_table(re: &regex::Regex, caps: &regex::Captures<'_>) -> Hashtable {
    let mut h = Hashtable::new();
    let names: Vec<Option<&str>> = re.capture_names().collect();
    for (i, name) in names.iter().enumerate().rev() {
        if let Some(m) = caps.get(i) {
            let key = match name {
                Some(n) => Value::String((*n).to_owned()),
                None => Value::Int(i as i32),
            };
            h.insert(key, Value::String(m.as_str().to_owned()));
        }
    }
    h
}

/// Converts .NET replacement syntax (`$1`, `${name}`, `$$`) for the regex crate.
pub fn replacement(s: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        if c == '$' {
            match chars.get(i + 1) {
                Some(d) if d.is_ascii_digit() => {
                    let mut j = i + 1;
                    let mut num = String::new();
                    while let Some(d) = chars.get(j).filter(|d| d.is_ascii_digit()) {
                        num.push(*d);
                        j += 1;
                    }
                    out.push_str(&format!("${{{num}}}"));
                    i = j;
                    continue;
                }
                Some('$') => {
                    out.push_str("$$");
                    i += 2;
                    continue;
                }
                Some('{') => {}
                _ => {
                    out.push_str("$$");
                    i += 1;
                    continue;
                }
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

/// Type-name normalization for casts and `-is`.
pub fn normalize_type(t: &str) -> String {
    let t = t.trim().to_ascii_lowercase();
    let t = t.strip_prefix("system.").unwrap_or(&t).to_owned();
    match t.as_str() {
        "int32" => "int".to_owned(),
        "int64" => "long".to_owned(),
        "single" | "float" | "decimal" => "double".to_owned(),
        "boolean" => "bool".to_owned(),
        "object[]" => "array".to_owned(),
        "collections.hashtable" => "hashtable".to_owned(),
        "management.automation.pscustomobject" => "pscustomobject".to_owned(),
        "management.automation.psobject" => "psobject".to_owned(),
        "management.automation.scriptblock" => "scriptblock".to_owned(),
        other => other.to_owned(),
    }
}

/// `[type]value`.
pub fn cast(type_name: &str, v: Value, offset_minutes: i32) -> OpResult<Value> {
    let t = normalize_type(type_name);
    if let Some(elem) = t.strip_suffix("[]") {
        let items = match v {
            Value::Null => Vec::new(),
            other => other.into_items(),
        };
        if elem == "object" {
            return Ok(Value::Array(items));
        }
        return items
            .into_iter()
            .map(|i| cast(elem, i, offset_minutes))
            .collect::<OpResult<Vec<_>>>()
            .map(Value::Array);
    }
    Ok(match t.as_str() {
        "int" | "byte" | "int16" | "uint32" | "uint16" => {
            let n = match &v {
                Value::String(s) if s.trim().is_empty() => Num::Int(0, true),
                _ => to_num(&v).map_err(|_| cast_error(&v, "System.Int32", "Input string was not in a correct format."))?,
            };
            let i = match n {
                Num::Int(i, _) => i,
                Num::Dbl(d) => round_half_even(d) as i64,
            };
            Value::Int(i32::try_from(i).map_err(|_| cast_error(&v, "System.Int32", "Value was either too large or too small for an Int32."))?)
        }
        "long" | "uint64" => match to_num(&v).map_err(|_| cast_error(&v, "System.Int64", "Input string was not in a correct format."))? {
            Num::Int(i, _) => Value::Long(i),
            Num::Dbl(d) => Value::Long(round_half_even(d) as i64),
        },
        "double" => Value::Double(num_f(to_num(&v).map_err(|_| cast_error(&v, "System.Double", "Input string was not in a correct format."))?)),
        "string" => match v {
            Value::Null => Value::String(String::new()),
            other => Value::String(other.to_string()),
        },
        "bool" => Value::Bool(v.is_truthy()),
        "char" => match &v {
            Value::String(s) if s.chars().count() == 1 => Value::Char(s.chars().next().unwrap_or('\0')),
            Value::Char(c) => Value::Char(*c),
            _ if v.is_numeric() => Value::Char(char::from_u32(to_i64(&v)? as u32).unwrap_or('\0')),
            _ => return Err(cast_error(&v, "System.Char", "String must be exactly one character long.")),
        },
        "datetime" => match &v {
            Value::DateTime(_) => v,
            Value::String(s) => Value::DateTime(DateTime::parse(s, offset_minutes).ok_or_else(|| cast_error(&v, "System.DateTime", "String was not recognized as a valid DateTime."))?),
            _ => return Err(cast_error(&v, "System.DateTime", "")),
        },
        "timespan" => match &v {
            Value::TimeSpan(_) => v,
            Value::String(s) => {
                let parts: Vec<i64> = s.split(':').filter_map(|p| p.trim().parse().ok()).collect();
                match parts.as_slice() {
                    [h, m, sec] => Value::TimeSpan(TimeSpan { ticks: hms_ticks(*h, *m, *sec) }),
                    [h, m] => Value::TimeSpan(TimeSpan { ticks: hms_ticks(*h, *m, 0) }),
                    _ => return Err(cast_error(&v, "System.TimeSpan", "String was not recognized as a valid TimeSpan.")),
                }
            }
            _ => Value::TimeSpan(TimeSpan { ticks: to_i64(&v)? }),
        },
        "guid" => match &v {
            Value::Guid(_) => v,
            _ => Value::Guid(uuid::Uuid::parse_str(v.to_string().trim()).map_err(|_| cast_error(&v, "System.Guid", "Guid should contain 32 digits with 4 dashes (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)."))?),
        },
        "array" => match v {
            Value::Null => Value::Array(Vec::new()),
            other => Value::Array(other.into_items()),
        },
        "hashtable" | "ordered" | "collections.specialized.ordereddictionary" => match v {
            Value::Hashtable(mut h) => {
                h.ordered = t != "hashtable";
                Value::Hashtable(h)
            }
            other => return Err(cast_error(&other, "System.Collections.Hashtable", "")),
        },
        "pscustomobject" => match v {
            Value::Hashtable(h) => {
                let mut o = PsObject::custom();
                for (k, val) in h.entries() {
                    o.set(&k.to_string(), val.clone());
                }
                Value::Object(Box::new(o))
            }
            other => other,
        },
        "psobject" | "object" => v,
        "void" => Value::Null,
        "scriptblock" => match v {
            Value::ScriptBlock(_) => v,
            other => return Err(cast_error(&other, "System.Management.Automation.ScriptBlock", "")),
        },
        "regex" | "version" | "uri" | "xml" | "ipaddress" => Value::String(v.to_string()),
        _ => {
            return Err(boxed_runtime_error(
                format!("Unable to find type [{type_name}]."),
                ErrorCategory::InvalidOperation,
                "TypeNotFound",
            ));
        }
    })
}

fn hms_ticks(h: i64, m: i64, s: i64) -> i64 {
    h.saturating_mul(3600)
        .saturating_add(m.saturating_mul(60))
        .saturating_add(s)
        .saturating_mul(TICKS_PER_SECOND)
}

/// `-is [type]`.
pub fn is_type(v: &Value, type_name: &str) -> bool {
    let t = normalize_type(type_name);
    match t.as_str() {
        "object" | "psobject" => !matches!(v, Value::Null),
        "int" => matches!(v, Value::Int(_)),
        "long" => matches!(v, Value::Long(_)),
        "double" => matches!(v, Value::Double(_)),
        "string" => matches!(v, Value::String(_)),
        "bool" => matches!(v, Value::Bool(_)),
        "char" => matches!(v, Value::Char(_)),
        "datetime" => matches!(v, Value::DateTime(_)),
        "timespan" => matches!(v, Value::TimeSpan(_)),
        "guid" => matches!(v, Value::Guid(_)),
        "array" | "object[]" => matches!(v, Value::Array(_)),
        "hashtable" | "collections.idictionary" => matches!(v, Value::Hashtable(_)),
        "valuetype" => matches!(
            v,
            Value::Int(_)
                | Value::Long(_)
                | Value::Double(_)
                | Value::Bool(_)
                | Value::Char(_)
                | Value::DateTime(_)
        ),
        "scriptblock" => matches!(v, Value::ScriptBlock(_)),
        "management.automation.errorrecord" | "errorrecord" => matches!(v, Value::ErrorRecord(_)),
        "pscustomobject" => matches!(v, Value::Object(o) if o.is_custom()),
        other => v.type_names().iter().any(|n| normalize_type(n) == other),
    }
}

/// The `-f` operator / `[string]::Format`.
pub fn format_string(fmt: &str, args: &[Value]) -> OpResult<String> {
    let mut out = String::new();
    let chars: Vec<char> = fmt.chars().collect();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        match c {
            '{' if chars.get(i + 1) == Some(&'{') => {
                out.push('{');
                i += 2;
            }
            '}' if chars.get(i + 1) == Some(&'}') => {
                out.push('}');
                i += 2;
            }
            '{' => {
                let Some(close) = chars[i..].iter().position(|&c| c == '}') else {
                    return Err(format_error());
                };
                let spec: String = chars[i + 1..i + close].iter().collect();
                let (head, fmt_spec) = spec.split_once(':').unwrap_or((&spec, ""));
                let (idx, align) = head.split_once(',').unwrap_or((head, ""));
                let idx: usize = idx.trim().parse().map_err(|_| format_error())?;
                let v = args.get(idx).ok_or_else(|| boxed_runtime_error("Error formatting a string: Index (zero based) must be greater than or equal to zero and less than the size of the argument list..", ErrorCategory::NotSpecified, "FormatError"))?;
                let s = format_value(v, fmt_spec);
                let width: i64 = align.trim().parse().unwrap_or(0);
                let n = s.chars().count() as i64;
                if width > n {
                    let pad = " ".repeat((width - n) as usize);
                    out.push_str(&format!("{pad}{s}"));
                } else if -width > n {
                    let pad = " ".repeat((-width - n) as usize);
                    out.push_str(&format!("{s}{pad}"));
                } else {
                    out.push_str(&s);
                }
                i += close + 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

fn format_error() -> Box<ErrorRecord> {
    boxed_runtime_error(
        "Error formatting a string: Input string was not in a correct format..",
        ErrorCategory::NotSpecified,
        "FormatError",
    )
}

/// Formats one value with a .NET format specifier (N, F, D, X, P, E, custom `0.00`, dates).
pub fn format_value(v: &Value, spec: &str) -> String {
    if spec.is_empty() {
        return v.to_string();
    }
    if let Value::DateTime(d) = v {
        return d.format(spec);
    }
    let Some(x) = v.as_f64().filter(|_| v.is_numeric()) else {
        return v.to_string();
    };
    let mut sc = spec.chars();
    let kind = sc.next().unwrap_or('G');
    let prec: Option<usize> = sc.as_str().parse().ok();
    match kind.to_ascii_uppercase() {
        'N' => group_thousands(&format!("{:.*}", prec.unwrap_or(2), x)),
        'F' => format!("{:.*}", prec.unwrap_or(2), x),
        'D' => {
            let i = round_half_even(x) as i64;
            let s = format!(
                "{:0width$}",
                i.unsigned_abs(),
                width = prec.unwrap_or(0).min(64)
            );
            if i < 0 { format!("-{s}") } else { s }
        }
        'X' => {
            let i = round_half_even(x) as i64;
            let s = format!("{:0width$x}", i, width = prec.unwrap_or(0));
            if kind == 'X' { s.to_uppercase() } else { s }
        }
        'P' => format!(
            "{} %",
            group_thousands(&format!("{:.*}", prec.unwrap_or(2), x * 100.0))
        ),
        'E' => format!("{:.*E}", prec.unwrap_or(6), x),
        'G' => format_double(x),
        _ if spec.chars().all(|c| matches!(c, '0' | '#' | '.' | ',')) => {
            let decimals = spec.split_once('.').map_or(0, |(_, d)| d.len());
            let s = format!("{x:.decimals$}");
            if spec.contains(',') {
                group_thousands(&s)
            } else {
                s
            }
        }
        _ => v.to_string(),
    }
}

fn group_thousands(s: &str) -> String {
    let (neg, s) = s.strip_prefix('-').map_or((false, s), |r| (true, r));
    let (int, frac) = s.split_once('.').map_or((s, None), |(i, f)| (i, Some(f)));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let mut out = if neg { format!("-{grouped}") } else { grouped };
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out
}

/// Comparison operators other than -replace/-split/-join, applied to scalars.
pub fn compare_op(op: CmpOp, l: &Value, r: &Value, cs: bool) -> OpResult<bool> {
    Ok(match op {
        CmpOp::Eq => equals(l, r, cs),
        CmpOp::Ne => !equals(l, r, cs),
        CmpOp::Gt => compare(l, r, cs) == Some(Ordering::Greater),
        CmpOp::Ge => matches!(compare(l, r, cs), Some(Ordering::Greater | Ordering::Equal)),
        CmpOp::Lt => compare(l, r, cs) == Some(Ordering::Less),
        CmpOp::Le => matches!(compare(l, r, cs), Some(Ordering::Less | Ordering::Equal)),
        CmpOp::Like => wildcard_match(&r.to_string(), &l.to_string(), cs),
        CmpOp::NotLike => !wildcard_match(&r.to_string(), &l.to_string(), cs),
        CmpOp::Match => regex(&r.to_string(), cs)?.is_match(&l.to_string()),
        CmpOp::NotMatch => !regex(&r.to_string(), cs)?.is_match(&l.to_string()),
        CmpOp::Contains => match l {
            Value::Array(a) => a.iter().any(|x| equals(x, r, cs)),
            other => equals(other, r, cs),
        },
        CmpOp::NotContains => !compare_op(CmpOp::Contains, l, r, cs)?,
        CmpOp::In => compare_op(CmpOp::Contains, r, l, cs)?,
        CmpOp::NotIn => !compare_op(CmpOp::Contains, r, l, cs)?,
        CmpOp::Replace | CmpOp::Split | CmpOp::Join => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("a*", "ABC", false));
        assert!(!wildcard_match("a*", "ABC", true));
        assert!(wildcard_match("?b[c-d]", "abd", false));
        assert!(!wildcard_match("*.txt", "a.txt.bak", false));
    }

    #[test]
    fn arithmetic_promotes() {
        assert_eq!(
            arithmetic(&Value::Int(10), &Value::Int(4), '/'),
            Ok(Value::Double(2.5))
        );
        assert_eq!(
            arithmetic(&Value::Int(10), &Value::Int(5), '/'),
            Ok(Value::Int(2))
        );
        assert_eq!(
            add(&Value::Int(i32::MAX), &Value::Int(1)),
            Ok(Value::Double(2_147_483_648.0))
        );
        assert!(arithmetic(&Value::Int(1), &Value::Int(0), '/').is_err());
    }

    #[test]
    fn formats() {
        assert_eq!(
            format_string(
                "{0:N2}|{1,3}|{1,-3}|{{}}",
                &[Value::Double(1234.5), Value::Int(7)]
            )
            .unwrap(),
            "1,234.50|  7|7  |{}"
        );
        assert_eq!(replacement("$1-x$$"), "${1}-x$$");
    }
}
