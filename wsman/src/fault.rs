//! SOAP faults with the WSMan fault detail (MS-WSMV 2.2.4.43, SPEC B2), as typed data.
//!
//! A fault from the peer is not an error of ours: it decodes into [`Fault`] like any body. The
//! constructors (`Fault::invalid_selectors`, `Fault::timed_out`…) build the faults a Windows host
//! returns, with its English messages, for the emulator.

use std::fmt;

use crate::action::Action;
use crate::codec::{self, sub};
use crate::envelope::{Body, Envelope};
use crate::error::DecodeError;
use crate::header::{Header, MessageId};
use crate::ns;
use crate::xml::{Element, Writer};

/// A WSMan fault code (`f:WSManFault Code=…`): an open newtype, so any value round-trips.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WsManFaultCode(pub u32);

impl WsManFaultCode {
    /// Access denied (a Win32 code).
    pub const ACCESS_DENIED: Self = Self(0x5);
    /// Invalid parameter (a Win32 code).
    pub const INVALID_PARAMETER: Self = Self(0x57);
    /// Invalid message information header (e.g. `OperationTimeout` `PT-1S`).
    pub const INVALID_HEADER: Self = Self(0x8033_800F);
    /// Enumeration filter could not be processed.
    pub const CANNOT_PROCESS_FILTER: Self = Self(0x8033_801A);
    /// Operation timed out (Receive with nothing to send).
    pub const TIMED_OUT: Self = Self(0x8033_8029);
    /// Unknown resource URI.
    pub const DESTINATION_UNREACHABLE: Self = Self(0x8033_803B);
    /// Request envelope too large.
    pub const ENCODING_LIMIT: Self = Self(0x8033_8048);
    /// Invalid selectors: unknown shell, unknown command.
    pub const INVALID_SELECTORS: Self = Self(0x8033_805B);
    /// Over MaxShellsPerUser.
    pub const SHELL_QUOTA: Self = Self(0x8033_81A5);
    /// Over MaxConcurrentOperationsPerUser.
    pub const OPERATION_QUOTA: Self = Self(0x8033_81A6);
    /// The shell's output stream is disconnected.
    pub const STREAM_DISCONNECTED: Self = Self(0x8033_81DE);
    /// PowerShell plugin: missing `protocolversion` option.
    pub const PLUGIN_PROTOCOL_VERSION: Self = Self(0x8054_0BC7);
}

impl fmt::Display for WsManFaultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:08X}", self.0)
    }
}

/// A namespace-qualified name (fault code and subcode values).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QualifiedName {
    /// Namespace URI the prefix resolved to.
    pub ns: Option<String>,
    /// Local part.
    pub local: String,
}

impl QualifiedName {
    /// `{ns}local`.
    pub fn new(ns: &str, local: &str) -> Self {
        Self {
            ns: Some(ns.to_owned()),
            local: local.to_owned(),
        }
    }

    /// Whether this is `{ns}local`.
    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.local == local && self.ns.as_deref() == Some(ns)
    }
}

/// `s:Fault`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// `s:Code/s:Value` (`s:Sender`, `s:Receiver`).
    pub code: QualifiedName,
    /// `s:Code/s:Subcode/s:Value` (`w:TimedOut`, `w:InvalidSelectors`…).
    pub subcode: Option<QualifiedName>,
    /// `s:Reason/s:Text` entries.
    pub reason: Vec<ReasonText>,
    /// `s:Detail`.
    pub detail: Option<FaultDetail>,
}

/// One `s:Reason/s:Text xml:lang=…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReasonText {
    /// `xml:lang`.
    pub lang: Option<String>,
    /// The text, as received.
    pub text: String,
}

/// `s:Detail`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FaultDetail {
    /// `w:FaultDetail` URI (`…/faultDetail/UnexpectedSelectors`).
    pub fault_detail: Option<String>,
    /// `f:WSManFault`.
    pub wsman_fault: Option<WsManFault>,
    /// Other detail content (e.g. `MSFT_WmiError`), as XML.
    pub other: Vec<Element>,
}

/// `f:WSManFault Code Machine` with its message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WsManFault {
    /// `Code` attribute.
    pub code: Option<WsManFaultCode>,
    /// `Machine` attribute.
    pub machine: Option<String>,
    /// `xml:lang` attribute.
    pub lang: Option<String>,
    /// `f:Message`.
    pub message: Option<FaultMessage>,
}

