//! Namespace URIs and well-known resource URIs (MS-WSMV 2.2.1).
//!
//! Match on these URIs, never on prefixes: clients choose their own. When encoding, this crate
//! uses the prefixes noted on each constant.

/// SOAP 1.2 envelope (`s`).
pub const SOAP: &str = "http://www.w3.org/2003/05/soap-envelope";
/// WS-Addressing 2004/08 (`a`).
pub const ADDRESSING: &str = "http://schemas.xmlsoap.org/ws/2004/08/addressing";
/// DMTF WS-Management (`w`).
pub const WSMAN: &str = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd";
/// Microsoft WS-Management extensions (`p`).
pub const WSMAN_MS: &str = "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd";
/// Windows remote shell (`rsp`).
pub const SHELL: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell";
/// WS-Transfer (`x`).
pub const TRANSFER: &str = "http://schemas.xmlsoap.org/ws/2004/09/transfer";
/// WS-Enumeration (`n`).
pub const ENUMERATION: &str = "http://schemas.xmlsoap.org/ws/2004/09/enumeration";
/// WSMan fault detail (`f`).
pub const FAULT: &str = "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault";
/// WinRM configuration (`cfg`).
pub const CONFIG: &str = "http://schemas.microsoft.com/wbem/wsman/1/config";
/// PowerShell payloads (`creationXml`, `connectXml`, `connectResponseXml`), default namespace.
pub const POWERSHELL: &str = "http://schemas.microsoft.com/powershell";
/// The `xml` prefix's namespace (`xml:lang`).
pub const XML: &str = "http://www.w3.org/XML/1998/namespace";
/// XML Schema instance (`xsi`).
pub const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
/// WS-Management Identify (`wsmid`, DSP8012), see [`crate::identify`].
pub const IDENTITY: &str = "http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd";

/// Resource URI of the cmd shell.
pub const RESOURCE_CMD: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd";
/// Resource URI prefix of PowerShell configurations (`…/Microsoft.PowerShell`).
pub const RESOURCE_POWERSHELL_PREFIX: &str = "http://schemas.microsoft.com/powershell/";
/// Resource URI of the default PowerShell configuration.
pub const RESOURCE_POWERSHELL: &str =
    "http://schemas.microsoft.com/powershell/Microsoft.PowerShell";
/// Resource URI used to enumerate shells.
pub const RESOURCE_SHELLS: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell";
/// Resource URI used to enumerate a shell's commands (with a ShellId selector filter).
pub const RESOURCE_COMMANDS: &str =
    "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Command";
/// Resource URI of the WinRM configuration.
pub const RESOURCE_CONFIG: &str = "http://schemas.microsoft.com/wbem/wsman/1/config";
/// The anonymous reply address.
pub const ANONYMOUS: &str = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous";
/// Filter dialect selecting by selector set.
pub const SELECTOR_FILTER_DIALECT: &str =
    "http://schemas.dmtf.org/wbem/wsman/1/wsman/SelectorFilter";
/// `w:FaultDetail` prefix (`…/faultDetail/UnexpectedSelectors` and so on).
pub const FAULT_DETAIL_PREFIX: &str = "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/";

/// Namespaces interned by the XML reader (no allocation per element for these).
pub(crate) const KNOWN: &[&str] = &[
    SOAP,
    ADDRESSING,
    WSMAN,
    WSMAN_MS,
    SHELL,
    TRANSFER,
    ENUMERATION,
    FAULT,
    CONFIG,
    POWERSHELL,
    XML,
    XSI,
    IDENTITY,
];

/// The prefixes this crate declares on every envelope it encodes.
pub(crate) const ENVELOPE_BINDINGS: &[(&str, &str)] = &[
    ("s", SOAP),
    ("a", ADDRESSING),
    ("w", WSMAN),
    ("p", WSMAN_MS),
    ("rsp", SHELL),
    ("x", TRANSFER),
    ("n", ENUMERATION),
    ("f", FAULT),
    ("cfg", CONFIG),
    ("xml", XML),
];
