//! The SOAP envelope: [`Header`] + typed [`Body`], decoded from and encoded to XML.

use std::time::Duration;

use crate::action::Action;
use crate::config::Config;
use crate::enumeration::{Enumerate, EnumerateResponse, Pull, PullResponse, Release};
use crate::error::DecodeError;
use crate::fault::Fault;
use crate::header::{CommandId, Header, MessageId, OptionSet, SelectorSet, ShellId};
use crate::ns;
use crate::shell::{
    CommandLine, Connect, ConnectResponse, CreateResponse, Disconnect, Receive, ReceiveResponse,
    Reconnect, Send, Shell, Signal,
};
use crate::xml::{self, DecodeLimits, Element, Writer};

/// A SOAP 1.2 envelope as WS-Management uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The headers.
    pub header: Header,
    /// The typed body.
    pub body: Body,
}

/// A resource representation in Get / Put bodies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// `rsp:Shell`.
    Shell(Box<Shell>),
    /// `cfg:Config`.
    Config(Config),
    /// Anything else, as XML.
    Other(Element),
}

/// The body, typed by element (namespace + name) and, where that is ambiguous (empty bodies,
/// `rsp:Shell` in a Create request or a Get reply), by the Action header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// Empty body with an action that has no typed body.
    Empty,
    /// Create request: `rsp:Shell`.
    Create(Box<Shell>),
    /// CreateResponse: `x:ResourceCreated` (+ `rsp:Shell`).
    CreateResponse(Box<CreateResponse>),
    /// Get request (empty body).
    Get,
    /// GetResponse: the resource.
    GetResponse(Resource),
    /// Put request: the new representation.
    Put(Resource),
    /// PutResponse: the resulting representation, if returned.
    PutResponse(Option<Resource>),
    /// Delete request (empty body).
    Delete,
    /// DeleteResponse (empty body).
    DeleteResponse,
    /// `n:Enumerate`.
    Enumerate(Enumerate),
    /// `n:EnumerateResponse`.
    EnumerateResponse(EnumerateResponse),
    /// `n:Pull`.
    Pull(Pull),
    /// `n:PullResponse`.
    PullResponse(PullResponse),
    /// `n:Release`.
    Release(Release),
    /// ReleaseResponse (empty body).
    ReleaseResponse,
    /// Command request: `rsp:CommandLine`.
    Command(CommandLine),
    /// `rsp:CommandResponse/rsp:CommandId`.
    CommandResponse(CommandId),
    /// `rsp:Send`.
    Send(Send),
    /// `rsp:SendResponse`.
    SendResponse,
    /// `rsp:Receive`.
    Receive(Receive),
    /// `rsp:ReceiveResponse`.
    ReceiveResponse(ReceiveResponse),
    /// `rsp:Signal`.
    Signal(Signal),
    /// `rsp:SignalResponse`.
    SignalResponse,
    /// `rsp:Connect`.
    Connect(Connect),
    /// `rsp:ConnectResponse`.
    ConnectResponse(ConnectResponse),
    /// `rsp:Disconnect`.
    Disconnect(Disconnect),
    /// DisconnectResponse (empty body).
    DisconnectResponse,
    /// Reconnect (usually an empty body).
    Reconnect(Reconnect),
    /// ReconnectResponse (empty body).
    ReconnectResponse,
    /// `s:Fault`.
    Fault(Box<Fault>),
    /// A body this crate does not model (e.g. WMI method output), as XML.
    Other(Vec<Element>),
}