/// `f:Message`: text, optionally with a provider fault inside.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FaultMessage {
    /// Direct text.
    pub text: String,
    /// `f:ProviderFault`.
    pub provider_fault: Option<ProviderFault>,
}

/// `f:ProviderFault provider path`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProviderFault {
    /// `provider` attribute.
    pub provider: Option<String>,
    /// `path` attribute.
    pub path: Option<String>,
    /// Direct text.
    pub text: String,
    /// Nested `f:WSManFault`s.
    pub wsman_faults: Vec<WsManFault>,
    /// Other content (`f:ExtendedError`…), as XML.
    pub other: Vec<Element>,
}

const RECEIVER: &str = "Receiver";
const SENDER: &str = "Sender";

impl Fault {
    /// A fault with a SOAP code (`Sender` / `Receiver`), a subcode, an English reason and a
    /// WSManFault detail.
    pub fn new(
        code: &str,
        subcode: QualifiedName,
        reason: &str,
        wsman_code: Option<WsManFaultCode>,
        machine: &str,
        message: &str,
    ) -> Self {
        Self {
            code: QualifiedName::new(ns::SOAP, code),
            subcode: Some(subcode),
            reason: vec![ReasonText {
                lang: Some("en-US".into()),
                text: reason.to_owned(),
            }],
            detail: Some(FaultDetail {
                fault_detail: None,
                wsman_fault: Some(WsManFault {
                    code: wsman_code,
                    machine: Some(machine.to_owned()),
                    lang: None,
                    message: Some(FaultMessage {
                        text: message.to_owned(),
                        provider_fault: None,
                    }),
                }),
                other: Vec::new(),
            }),
        }
    }

    fn with_fault_detail(mut self, detail: &str) -> Self {
        if let Some(d) = &mut self.detail {
            d.fault_detail = Some(format!("{}{detail}", ns::FAULT_DETAIL_PREFIX));
        }
        self
    }

    /// Unknown or expired ShellId, bad CommandId: `w:InvalidSelectors`, 2150858843.
    pub fn invalid_selectors(machine: &str) -> Self {
        const R: &str = "The WS-Management service cannot process the request because the request contained invalid selectors for the resource. ";
        Self::new(
            SENDER,
            QualifiedName::new(ns::WSMAN, "InvalidSelectors"),
            R,
            Some(WsManFaultCode::INVALID_SELECTORS),
            machine,
            R,
        )
        .with_fault_detail("UnexpectedSelectors")
    }

    /// A command id the shell does not know: `w:InvalidSelectors` with the Windows Remote Shell
    /// message.
    pub fn unknown_command(machine: &str) -> Self {
        let mut f = Self::invalid_selectors(machine);
        if let Some(m) = f
            .detail
            .as_mut()
            .and_then(|d| d.wsman_fault.as_mut())
            .and_then(|w| w.message.as_mut())
        {
            m.text = "The Windows Remote Shell received a request to perform an operation on a command identifier that does not exist. Either the command has completed execution or the client specified an invalid command identifier. ".into();
        }
        f
    }

    /// Receive with no output within OperationTimeout: `w:TimedOut`, 2150858793.
    pub fn timed_out(machine: &str) -> Self {
        const R: &str = "The WS-Management service cannot complete the operation within the time specified in OperationTimeout.  ";
        Self::new(
            RECEIVER,
            QualifiedName::new(ns::WSMAN, "TimedOut"),
            R,
            Some(WsManFaultCode::TIMED_OUT),
            machine,
            R,
        )
    }

    /// A malformed header: `a:InvalidMessageInformationHeader`, 2150858767. `message` says which
    /// (e.g. "The XML contains an invalid timeout field in the SOAP header: PT-1S. ").
    pub fn invalid_header(machine: &str, message: &str) -> Self {
        Self::new(
            SENDER,
            QualifiedName::new(ns::ADDRESSING, "InvalidMessageInformationHeader"),
            "The WS-Management service cannot process the request. The request contains one or more invalid SOAP headers. ",
            Some(WsManFaultCode::INVALID_HEADER),
            machine,
            &format!("The WS-Management service cannot process the request. {message}"),
        )
    }

