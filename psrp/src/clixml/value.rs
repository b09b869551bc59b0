//! The CLIXML value model.

use std::sync::Arc;

use uuid::Uuid;

/// One CLIXML value: a primitive (MS-PSRP 2.2.5.1) or a complex object (2.2.5.2).
///
/// Equality compares floats by bit pattern, so it is reflexive (`NaN == NaN`) and `Value` is
/// `Eq`; that also lets shared objects compare by pointer first.
#[derive(Debug, Clone)]
pub enum Value {
    /// `<Nil/>`: null.
    Nil,
    /// `<S>`: string.
    String(String),
    /// `<C>`: a UTF-16 code unit.
    Char(u16),
    /// `<B>`: boolean.
    Bool(bool),
    /// `<DT>`: date and time, kept as the exact text sent (`2009-06-17T00:00:00+02:00`).
    DateTime(String),
    /// `<TS>`: duration, kept as the exact `xs:duration` text sent (`PT9.0269026S`).
    Duration(String),
    /// `<By>`: unsigned byte.
    U8(u8),
    /// `<SB>`: signed byte.
    I8(i8),
    /// `<U16>`.
    U16(u16),
    /// `<I16>`.
    I16(i16),
    /// `<U32>`.
    U32(u32),
    /// `<I32>`.
    I32(i32),
    /// `<U64>`.
    U64(u64),
    /// `<I64>`.
    I64(i64),
    /// `<Sg>`: single-precision float.
    Single(f32),
    /// `<Db>`: double-precision float.
    Double(f64),
    /// `<D>`: decimal, kept as text.
    Decimal(String),
    /// `<BA>`: byte array (base64 on the wire).
    Bytes(Vec<u8>),
    /// `<G>`: GUID.
    Guid(Uuid),
    /// `<URI>`.
    Uri(String),
    /// `<Version>`, kept as text (`2.3`, `1.1.0.1`).
    Version(String),
    /// `<XD>`: XML document text.
    XmlDocument(String),
    /// `<SBK>`: script block text.
    ScriptBlock(String),
    /// `<SS>`: SecureString, the encrypted bytes (base64 on the wire).
    SecureString(Vec<u8>),
    /// `<PR>`: the compact progress record form.
    ProgressRecord(Box<ProgressValue>),
    /// `<Obj>`: a complex object, shared when referenced more than once.
    Object(Arc<PsObject>),
}

/// A complex object (`<Obj>`, MS-PSRP 2.2.5.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PsObject {
    /// `<TN>` type names, most derived first; shared between objects via `<TNRef>`.
    pub type_names: Option<Arc<[String]>>,
    /// `<ToString>`.
    pub to_string: Option<String>,
    /// A primitive the object wraps (the value of an enum, a string with notes attached).
    pub value: Option<Value>,
    /// `LST`, `IE`, `QUE`, `STK` or `DCT` content.
    pub container: Option<Container>,
    /// Adapted properties (`<Props>`), in order.
    pub adapted: Vec<Property>,
    /// Extended properties (`<MS>`), in order.
    pub extended: Vec<Property>,
}

/// A named property of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    /// Its name (`N` attribute).
    pub name: String,
    /// Its value.
    pub value: Value,
}

/// The collection an object carries (MS-PSRP 2.2.5.2.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Container {
    /// `<LST>`: list or array.
    List(Vec<Value>),
    /// `<IE>`: enumerable.
    Enumerable(Vec<Value>),
    /// `<QUE>`: queue.
    Queue(Vec<Value>),
    /// `<STK>`: stack.
    Stack(Vec<Value>),
    /// `<DCT>`: dictionary, entries in order.
    Dictionary(Vec<(Value, Value)>),
}

/// The `<PR>` element: a progress record in PowerShell's compact form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressValue {
    /// `<AV>` activity.
    pub activity: String,
    /// `<AI>` activity id.
    pub activity_id: i32,
    /// `<S>` current operation, or `<Nil/>`.
    pub current_operation: Option<String>,
    /// `<PI>` parent activity id.
    pub parent_activity_id: i32,
    /// `<PC>` percent complete.
    pub percent_complete: i32,
    /// `<T>` record type (`Processing`, `Completed`).
    pub record_type: String,
    /// `<SR>` seconds remaining.
    pub seconds_remaining: i32,
    /// `<SD>` status description.
    pub status_description: String,
}

/// A `<Objs>` document (PowerShell's `Export-Clixml` or `-OutputFormat xml` stderr form).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Objs {
    /// The `Version` attribute (`1.1.0.1`).
    pub version: Option<String>,
    /// The values in order.
    pub items: Vec<ObjsItem>,
}