impl Body {
    /// A short name for the variant (for logs and statistics).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Empty => "Empty",
            Self::Create(_) => "Create",
            Self::CreateResponse(_) => "CreateResponse",
            Self::Get => "Get",
            Self::GetResponse(_) => "GetResponse",
            Self::Put(_) => "Put",
            Self::PutResponse(_) => "PutResponse",
            Self::Delete => "Delete",
            Self::DeleteResponse => "DeleteResponse",
            Self::Enumerate(_) => "Enumerate",
            Self::EnumerateResponse(_) => "EnumerateResponse",
            Self::Pull(_) => "Pull",
            Self::PullResponse(_) => "PullResponse",
            Self::Release(_) => "Release",
            Self::ReleaseResponse => "ReleaseResponse",
            Self::Command(_) => "Command",
            Self::CommandResponse(_) => "CommandResponse",
            Self::Send(_) => "Send",
            Self::SendResponse => "SendResponse",
            Self::Receive(_) => "Receive",
            Self::ReceiveResponse(_) => "ReceiveResponse",
            Self::Signal(_) => "Signal",
            Self::SignalResponse => "SignalResponse",
            Self::Connect(_) => "Connect",
            Self::ConnectResponse(_) => "ConnectResponse",
            Self::Disconnect(_) => "Disconnect",
            Self::DisconnectResponse => "DisconnectResponse",
            Self::Reconnect(_) => "Reconnect",
            Self::ReconnectResponse => "ReconnectResponse",
            Self::Fault(_) => "Fault",
            Self::Other(_) => "Other",
        }
    }

    fn decode(body: &Element, action: &Action) -> Result<Self, DecodeError> {
        const PATH: &str = "Envelope/Body";
        let mut children = body.elements();
        let Some(first) = children.next() else {
            return Ok(match action {
                Action::Get => Self::Get,
                Action::Delete => Self::Delete,
                Action::DeleteResponse => Self::DeleteResponse,
                Action::ReleaseResponse => Self::ReleaseResponse,
                Action::PutResponse => Self::PutResponse(None),
                Action::SendResponse => Self::SendResponse,
                Action::SignalResponse => Self::SignalResponse,
                Action::DisconnectResponse => Self::DisconnectResponse,
                Action::Reconnect => Self::Reconnect(Reconnect::default()),
                Action::ReconnectResponse => Self::ReconnectResponse,
                _ => Self::Empty,
            });
        };
        let path = crate::codec::sub(PATH, &first.name);
        let p = path.as_str();
        let ns = first.ns.as_deref().unwrap_or("");
        Ok(match (ns, first.name.as_str()) {
            (ns::SOAP, "Fault") => Self::Fault(Box::new(Fault::decode(first, p)?)),
            (ns::TRANSFER, "ResourceCreated") => {
                let shell = children.find(|e| e.is(ns::SHELL, "Shell"));
                Self::CreateResponse(Box::new(CreateResponse::decode(first, shell, p)?))
            }
            (ns::SHELL, "Shell") | (ns::CONFIG, "Config") => {
                let resource = if first.name == "Shell" {
                    Resource::Shell(Box::new(Shell::decode(first, p)?))
                } else {
                    Resource::Config(Config::decode(first, p)?)
                };
                match (action, resource) {
                    (Action::Create, Resource::Shell(s)) => Self::Create(s),
                    (Action::Put, r) => Self::Put(r),
                    (Action::PutResponse, r) => Self::PutResponse(Some(r)),
                    (Action::GetResponse, r) => Self::GetResponse(r),
                    _ => Self::Other(body.elements().cloned().collect()),
                }
            }
            (ns::ENUMERATION, "Enumerate") => Self::Enumerate(Enumerate::decode(first, p)?),
            (ns::ENUMERATION, "EnumerateResponse") => {
                Self::EnumerateResponse(EnumerateResponse::decode(first, p)?)
            }
            (ns::ENUMERATION, "Pull") => Self::Pull(Pull::decode(first, p)?),
            (ns::ENUMERATION, "PullResponse") => {
                Self::PullResponse(PullResponse::decode(first, p)?)
            }
            (ns::ENUMERATION, "Release") => Self::Release(Release::decode(first, p)?),
            (ns::SHELL, "CommandLine") => Self::Command(CommandLine::decode(first, p)?),
            (ns::SHELL, "CommandResponse") => {
                let id = first
                    .child(ns::SHELL, "CommandId")
                    .ok_or_else(|| DecodeError::missing(p, "CommandId"))?;
                Self::CommandResponse(CommandId::new(crate::codec::trimmed(id)))
            }
            (ns::SHELL, "Send") => Self::Send(Send::decode(first, p)?),
            (ns::SHELL, "SendResponse") => Self::SendResponse,
            (ns::SHELL, "Receive") => Self::Receive(Receive::decode(first, p)?),
            (ns::SHELL, "ReceiveResponse") => {
                Self::ReceiveResponse(ReceiveResponse::decode(first, p)?)
            }
            (ns::SHELL, "Signal") => Self::Signal(Signal::decode(first, p)?),
            (ns::SHELL, "SignalResponse") => Self::SignalResponse,
            (ns::SHELL, "Connect") => Self::Connect(Connect::decode(first, p)?),
            (ns::SHELL, "ConnectResponse") => {
                Self::ConnectResponse(ConnectResponse::decode(first, p)?)
            }
            (ns::SHELL, "Disconnect") => Self::Disconnect(Disconnect::decode(first, p)?),
            (ns::SHELL, "DisconnectResponse") => Self::DisconnectResponse,
            (ns::SHELL, "Reconnect") => Self::Reconnect(Reconnect::decode(Some(first))),
            (ns::SHELL, "ReconnectResponse") => Self::ReconnectResponse,
            _ => match action {
                Action::Put => Self::Put(Resource::Other(first.clone())),
                Action::GetResponse => Self::GetResponse(Resource::Other(first.clone())),
                _ => Self::Other(body.elements().cloned().collect()),
            },
        })
    }

    fn encode(&self, w: &mut Writer) {
        let empty = |w: &mut Writer, q: &str| {
            w.start(q);
            w.end_empty();
        };
        match self {
            Self::Empty
            | Self::Get
            | Self::Delete
            | Self::DeleteResponse
            | Self::ReleaseResponse
            | Self::DisconnectResponse
            | Self::ReconnectResponse
            | Self::PutResponse(None) => {}
            Self::Create(s) => s.encode(w),
            Self::CreateResponse(c) => c.encode(w),
            Self::GetResponse(r) | Self::Put(r) | Self::PutResponse(Some(r)) => match r {
                Resource::Shell(s) => s.encode(w),
                Resource::Config(c) => c.encode(w),
                Resource::Other(e) => w.element(e),
            },
            Self::Enumerate(e) => e.encode(w),
            Self::EnumerateResponse(e) => e.encode(w),
            Self::Pull(p) => p.encode(w),
            Self::PullResponse(p) => p.encode(w),
            Self::Release(r) => r.encode(w),
            Self::Command(c) => c.encode(w),
            Self::CommandResponse(id) => {
                w.start("rsp:CommandResponse");
                w.end_start();
                w.leaf("rsp:CommandId", id.as_str());
                w.close("rsp:CommandResponse");
            }
            Self::Send(s) => s.encode(w),
            Self::SendResponse => empty(w, "rsp:SendResponse"),
            Self::Receive(r) => r.encode(w),
            Self::ReceiveResponse(r) => r.encode(w),
            Self::Signal(s) => s.encode(w),
            Self::SignalResponse => empty(w, "rsp:SignalResponse"),
            Self::Connect(c) => c.encode(w),
            Self::ConnectResponse(c) => c.encode(w),
            Self::Disconnect(d) => d.encode(w),
            Self::Reconnect(r) => r.encode(w),
            Self::Fault(f) => f.encode(w),
            Self::Other(els) => els.iter().for_each(|e| w.element(e)),
        }
    }

    /// A rough size of the encoded body, to size the output buffer.
    fn size_hint(&self) -> usize {
        let streams = |s: &[crate::shell::Stream]| {
            s.iter().map(|s| s.data.len() * 4 / 3 + 128).sum::<usize>()
        };
        match self {
            Self::ReceiveResponse(r) => streams(&r.streams),
            Self::Send(s) => streams(&s.streams),
            _ => 1024,
        }
    }
}

