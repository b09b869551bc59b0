//! Replaying recorded conversations against our client: a [`ScriptedTransport`] plays the
//! Windows side of a pypsrp scenario while a driver runs the client through the same steps.
//!
//! For each request the client sends, the transport takes the next recorded exchange,
//! compares the request with the recorded one *semantically* ([`compare_requests`]: action,
//! resource URI, selectors, options, MaxEnvelopeSize and the typed body, never message ids,
//! `To` or prefixes) and answers with the recorded response, its `RelatesTo` rewritten to the
//! client's `MessageID`. `transport_error` entries are answered with HTTP 500 and the fault,
//! `http_error` with a connection error, `auth_error` with an authentication failure.
//!
//! Shell and command ids come from the recorded responses, so the requests that follow carry
//! the recorded ids and are compared exactly. The harness is protocol-agnostic: PSRP scenarios
//! only need a driver.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sessions::{ClientOptions, WsManClient};
use wsman::Envelope;
use wsman_transport::{BoxFuture, HttpReply, Lane, Transport, TransportError};

use crate::{Exchange, FixtureFile, pypsrp_files};

pub mod pypsrp;

/// The endpoint the scripted transport pretends to be.
pub const ENDPOINT: &str = "http://replay.invalid:5985/wsman";

#[derive(Debug, Default)]
struct State {
    pending: VecDeque<Exchange>,
    /// Problems found so far (mismatched requests, an exhausted script…).
    problems: Vec<String>,
    /// Requests answered.
    answered: usize,
    /// The first `p:SessionId` seen: every request must carry the same one.
    session_id: Option<String>,
}

/// How the recorded `RelatesTo` of a response is adapted to the client's `MessageID`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RelatesTo {
    /// Always set it to the request's `MessageID` (recordings are not trusted on this: one
    /// pypsrp recording, `test_winrs_unicode` exchange 4, relates to another request).
    #[default]
    Rewrite,
    /// Replace the *recorded* request's `MessageID` with ours and leave any other value alone,
    /// so a deliberately mismatched reply (pywinrm's `test_wsmv_mismatch_message_id`) stays
    /// mismatched.
    Translate,
}

/// Compares a recorded request (first) with ours (second); returns the differences.
pub type Comparator = dyn Fn(&Envelope, &Envelope) -> Vec<String> + Send + Sync;

/// Adapts a recorded response (second) to our request (first) before it is returned, for the
/// few bytes a recording cannot provide (a session key encrypted for *our* public key).
pub type Rewriter = dyn Fn(&Envelope, String) -> String + Send + Sync;

/// A [`Transport`] that answers from a recorded scenario and checks what the client sends.
pub struct ScriptedTransport {
    name: String,
    state: Mutex<State>,
    compare: Box<Comparator>,
    relates_to: RelatesTo,
    rewrite: Option<Box<Rewriter>>,
}