    /// Unknown resource URI or configuration: `a:DestinationUnreachable`, 2150858811.
    pub fn destination_unreachable(machine: &str, resource_uri: &str) -> Self {
        Self::new(
            SENDER,
            QualifiedName::new(ns::ADDRESSING, "DestinationUnreachable"),
            "The WS-Management service cannot process the request because the resource URI was not found. ",
            Some(WsManFaultCode::DESTINATION_UNREACHABLE),
            machine,
            &format!("The WS-Management service cannot process the request. The resource URI {resource_uri} was not found in the WS-Management catalog. "),
        )
        .with_fault_detail("InvalidResourceURI")
    }

    /// Over MaxShellsPerUser: `w:QuotaLimit`, 2150859173.
    pub fn shell_quota(machine: &str, limit: u32) -> Self {
        const R: &str = "The WS-Management service cannot process the request. The maximum number of concurrent shells for this user has been exceeded. Close existing shells or raise the quota for this user. ";
        Self::new(
            SENDER,
            QualifiedName::new(ns::WSMAN, "QuotaLimit"),
            R,
            Some(WsManFaultCode::SHELL_QUOTA),
            machine,
            &format!(
                "The WS-Management service cannot process the request. This user is allowed a maximum number of {limit} concurrent shells, which has been exceeded. Close existing shells or raise the quota for this user. "
            ),
        )
    }

    /// Over MaxConcurrentOperationsPerUser: `w:QuotaLimit`, 2150859174.
    pub fn operation_quota(machine: &str, limit: u32) -> Self {
        const R: &str = "The WS-Management service cannot process the request. The maximum number of concurrent operations for this user has been exceeded. Close existing operations for this user, or raise the quota for this user. ";
        Self::new(
            SENDER,
            QualifiedName::new(ns::WSMAN, "QuotaLimit"),
            R,
            Some(WsManFaultCode::OPERATION_QUOTA),
            machine,
            &format!(
                "The WS-Management service cannot process the request. This user is allowed a maximum number of {limit} concurrent operations, which has been exceeded. Close existing operations for this user, or raise the quota for this user. "
            ),
        )
    }

    /// Over MaxConcurrentCommandsPerShell: `w:InternalError` naming the quota.
    pub fn command_quota(machine: &str, limit: u32) -> Self {
        let m = format!(
            "The WS-Management service cannot process the request. This shell is allowed a maximum number of {limit} concurrent commands, which has been exceeded (MaxConcurrentCommandsPerShell). Close existing commands or raise the quota. "
        );
        Self::new(
            RECEIVER,
            QualifiedName::new(ns::WSMAN, "InternalError"),
            &m,
            None,
            machine,
            &m,
        )
    }

    /// Receive on a disconnected shell: `w:InternalError`, 2150859230 (0x803381DE).
    pub fn stream_disconnected(machine: &str) -> Self {
        const R: &str = "The WS-Management service cannot process the request because the shell's output stream is disconnected. Reconnect to the shell and try again. ";
        Self::new(
            RECEIVER,
            QualifiedName::new(ns::WSMAN, "InternalError"),
            R,
            Some(WsManFaultCode::STREAM_DISCONNECTED),
            machine,
            R,
        )
    }

    /// Connect to a shell connected elsewhere: `w:InternalError`.
    pub fn already_connected(machine: &str) -> Self {
        const R: &str = "The WS-Management service cannot process the request because the shell is already connected to another client. Disconnect the other client first. ";
        Self::new(
            RECEIVER,
            QualifiedName::new(ns::WSMAN, "InternalError"),
            R,
            None,
            machine,
            R,
        )
    }

    /// Another user's shell: `w:AccessDenied`, code 5.
    pub fn access_denied(machine: &str) -> Self {
        const R: &str = "Access is denied. ";
        Self::new(
            SENDER,
            QualifiedName::new(ns::WSMAN, "AccessDenied"),
            R,
            Some(WsManFaultCode::ACCESS_DENIED),
            machine,
            R,
        )
    }