impl Envelope {
    /// Decodes an envelope with the default [`DecodeLimits`].
    ///
    /// # Errors
    /// A [`DecodeError`] saying what was wrong and where.
    pub fn decode(input: impl AsRef<[u8]>) -> Result<Self, DecodeError> {
        Self::decode_with(input.as_ref(), &DecodeLimits::default())
    }

    /// Decodes an envelope with explicit limits.
    ///
    /// # Errors
    /// A [`DecodeError`] saying what was wrong and where.
    pub fn decode_with(input: &[u8], limits: &DecodeLimits) -> Result<Self, DecodeError> {
        let root = xml::parse(input, limits)?;
        if root.name != "Envelope" {
            return Err(DecodeError::NotAnEnvelope { found: root.name });
        }
        if root.ns.as_deref() != Some(ns::SOAP) {
            return Err(DecodeError::UnexpectedNamespace {
                path: "Envelope".into(),
                expected: ns::SOAP,
                found: root.ns.map(|n| n.into_owned()).unwrap_or_default(),
            });
        }
        let header = Header::decode(root.child(ns::SOAP, "Header"))?;
        let body = root
            .child(ns::SOAP, "Body")
            .ok_or_else(|| DecodeError::missing("Envelope", "Body"))?;
        let body = Body::decode(body, &header.action)?;
        Ok(Self { header, body })
    }