impl std::fmt::Debug for ScriptedTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptedTransport")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl ScriptedTransport {
    /// A transport playing `file`'s exchanges in order, comparing with [`compare_requests`].
    pub fn new(file: &FixtureFile) -> Self {
        Self::with_comparator(file, Box::new(compare_requests))
    }

    /// The same with another comparison. PSRP drivers use [`compare_headers`] plus their own
    /// body comparison, since `creationXml` / `Arguments` carry fragments whose CLIXML text
    /// need not be byte-identical, and inject the recorded RunspacePool / pipeline ids.
    pub fn with_comparator(file: &FixtureFile, compare: Box<Comparator>) -> Self {
        Self {
            name: file.test_name(),
            state: Mutex::new(State {
                pending: file.exchanges.iter().cloned().collect(),
                ..State::default()
            }),
            compare,
            relates_to: RelatesTo::Rewrite,
            rewrite: None,
        }
    }

    /// Adapts every response with `rewrite` after `RelatesTo` (see [`Rewriter`]).
    pub fn with_rewriter(mut self, rewrite: Box<Rewriter>) -> Self {
        self.rewrite = Some(rewrite);
        self
    }

    /// Chooses how `RelatesTo` is adapted (default [`RelatesTo::Rewrite`]).
    pub fn with_relates_to(mut self, policy: RelatesTo) -> Self {
        self.relates_to = policy;
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Problems so far, plus one for every recorded exchange the client never reached.
    pub fn finish(&self) -> Vec<String> {
        let st = self.lock();
        let mut problems = st.problems.clone();
        for ex in &st.pending {
            problems.push(format!("{}: recorded request never sent", ex.name()));
        }
        problems
    }

    /// How many requests were answered.
    pub fn answered(&self) -> usize {
        self.lock().answered
    }

    fn answer(&self, envelope: &[u8]) -> Result<HttpReply, TransportError> {
        let mut st = self.lock();
        let Some(ex) = st.pending.pop_front() else {
            let what = Envelope::decode(envelope)
                .map(|e| e.header.action.as_uri().to_owned())
                .unwrap_or_else(|e| format!("undecodable request: {e}"));
            st.problems
                .push(format!("{}: unexpected extra request {what}", self.name));
            return Err(TransportError::Http("replay script exhausted".into()));
        };
        st.answered += 1;
        let ours = match Envelope::decode(envelope) {
            Ok(e) => e,
            Err(e) => {
                st.problems
                    .push(format!("{}: our request does not decode: {e}", ex.name()));
                return Err(TransportError::Http("undecodable request".into()));
            }
        };
        let first = st.session_id.clone();
        match (first, &ours.header.session_id) {
            (_, None) => st.problems.push(format!("{}: no SessionId", ex.name())),
            (None, Some(s)) => st.session_id = Some(s.clone()),
            (Some(a), Some(b)) if &a != b => st
                .problems
                .push(format!("{}: SessionId changed from {a} to {b}", ex.name())),
            _ => {}
        }
        let recorded = ex.request.as_deref().map(Envelope::decode);
        let mut recorded_id = None;
        match recorded {
            Some(Ok(rec)) => {
                for p in (self.compare)(&rec, &ours) {
                    st.problems.push(format!("{}: {p}", ex.name()));
                }
                recorded_id = Some(rec.header.message_id.as_str().to_owned());
            }
            Some(Err(e)) => st.problems.push(format!(
                "{}: recorded request does not decode: {e}",
                ex.name()
            )),
            None => {}
        }
        match ex.marker.as_deref() {
            Some("http_error") => return Err(TransportError::Http("recorded http error".into())),
            Some("auth_error") => {
                return Err(TransportError::AuthFailed {
                    user: "recorded".into(),
                    method: "replay",
                });
            }
            _ => {}
        }
        let status = if ex.marker.as_deref() == Some("transport_error") {
            500
        } else {
            200
        };
        let recorded_response = ex.response.clone().unwrap_or_default();
        let ours_id = ours.header.message_id.as_str();
        let body = match (self.relates_to, recorded_id) {
            (RelatesTo::Translate, Some(id)) => recorded_response.replace(&id, ours_id),
            (RelatesTo::Translate, None) => recorded_response,
            (RelatesTo::Rewrite, _) => fix_relates_to(&recorded_response, ours_id),
        };
        let body = match &self.rewrite {
            Some(rewrite) => rewrite(&ours, body),
            None => body,
        };
        Ok(HttpReply {
            status,
            body: body.into_bytes(),
        })
    }
}

/// Sets the text of the (first) `RelatesTo` element of `response` to `message_id`. The recorded
/// value is not trusted: one pypsrp recording (`test_winrs_unicode`, exchange 4) relates to
/// another request than the one it answers.
pub fn fix_relates_to(response: &str, message_id: &str) -> String {
    let Some(tag) = response.find("RelatesTo") else {
        return response.to_owned();
    };
    let Some(open_end) = response[tag..].find('>').map(|i| tag + i + 1) else {
        return response.to_owned();
    };
    let Some(close) = response[open_end..].find('<').map(|i| open_end + i) else {
        return response.to_owned();
    };
    format!(
        "{}{message_id}{}",
        &response[..open_end],
        &response[close..]
    )
}

impl Transport for ScriptedTransport {
    fn endpoint(&self) -> &str {
        ENDPOINT
    }