/// One top-level value of a `<Objs>` document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjsItem {
    /// The `S` attribute naming the stream (`Error`, `progress`, `verbose`...).
    pub stream: Option<String>,
    /// The value.
    pub value: Value,
}

impl Value {
    /// Wraps an object.
    pub fn object(object: PsObject) -> Self {
        Self::Object(Arc::new(object))
    }

    /// A string value.
    pub fn string(text: impl Into<String>) -> Self {
        Self::String(text.into())
    }

    /// Whether this is `<Nil/>`.
    pub fn is_nil(&self) -> bool {
        matches!(self, Self::Nil)
    }

    /// The string of `<S>`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }

    /// The string of `<S>`, or `None` for `<Nil/>`; other types give `Err(())`.
    #[allow(clippy::result_unit_err)]
    pub fn as_opt_str(&self) -> Result<Option<&str>, ()> {
        match self {
            Self::String(s) => Ok(Some(s)),
            Self::Nil => Ok(None),
            _ => Err(()),
        }
    }

    /// The boolean of `<B>`.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Self::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The integer of `<I32>`, or of an enum object wrapping one.
    pub fn as_i32(&self) -> Option<i32> {
        match self {
            Self::I32(v) => Some(*v),
            Self::Object(o) => o.value.as_ref().and_then(Self::as_i32),
            _ => None,
        }
    }

    /// The integer of `<I64>`.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Self::I64(v) => Some(*v),
            _ => None,
        }
    }

    /// The integer of `<U32>`.
    pub fn as_u32(&self) -> Option<u32> {
        match self {
            Self::U32(v) => Some(*v),
            _ => None,
        }
    }

    /// The GUID of `<G>`.
    pub fn as_guid(&self) -> Option<Uuid> {
        match self {
            Self::Guid(v) => Some(*v),
            _ => None,
        }
    }

    /// The text of `<Version>`.
    pub fn as_version(&self) -> Option<&str> {
        match self {
            Self::Version(v) => Some(v),
            _ => None,
        }
    }

    /// The bytes of `<BA>`.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Self::Bytes(v) => Some(v),
            _ => None,
        }
    }

    /// The object of `<Obj>`.
    pub fn as_object(&self) -> Option<&PsObject> {
        match self {
            Self::Object(o) => Some(o),
            _ => None,
        }
    }

    /// The shared object of `<Obj>`.
    pub fn as_object_arc(&self) -> Option<&Arc<PsObject>> {
        match self {
            Self::Object(o) => Some(o),
            _ => None,
        }
    }

    /// The items of an object's list, enumerable, queue or stack.
    pub fn as_list(&self) -> Option<&[Value]> {
        self.as_object().and_then(PsObject::list)
    }

    /// The entries of an object's dictionary.
    pub fn as_dict(&self) -> Option<&[(Value, Value)]> {
        self.as_object().and_then(PsObject::dict)
    }

    /// The `<ToString>` of an object, or the text of a string.
    pub fn display(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            Self::Object(o) => o.to_string.as_deref(),
            _ => None,
        }
    }

    /// A `<TS>` value in the form .NET writes (`PT9.0269026S`, `P1DT2H`), 100 ns precision.
    pub fn duration(d: std::time::Duration) -> Self {
        Self::Duration(format_duration(d))
    }

    /// A `<TS>` value as a std duration; `None` for other values, negative or unparsable text.
    pub fn as_duration(&self) -> Option<std::time::Duration> {
        match self {
            Self::Duration(text) => parse_duration(text),
            _ => None,
        }
    }

    /// An `<SS>` value: `text` encrypted with the session key (MS-PSRP 2.2.5.1.24).
    pub fn secure_string(key: &crate::crypto::SessionKey, text: &str) -> Self {
        Self::SecureString(key.encrypt_secure_string(text))
    }

    /// The text of an `<SS>` value, decrypted with the session key; `None` for other values.
    ///
    /// # Errors
    ///
    /// The inner result fails when the bytes do not decrypt with this key.
    pub fn decrypt_secure_string(
        &self,
        key: &crate::crypto::SessionKey,
    ) -> Option<Result<String, crate::crypto::CryptoError>> {
        match self {
            Self::SecureString(bytes) => Some(key.decrypt_secure_string(bytes)),
            _ => None,
        }
    }

    /// The element name this value is written as.
    pub fn tag(&self) -> &'static str {
        match self {
            Self::Nil => "Nil",
            Self::String(_) => "S",
            Self::Char(_) => "C",
            Self::Bool(_) => "B",
            Self::DateTime(_) => "DT",
            Self::Duration(_) => "TS",
            Self::U8(_) => "By",
            Self::I8(_) => "SB",
            Self::U16(_) => "U16",
            Self::I16(_) => "I16",
            Self::U32(_) => "U32",
            Self::I32(_) => "I32",
            Self::U64(_) => "U64",
            Self::I64(_) => "I64",
            Self::Single(_) => "Sg",
            Self::Double(_) => "Db",
            Self::Decimal(_) => "D",
            Self::Bytes(_) => "BA",
            Self::Guid(_) => "G",
            Self::Uri(_) => "URI",
            Self::Version(_) => "Version",
            Self::XmlDocument(_) => "XD",
            Self::ScriptBlock(_) => "SBK",
            Self::SecureString(_) => "SS",
            Self::ProgressRecord(_) => "PR",
            Self::Object(_) => "Obj",
        }
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        use Value::*;
        match (self, other) {
            (Nil, Nil) => true,
            (String(a), String(b))
            | (DateTime(a), DateTime(b))
            | (Duration(a), Duration(b))
            | (Decimal(a), Decimal(b))
            | (Uri(a), Uri(b))
            | (Version(a), Version(b))
            | (XmlDocument(a), XmlDocument(b))
            | (ScriptBlock(a), ScriptBlock(b)) => a == b,
            (Char(a), Char(b)) | (U16(a), U16(b)) => a == b,
            (Bool(a), Bool(b)) => a == b,
            (U8(a), U8(b)) => a == b,
            (I8(a), I8(b)) => a == b,
            (I16(a), I16(b)) => a == b,
            (U32(a), U32(b)) => a == b,
            (I32(a), I32(b)) => a == b,
            (U64(a), U64(b)) => a == b,
            (I64(a), I64(b)) => a == b,
            (Single(a), Single(b)) => a.to_bits() == b.to_bits(),
            (Double(a), Double(b)) => a.to_bits() == b.to_bits(),
            (Bytes(a), Bytes(b)) | (SecureString(a), SecureString(b)) => a == b,
            (Guid(a), Guid(b)) => a == b,
            (ProgressRecord(a), ProgressRecord(b)) => a == b,
            (Object(a), Object(b)) => Arc::ptr_eq(a, b) || a == b,
            _ => false,
        }
    }
}