    /// Encodes the envelope as UTF-8 XML (no declaration), with the prefixes
    /// `s a w p rsp x n f cfg` declared on the root.
    pub fn encode(&self) -> String {
        let mut w = Writer::with_capacity(2048 + self.body.size_hint(), ns::ENVELOPE_BINDINGS);
        w.start("s:Envelope");
        for (p, u) in ns::ENVELOPE_BINDINGS {
            if *p != "xml" {
                w.attr(&format!("xmlns:{p}"), u);
            }
        }
        w.end_start();
        self.header.encode(&mut w);
        w.start("s:Body");
        w.end_start();
        self.body.encode(&mut w);
        w.close("s:Body");
        w.close("s:Envelope");
        w.out
    }

    /// Starts a request: `action` to `resource_uri`, with the caller's message id (this crate
    /// has no randomness), reply-to anonymous, locale `en-US` and the given timeout.
    pub fn request(action: Action, resource_uri: &str, message_id: MessageId) -> RequestBuilder {
        let mut header = Header::new(action, message_id);
        header.resource_uri = Some(resource_uri.to_owned());
        header.reply_to = Some(ns::ANONYMOUS.to_owned());
        header.locale = Some("en-US".into());
        header.data_locale = Some("en-US".into());
        RequestBuilder { header }
    }

    /// A reply to `request` with `body`: the response action, `RelatesTo` = the request's
    /// MessageID, `To` anonymous.
    pub fn reply_to(request: &Header, message_id: MessageId, body: Body) -> Self {
        let action = request
            .action
            .response()
            .unwrap_or_else(|| Action::Other(format!("{}Response", request.action.as_uri())));
        let mut header = Header::new(action, message_id);
        header.to = Some(ns::ANONYMOUS.to_owned());
        header.relates_to = Some(request.message_id.clone());
        Self { header, body }
    }

    /// The fault, if the body is one.
    pub fn fault(&self) -> Option<&Fault> {
        match &self.body {
            Body::Fault(f) => Some(f),
            _ => None,
        }
    }
}

/// Builds a request [`Envelope`]; see [`Envelope::request`].
#[derive(Debug, Clone)]
pub struct RequestBuilder {
    header: Header,
}

impl RequestBuilder {
    /// `a:To` (the endpoint URL).
    pub fn to(mut self, to: &str) -> Self {
        self.header.to = Some(to.to_owned());
        self
    }

    /// `w:MaxEnvelopeSize` in bytes.
    pub fn max_envelope_size(mut self, bytes: u32) -> Self {
        self.header.max_envelope_size = Some(bytes);
        self
    }

    /// `w:OperationTimeout`.
    pub fn operation_timeout(mut self, timeout: Duration) -> Self {
        self.header.operation_timeout = Some(timeout);
        self
    }

    /// `p:SessionId`.
    pub fn session_id(mut self, id: &str) -> Self {
        self.header.session_id = Some(id.to_owned());
        self
    }

    /// The `ShellId` selector.
    pub fn shell_id(mut self, id: &ShellId) -> Self {
        self.header.selectors = SelectorSet::shell_id(id);
        self
    }

    /// Adds an option.
    pub fn option(mut self, name: &str, value: &str, must_comply: Option<bool>) -> Self {
        let options = std::mem::take(&mut self.header.options);
        self.header.options = OptionSet::with(options, name, value, must_comply);
        self
    }

    /// Locale and data locale (`xml:lang`).
    pub fn locale(mut self, locale: &str) -> Self {
        self.header.locale = Some(locale.to_owned());
        self.header.data_locale = Some(locale.to_owned());
        self
    }

    /// Finishes with `body`.
    pub fn body(self, body: Body) -> Envelope {
        Envelope {
            header: self.header,
            body,
        }
    }
}