    fn post(
        &self,
        _lane: Lane,
        envelope: Vec<u8>,
        _timeout: Duration,
    ) -> BoxFuture<'_, Result<HttpReply, TransportError>> {
        let reply = self.answer(&envelope);
        Box::pin(async move { reply })
    }
}

/// The differences that matter between a recorded request and ours: [`compare_headers`] and
/// the typed body.
pub fn compare_requests(recorded: &Envelope, ours: &Envelope) -> Vec<String> {
    let mut out = compare_headers(recorded, ours);
    if recorded.body != ours.body {
        out.push(format!(
            "body differs:\n  ours:     {:?}\n  recorded: {:?}",
            ours.body, recorded.body
        ));
    }
    out
}

/// Header differences that matter: action, resource URI, selectors (values
/// case-insensitively), options (names; values case-insensitively) and MaxEnvelopeSize. Message
/// ids, `To`, timeouts, locales and prefixes are ignored.
pub fn compare_headers(recorded: &Envelope, ours: &Envelope) -> Vec<String> {
    let (r, o) = (&recorded.header, &ours.header);
    let mut out = Vec::new();
    if r.action != o.action {
        out.push(format!(
            "action {} instead of {}",
            o.action.as_uri(),
            r.action.as_uri()
        ));
    }
    if r.resource_uri != o.resource_uri {
        out.push(format!(
            "resource uri {:?} instead of {:?}",
            o.resource_uri, r.resource_uri
        ));
    }
    let selectors = |s: &wsman::header::SelectorSet| {
        let mut v: Vec<(String, String)> =
            s.0.iter()
                .map(|s| (s.name.clone(), s.value.to_uppercase()))
                .collect();
        v.sort();
        v
    };
    if selectors(&r.selectors) != selectors(&o.selectors) {
        out.push(format!(
            "selectors {:?} instead of {:?}",
            o.selectors.0, r.selectors.0
        ));
    }
    let options = |s: &wsman::header::OptionSet| {
        let mut v: Vec<(String, String)> =
            s.0.iter()
                .map(|o| (o.name.clone(), o.value.to_lowercase()))
                .collect();
        v.sort();
        v
    };
    if options(&r.options) != options(&o.options) {
        out.push(format!(
            "options {:?} instead of {:?}",
            options(&o.options),
            options(&r.options)
        ));
    }
    if r.max_envelope_size != o.max_envelope_size {
        out.push(format!(
            "MaxEnvelopeSize {:?} instead of {:?}",
            o.max_envelope_size, r.max_envelope_size
        ));
    }
    out
}

/// The outcome of one replayed scenario.
#[derive(Debug)]
pub struct ReplayResult {
    /// The scenario's test name.
    pub name: String,
    /// Requests answered.
    pub answered: usize,
    /// Recorded exchanges in the scenario.
    pub recorded: usize,
    /// Everything that went wrong (empty = the scenario passes).
    pub problems: Vec<String>,
}

impl ReplayResult {
    /// Panics with every problem listed unless the scenario passed.
    pub fn assert_passed(&self) {
        assert!(
            self.problems.is_empty(),
            "{}: {} of {} exchanges replayed; problems:\n{}",
            self.name,
            self.answered,
            self.recorded,
            self.problems.join("\n")
        );
    }
}

/// The pypsrp scenario named `stem` (e.g. `test_winrs_standard`).
///
/// # Panics
///
/// When the fixture does not exist.
pub fn pypsrp_scenario(stem: &str) -> FixtureFile {
    // Parsed once per test binary: the 66 files take a while to load in debug builds.
    static FILES: std::sync::OnceLock<Vec<FixtureFile>> = std::sync::OnceLock::new();
    let file = format!("pypsrp-captures/responses/{stem}.yml");
    FILES
        .get_or_init(pypsrp_files)
        .iter()
        .find(|f| f.file == file)
        .cloned()
        .unwrap_or_else(|| panic!("no fixture {file}"))
}