impl Eq for Value {}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Self::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Self::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Self::Bool(b)
    }
}

impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Self::I32(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Self::I64(v)
    }
}

impl From<PsObject> for Value {
    fn from(o: PsObject) -> Self {
        Self::object(o)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Self::Nil, Into::into)
    }
}

impl PsObject {
    /// An empty object.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the type names (most derived first).
    #[must_use]
    pub fn with_type_names<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let names: Vec<String> = names.into_iter().map(Into::into).collect();
        self.type_names = Some(names.into());
        self
    }

    /// Sets shared type names.
    #[must_use]
    pub fn with_shared_type_names(mut self, names: Arc<[String]>) -> Self {
        self.type_names = Some(names);
        self
    }

    /// Sets `<ToString>`.
    #[must_use]
    pub fn with_to_string(mut self, text: impl Into<String>) -> Self {
        self.to_string = Some(text.into());
        self
    }

    /// Sets the wrapped primitive.
    #[must_use]
    pub fn with_value(mut self, value: impl Into<Value>) -> Self {
        self.value = Some(value.into());
        self
    }

    /// Sets the container.
    #[must_use]
    pub fn with_container(mut self, container: Container) -> Self {
        self.container = Some(container);
        self
    }

    /// Appends an adapted property (`<Props>`).
    #[must_use]
    pub fn with_property(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.adapted.push(Property::new(name, value));
        self
    }

    /// Appends an extended property (`<MS>`).
    #[must_use]
    pub fn with_member(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.extended.push(Property::new(name, value));
        self
    }

    /// A property by name: extended members first, then adapted ones.
    pub fn property(&self, name: &str) -> Option<&Value> {
        self.extended
            .iter()
            .chain(&self.adapted)
            .find(|p| p.name == name)
            .map(|p| &p.value)
    }

    /// A string property (`None` when absent, nil or not a string).
    pub fn property_str(&self, name: &str) -> Option<&str> {
        self.property(name).and_then(Value::as_str)
    }

    /// A boolean property.
    pub fn property_bool(&self, name: &str) -> Option<bool> {
        self.property(name).and_then(Value::as_bool)
    }

    /// An `<I32>` property, or an enum's value.
    pub fn property_i32(&self, name: &str) -> Option<i32> {
        self.property(name).and_then(Value::as_i32)
    }

    /// An `<I64>` property.
    pub fn property_i64(&self, name: &str) -> Option<i64> {
        self.property(name).and_then(Value::as_i64)
    }

    /// An object property.
    pub fn property_object(&self, name: &str) -> Option<&PsObject> {
        self.property(name).and_then(Value::as_object)
    }

    /// Whether the type names include `name`.
    pub fn is_type(&self, name: &str) -> bool {
        self.type_names
            .as_deref()
            .is_some_and(|names| names.iter().any(|n| n == name))
    }

    /// The most derived type name.
    pub fn type_name(&self) -> Option<&str> {
        self.type_names.as_deref()?.first().map(String::as_str)
    }

    /// The value of an enum (the wrapped `<I32>`).
    pub fn enum_value(&self) -> Option<i32> {
        match self.value {
            Some(Value::I32(v)) => Some(v),
            _ => None,
        }
    }

    /// Items of a list, enumerable, queue or stack.
    pub fn list(&self) -> Option<&[Value]> {
        match &self.container {
            Some(
                Container::List(v)
                | Container::Enumerable(v)
                | Container::Queue(v)
                | Container::Stack(v),
            ) => Some(v),
            _ => None,
        }
    }

    /// Entries of a dictionary.
    pub fn dict(&self) -> Option<&[(Value, Value)]> {
        match &self.container {
            Some(Container::Dictionary(v)) => Some(v),
            _ => None,
        }
    }

    /// A dictionary entry whose key is the string `key`.
    pub fn dict_get(&self, key: &str) -> Option<&Value> {
        self.dict()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }
}

