//! Action URIs (MS-WSMV 3.1.4): an open type, so unknown actions decode and re-encode unchanged.

macro_rules! actions {
    ($( $(#[$m:meta])* $variant:ident => $uri:expr, )*) => {
        /// The `a:Action` header.
        ///
        /// A response's action is its request's plus `Response` ([`Action::response`]).
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum Action {
            $( $(#[$m])* $variant, )*
            /// Any other action URI, kept as received.
            Other(String),
        }

        impl Action {
            /// Every named action, for tests and tables.
            pub const ALL: &'static [Action] = &[$(Action::$variant,)*];

            /// The action for a URI (unknown URIs become [`Action::Other`]).
            pub fn from_uri(uri: &str) -> Self {
                let uri = uri.trim();
                match uri {
                    $( u if u == $uri => Self::$variant, )*
                    other => Self::Other(other.to_owned()),
                }
            }

            /// The URI on the wire.
            pub fn as_uri(&self) -> &str {
                match self {
                    $( Self::$variant => $uri, )*
                    Self::Other(s) => s,
                }
            }
        }
    };
}

actions! {
    /// `transfer/Create`.
    Create => "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create",
    /// `transfer/CreateResponse`.
    CreateResponse => "http://schemas.xmlsoap.org/ws/2004/09/transfer/CreateResponse",
    /// `transfer/Get`.
    Get => "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get",
    /// `transfer/GetResponse`.
    GetResponse => "http://schemas.xmlsoap.org/ws/2004/09/transfer/GetResponse",
    /// `transfer/Put`.
    Put => "http://schemas.xmlsoap.org/ws/2004/09/transfer/Put",
    /// `transfer/PutResponse`.
    PutResponse => "http://schemas.xmlsoap.org/ws/2004/09/transfer/PutResponse",
    /// `transfer/Delete`.
    Delete => "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete",
    /// `transfer/DeleteResponse`.
    DeleteResponse => "http://schemas.xmlsoap.org/ws/2004/09/transfer/DeleteResponse",
    /// `enumeration/Enumerate`.
    Enumerate => "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Enumerate",
    /// `enumeration/EnumerateResponse`.
    EnumerateResponse => "http://schemas.xmlsoap.org/ws/2004/09/enumeration/EnumerateResponse",
    /// `enumeration/Pull`.
    Pull => "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Pull",
    /// `enumeration/PullResponse`.
    PullResponse => "http://schemas.xmlsoap.org/ws/2004/09/enumeration/PullResponse",
    /// `enumeration/Release`.
    Release => "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Release",
    /// `enumeration/ReleaseResponse`.
    ReleaseResponse => "http://schemas.xmlsoap.org/ws/2004/09/enumeration/ReleaseResponse",
    /// `shell/Command`.
    Command => "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Command",
    /// `shell/CommandResponse`.
    CommandResponse => "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandResponse",
    /// `shell/Send`.
    Send => "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Send",
    /// `shell/SendResponse`.
    SendResponse => "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/SendResponse",
    /// `shell/Receive`.
    Receive => "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive",
    /// `shell/ReceiveResponse`.
    ReceiveResponse => "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/ReceiveResponse",
    /// `shell/Signal`.
    Signal => "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Signal",
    /// `shell/SignalResponse`.
    SignalResponse => "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/SignalResponse",
    /// `shell/Connect`.
    Connect => "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Connect",
    /// `shell/ConnectResponse`.
    ConnectResponse => "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/ConnectResponse",
    /// `shell/Disconnect`.
    Disconnect => "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Disconnect",
    /// `shell/DisconnectResponse`.
    DisconnectResponse => "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/DisconnectResponse",
    /// `shell/Reconnect`.
    Reconnect => "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Reconnect",
    /// `shell/ReconnectResponse`.
    ReconnectResponse => "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/ReconnectResponse",
    /// WS-Management fault (`http://schemas.dmtf.org/wbem/wsman/1/wsman/fault`).
    Fault => "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault",
    /// WS-Addressing fault.
    AddressingFault => "http://schemas.xmlsoap.org/ws/2004/08/addressing/fault",
    /// WS-Enumeration fault.
    EnumerationFault => "http://schemas.xmlsoap.org/ws/2004/09/enumeration/fault",
}

impl Action {
    /// The response action of a request action (`…/Command` → `…/CommandResponse`); `None` for
    /// responses and faults.
    pub fn response(&self) -> Option<Self> {
        if self.is_response() || self.is_fault() {
            return None;
        }
        Some(Self::from_uri(&format!("{}Response", self.as_uri())))
    }

    /// Whether this is a response action (its URI ends with `Response`).
    pub fn is_response(&self) -> bool {
        self.as_uri().ends_with("Response")
    }

    /// Whether this is one of the fault actions (or any URI ending in `/fault`).
    pub fn is_fault(&self) -> bool {
        matches!(
            self,
            Self::Fault | Self::AddressingFault | Self::EnumerationFault
        ) || self.as_uri().ends_with("/fault")
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_uri())
    }
}