/// The pywinrm scenario folder `name` (e.g. `test_run_cmd`).
///
/// # Panics
///
/// When the fixture does not exist.
pub fn pywinrm_scenario(name: &str) -> FixtureFile {
    let file = format!("pywinrm-captures/test_xmls/{name}/");
    crate::pywinrm_files()
        .into_iter()
        .find(|f| f.file == file)
        .unwrap_or_else(|| panic!("no fixture {file}"))
}

/// A replay to run: the scenario, the client options, the comparison and the `RelatesTo`
/// policy. [`Replay::run`] builds a [`WsManClient`] over a [`ScriptedTransport`] and hands it
/// to the driver.
pub struct Replay {
    file: FixtureFile,
    options: ClientOptions,
    compare: Box<Comparator>,
    relates_to: RelatesTo,
    rewrite: Option<Box<Rewriter>>,
}

impl std::fmt::Debug for Replay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replay")
            .field("file", &self.file.file)
            .field("relates_to", &self.relates_to)
            .finish_non_exhaustive()
    }
}

impl Replay {
    /// Replays `file` with default options, [`compare_requests`] and [`RelatesTo::Rewrite`].
    pub fn new(file: FixtureFile) -> Self {
        Self {
            file,
            options: ClientOptions::default(),
            compare: Box::new(compare_requests),
            relates_to: RelatesTo::Rewrite,
            rewrite: None,
        }
    }

    /// The pypsrp scenario `stem`.
    pub fn pypsrp(stem: &str) -> Self {
        Self::new(pypsrp_scenario(stem))
    }

    /// The pywinrm scenario folder `name`, with [`RelatesTo::Translate`] (its ids are
    /// sanitised to one value, so translating is exact).
    pub fn pywinrm(name: &str) -> Self {
        Self::new(pywinrm_scenario(name)).relates_to(RelatesTo::Translate)
    }

    /// Client options.
    pub fn options(mut self, options: ClientOptions) -> Self {
        self.options = options;
        self
    }

    /// Request comparison.
    pub fn compare(mut self, compare: Box<Comparator>) -> Self {
        self.compare = compare;
        self
    }

    /// `RelatesTo` policy.
    pub fn relates_to(mut self, policy: RelatesTo) -> Self {
        self.relates_to = policy;
        self
    }

    /// Response adaptation (see [`Rewriter`]).
    pub fn rewrite(mut self, rewrite: Box<Rewriter>) -> Self {
        self.rewrite = Some(rewrite);
        self
    }

    /// Runs `driver` against the scenario. The driver's own error (a step failed or an
    /// assertion on the output did not hold) counts as a problem.
    pub async fn run<F, Fut>(self, driver: F) -> ReplayResult
    where
        F: FnOnce(WsManClient) -> Fut,
        Fut: Future<Output = Result<(), String>>,
    {
        let mut scripted = ScriptedTransport::with_comparator(&self.file, self.compare)
            .with_relates_to(self.relates_to);
        if let Some(rewrite) = self.rewrite {
            scripted = scripted.with_rewriter(rewrite);
        }
        let transport = Arc::new(scripted);
        let client = WsManClient::new(transport.clone(), self.options);
        let outcome = driver(client).await;
        let mut problems = transport.finish();
        if let Err(e) = outcome {
            problems.insert(0, format!("driver failed: {e}"));
        }
        ReplayResult {
            name: self.file.test_name(),
            answered: transport.answered(),
            recorded: self.file.exchanges.len(),
            problems,
        }
    }
}

/// Replays the pypsrp scenario `stem` with `options` (see [`Replay`]).
pub async fn replay<F, Fut>(stem: &str, options: ClientOptions, driver: F) -> ReplayResult
where
    F: FnOnce(WsManClient) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    Replay::pypsrp(stem).options(options).run(driver).await
}

/// [`replay`] with another request comparison (see [`ScriptedTransport::with_comparator`]).
pub async fn replay_with<F, Fut>(
    stem: &str,
    options: ClientOptions,
    compare: Box<Comparator>,
    driver: F,
) -> ReplayResult
where
    F: FnOnce(WsManClient) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    Replay::pypsrp(stem)
        .options(options)
        .compare(compare)
        .run(driver)
        .await
}