    /// Request over MaxEnvelopeSizekb: `w:EncodingLimit`, 2150858824.
    pub fn encoding_limit(machine: &str) -> Self {
        const R: &str = "The WS-Management service cannot process the request because the request envelope size exceeds the maximum allowed envelope size (MaxEnvelopeSizekb). ";
        Self::new(
            SENDER,
            QualifiedName::new(ns::WSMAN, "EncodingLimit"),
            R,
            Some(WsManFaultCode::ENCODING_LIMIT),
            machine,
            R,
        )
        .with_fault_detail("MaxEnvelopeSize")
    }

    /// PowerShell Create without the `protocolversion` option: `w:InternalError`, 0x80540BC7.
    pub fn missing_protocol_version(machine: &str) -> Self {
        const R: &str = "The WS-Management service cannot process the request. The PowerShell plugin requires the protocolversion option, which was not found in the request. ";
        Self::new(
            RECEIVER,
            QualifiedName::new(ns::WSMAN, "InternalError"),
            R,
            Some(WsManFaultCode::PLUGIN_PROTOCOL_VERSION),
            machine,
            R,
        )
    }

    /// The WSMan fault code, if the detail carries one.
    pub fn wsman_code(&self) -> Option<WsManFaultCode> {
        self.detail.as_ref()?.wsman_fault.as_ref()?.code
    }

    /// The first reason text, trimmed.
    pub fn reason_text(&self) -> &str {
        self.reason.first().map_or("", |r| r.text.trim())
    }

    /// The fault action for this fault's subcode namespace (addressing, enumeration or WSMan).
    pub fn action(&self) -> Action {
        match self.subcode.as_ref().and_then(|s| s.ns.as_deref()) {
            Some(ns::ADDRESSING) => Action::AddressingFault,
            Some(ns::ENUMERATION) => Action::EnumerationFault,
            _ => Action::Fault,
        }
    }

    /// A reply envelope carrying this fault.
    pub fn to_envelope(&self, message_id: MessageId, relates_to: Option<MessageId>) -> Envelope {
        let mut header = Header::new(self.action(), message_id);
        header.to = Some(ns::ANONYMOUS.to_owned());
        header.relates_to = relates_to;
        Envelope {
            header,
            body: Body::Fault(Box::new(self.clone())),
        }
    }

