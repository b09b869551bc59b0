//! `multipart/encrypted` framing of MS-WSMV 2.2.9.1 as pure functions (sealing is the transport's job).