impl Property {
    /// A property.
    pub fn new(name: impl Into<String>, value: impl Into<Value>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
        }
    }
}

impl Container {
    /// The element name this container is written as.
    pub fn tag(&self) -> &'static str {
        match self {
            Self::List(_) => "LST",
            Self::Enumerable(_) => "IE",
            Self::Queue(_) => "QUE",
            Self::Stack(_) => "STK",
            Self::Dictionary(_) => "DCT",
        }
    }
}

/// `xs:duration` text for `d`, truncated to .NET's 100 ns ticks.
fn format_duration(d: std::time::Duration) -> String {
    use std::fmt::Write as _;
    let secs = d.as_secs();
    let ticks = d.subsec_nanos() / 100;
    let (days, hours, minutes, seconds) =
        (secs / 86_400, secs / 3_600 % 24, secs / 60 % 60, secs % 60);
    let mut out = String::from("P");
    if days > 0 {
        let _ = write!(out, "{days}D");
    }
    if hours == 0 && minutes == 0 && seconds == 0 && ticks == 0 {
        if days == 0 {
            out.push_str("T0S");
        }
        return out;
    }
    out.push('T');
    if hours > 0 {
        let _ = write!(out, "{hours}H");
    }
    if minutes > 0 {
        let _ = write!(out, "{minutes}M");
    }
    if seconds > 0 || ticks > 0 {
        let _ = write!(out, "{seconds}");
        if ticks > 0 {
            let frac = format!("{ticks:07}");
            let _ = write!(out, ".{}", frac.trim_end_matches('0'));
        }
        out.push('S');
    }
    out
}

/// Parses `P[nD][T[nH][nM][n[.f]S]]` (no years or months, not negative).
fn parse_duration(text: &str) -> Option<std::time::Duration> {
    let rest = text.trim().strip_prefix('P')?;
    if rest.is_empty() {
        return None;
    }
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) if !t.is_empty() => (d, Some(t)),
        Some(_) => return None,
        None => (rest, None),
    };
    let mut nanos: u128 = 0;
    if !date.is_empty() {
        let days: u64 = date.strip_suffix('D')?.parse().ok()?;
        nanos += u128::from(days) * 86_400_000_000_000;
    }
    let mut rest = time.unwrap_or("");
    for (unit, scale) in [('H', 3_600_000_000_000u128), ('M', 60_000_000_000)] {
        if let Some((n, after)) = rest.split_once(unit) {
            nanos += u128::from(n.parse::<u64>().ok()?) * scale;
            rest = after;
        }
    }
    if !rest.is_empty() {
        let secs = rest.strip_suffix('S')?;
        let (whole, frac) = secs.split_once('.').unwrap_or((secs, ""));
        if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        nanos += u128::from(whole.parse::<u64>().ok()?) * 1_000_000_000;
        if !frac.is_empty() {
            nanos += u128::from(format!("{frac:0<9}").parse::<u32>().ok()?);
        }
    }
    let secs = u64::try_from(nanos / 1_000_000_000).ok()?;
    Some(std::time::Duration::new(
        secs,
        (nanos % 1_000_000_000) as u32,
    ))
}