    pub(crate) fn decode(el: &Element, path: &str) -> Result<Self, DecodeError> {
        let code_el = el
            .child(ns::SOAP, "Code")
            .ok_or_else(|| DecodeError::missing(path, "Code"))?;
        let cpath = sub(path, "Code");
        let value = code_el
            .child(ns::SOAP, "Value")
            .ok_or_else(|| DecodeError::missing(&cpath, "Value"))?;
        let subcode = code_el
            .child(ns::SOAP, "Subcode")
            .and_then(|s| s.child(ns::SOAP, "Value"))
            .map(qname);
        let reason = el
            .child(ns::SOAP, "Reason")
            .map(|r| {
                r.elements()
                    .filter(|t| t.is(ns::SOAP, "Text"))
                    .map(|t| ReasonText {
                        lang: t.attr_ns(ns::XML, "lang").map(str::to_owned),
                        text: t.text().into_owned(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let detail = match el.child(ns::SOAP, "Detail") {
            Some(d) => Some(FaultDetail::decode(d, &sub(path, "Detail"))?),
            None => None,
        };
        Ok(Self {
            code: qname(value),
            subcode,
            reason,
            detail,
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.start("s:Fault");
        w.end_start();
        w.start("s:Code");
        w.end_start();
        write_qname(w, &self.code);
        if let Some(s) = &self.subcode {
            w.start("s:Subcode");
            w.end_start();
            write_qname(w, s);
            w.close("s:Subcode");
        }
        w.close("s:Code");
        if !self.reason.is_empty() {
            w.start("s:Reason");
            w.end_start();
            for r in &self.reason {
                w.start("s:Text");
                if let Some(l) = &r.lang {
                    w.attr("xml:lang", l);
                }
                w.end_start();
                w.text(&r.text);
                w.close("s:Text");
            }
            w.close("s:Reason");
        }
        if let Some(d) = &self.detail {
            d.encode(w);
        }
        w.close("s:Fault");
    }
}

fn qname(value: &Element) -> QualifiedName {
    let text = codec::trimmed(value);
    let local = text
        .rsplit_once(':')
        .map_or(text.as_str(), |(_, l)| l)
        .trim();
    QualifiedName {
        ns: value.text_ns.as_deref().map(str::to_owned),
        local: local.to_owned(),
    }
}

fn write_qname(w: &mut Writer, q: &QualifiedName) {
    w.start("s:Value");
    let text = match &q.ns {
        Some(uri) => {
            let (text, decl) = w.qname_for(uri, &q.local);
            if let Some((p, u)) = decl {
                w.attr(&format!("xmlns:{p}"), &u);
            }
            text
        }
        None => q.local.clone(),
    };
    w.end_start();
    w.text(&text);
    w.close("s:Value");
}

impl FaultDetail {
    fn decode(el: &Element, path: &str) -> Result<Self, DecodeError> {
        let mut d = Self::default();
        for c in el.elements() {
            if c.is(ns::WSMAN, "FaultDetail") && d.fault_detail.is_none() {
                d.fault_detail = Some(codec::trimmed(c));
            } else if c.is(ns::FAULT, "WSManFault") && d.wsman_fault.is_none() {
                d.wsman_fault = Some(WsManFault::decode(c, &sub(path, "WSManFault"))?);
            } else {
                d.other.push(c.clone());
            }
        }
        Ok(d)
    }

    fn encode(&self, w: &mut Writer) {
        w.start("s:Detail");
        w.end_start();
        codec::opt_leaf(w, "w:FaultDetail", self.fault_detail.as_deref());
        if let Some(f) = &self.wsman_fault {
            f.encode(w);
        }
        for o in &self.other {
            w.element(o);
        }
        w.close("s:Detail");
    }
}

impl WsManFault {
    fn decode(el: &Element, path: &str) -> Result<Self, DecodeError> {
        let code = match el.attr("Code") {
            Some(c) => Some(WsManFaultCode(codec::number(c, path, "fault code")?)),
            None => None,
        };
        let message = match el.child(ns::FAULT, "Message") {
            Some(m) => {
                let mpath = sub(path, "Message");
                let provider_fault = match m.child(ns::FAULT, "ProviderFault") {
                    Some(p) => Some(ProviderFault::decode(p, &sub(&mpath, "ProviderFault"))?),
                    None => None,
                };
                Some(FaultMessage {
                    text: m.text().into_owned(),
                    provider_fault,
                })
            }
            None => None,
        };
        Ok(Self {
            code,
            machine: el.attr("Machine").map(str::to_owned),
            lang: el.attr_ns(ns::XML, "lang").map(str::to_owned),
            message,
        })
    }

    fn encode(&self, w: &mut Writer) {
        w.start("f:WSManFault");
        if let Some(c) = self.code {
            w.attr("Code", &c.0.to_string());
        }
        if let Some(m) = &self.machine {
            w.attr("Machine", m);
        }
        if let Some(l) = &self.lang {
            w.attr("xml:lang", l);
        }
        let Some(m) = &self.message else {
            w.end_empty();
            return;
        };
        w.end_start();
        w.start("f:Message");
        w.end_start();
        w.text(&m.text);
        if let Some(p) = &m.provider_fault {
            p.encode(w);
        }
        w.close("f:Message");
        w.close("f:WSManFault");
    }
}

impl ProviderFault {
    fn decode(el: &Element, path: &str) -> Result<Self, DecodeError> {
        let mut p = Self {
            provider: el.attr("provider").map(str::to_owned),
            path: el.attr("path").map(str::to_owned),
            text: el.text().into_owned(),
            ..Self::default()
        };
        for c in el.elements() {
            if c.is(ns::FAULT, "WSManFault") {
                p.wsman_faults
                    .push(WsManFault::decode(c, &sub(path, "WSManFault"))?);
            } else {
                p.other.push(c.clone());
            }
        }
        Ok(p)
    }

    fn encode(&self, w: &mut Writer) {
        w.start("f:ProviderFault");
        if let Some(p) = &self.provider {
            w.attr("provider", p);
        }
        if let Some(p) = &self.path {
            w.attr("path", p);
        }
        w.end_start();
        w.text(&self.text);
        for f in &self.wsman_faults {
            f.encode(w);
        }
        for o in &self.other {
            w.element(o);
        }
        w.close("f:ProviderFault");
    }
}
