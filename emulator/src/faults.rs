//! Fault injection: misbehave on purpose so clients can be tested against a flaky server.
//!
//! A [`Faults`] holds rules; the HTTP layer asks it, for every authenticated envelope, what to
//! do ([`Faults::decide`]) and then
//! - **drops** the connection after the service handled the request, before writing the reply
//!   (a Receive's output has been taken from the queue: only a client that re-asks with the same
//!   `SequenceId` gets it back),
//! - **delays** the reply,
//! - answers an HTTP **status** (500 without a SOAP fault, 503, 400) without calling the service,
//! - **expires idle shells** early (every disconnected shell is deleted, as if its IdleTimeout
//!   had passed) or **breaks the runspace pool** of the shell the request names
//!   (RUNSPACEPOOL_STATE Broken), through [`crate::SoapService::inject`].
//!
//! Rules fire deterministically: on the Nth matching request, on every Nth, or with a rate drawn
//! from a seeded generator, each at most `times` times. Configure them in the `[faults]` section
//! of the TOML configuration or at run time through [`crate::Emulator::faults`]:
//!
//! ```toml
//! [faults]
//! seed = 7
//! [[faults.rules]]
//! action = "Receive"      # short action name (Create, Command, Receive, Signal…) or "*"
//! kind = "drop"           # drop | delay | status | expire_idle | break_runspace
//! nth = 3                 # the 3rd matching request (1-based)…
//! every = 0               # …or every Nth (0: off)
//! rate = 0.0              # …or this probability (seeded)
//! times = 1               # fire at most this many times (0: unlimited)
//! delay_ms = 0            # for delay
//! status = 503            # for status
//! ```

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde::Deserialize;

/// What a rule does when it fires.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FaultKind {
    /// Handle the request, then close the connection without writing the reply.
    Drop,
    /// Handle the request, then wait `delay_ms` before writing the reply.
    Delay,
    /// Answer `status` with an empty body, without handling the request.
    Status,
    /// Delete every disconnected shell now (their IdleTimeout cut short), then handle.
    ExpireIdle,
    /// Break the runspace pool of the shell the request names, then handle.
    BreakRunspace,
}

/// One rule: which requests, when, and what to do.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct FaultRule {
    /// Short action name (`Receive`, `Command`, `Create`…, case-insensitive) or `*`.
    pub action: String,
    /// What to do.
    pub kind: FaultKind,
    /// Fire on the Nth matching request (1-based); 0: not by position.
    pub nth: u64,
    /// Fire on every Nth matching request; 0: off.
    pub every: u64,
    /// Fire with this probability (0.0–1.0), drawn from the seeded generator.
    pub rate: f64,
    /// Fire at most this many times; 0: unlimited.
    pub times: u64,
    /// For [`FaultKind::Delay`].
    pub delay_ms: u64,
    /// For [`FaultKind::Status`] (500, 503, 400…).
    pub status: u16,
}

impl Default for FaultRule {
    fn default() -> Self {
        Self {
            action: "*".into(),
            kind: FaultKind::Delay,
            nth: 0,
            every: 0,
            rate: 0.0,
            times: 0,
            delay_ms: 0,
            status: 503,
        }
    }
}

impl FaultRule {
    /// A rule of `kind` on `action` (`"*"` for every action) that never fires until given
    /// [`nth`](Self::nth), [`every`](Self::every) or [`rate`](Self::rate).
    pub fn new(action: impl Into<String>, kind: FaultKind) -> Self {
        Self {
            action: action.into(),
            kind,
            ..Self::default()
        }
    }

    /// Fire on the Nth matching request (1-based).
    #[must_use]
    pub fn nth(mut self, n: u64) -> Self {
        self.nth = n;
        self
    }

    /// Fire on every Nth matching request.
    #[must_use]
    pub fn every(mut self, n: u64) -> Self {
        self.every = n;
        self
    }

    /// Fire with probability `p` (seeded).
    #[must_use]
    pub fn rate(mut self, p: f64) -> Self {
        self.rate = p;
        self
    }

    /// Fire at most `n` times.
    #[must_use]
    pub fn times(mut self, n: u64) -> Self {
        self.times = n;
        self
    }

    /// The delay of a [`FaultKind::Delay`] rule.
    #[must_use]
    pub fn delay(mut self, d: Duration) -> Self {
        self.delay_ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        self
    }

    /// The status of a [`FaultKind::Status`] rule.
    #[must_use]
    pub fn status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    fn matches(&self, action: &str) -> bool {
        self.action == "*" || self.action.eq_ignore_ascii_case(action)
    }
}

/// The `[faults]` configuration section.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct FaultConfig {
    /// Seed of the generator behind `rate`.
    pub seed: u64,
    /// The rules, tried in order; several may fire on one request.
    pub rules: Vec<FaultRule>,
}

/// What to do with one request (several rules may have fired).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultPlan {
    /// Answer this status instead of handling the request.
    pub status: Option<u16>,
    /// Wait this long after handling, before replying.
    pub delay: Option<Duration>,
    /// Close the connection instead of replying.
    pub drop: bool,
    /// Delete disconnected shells before handling.
    pub expire_idle: bool,
    /// Break the named shell's runspace pool before handling.
    pub break_runspace: bool,
}

impl FaultPlan {
    /// Whether nothing fires.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// A service-level fault handed to [`crate::SoapService::inject`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServiceFault {
    /// Delete every disconnected shell now.
    ExpireIdle,
    /// Break the runspace pool of the shell the envelope names.
    BreakRunspace,
}

/// How often each kind fired so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Requests seen (authenticated envelopes).
    pub requests: u64,
    /// Connections dropped.
    pub dropped: u64,
    /// Replies delayed.
    pub delayed: u64,
    /// Status answers.
    pub statuses: u64,
    /// Idle-expiry injections.
    pub expired: u64,
    /// Runspace breaks.
    pub broken: u64,
}

/// The rules in force and their counters; shared by every connection (cheap to lock).
#[derive(Debug, Default)]
pub struct Faults {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    rng: u64,
    rules: Vec<Armed>,
    counts: FaultCounts,
}

#[derive(Debug)]
struct Armed {
    rule: FaultRule,
    seen: u64,
    fired: u64,
}

impl Faults {
    /// Rules from the configuration.
    pub fn new(config: &FaultConfig) -> Self {
        let faults = Self::default();
        {
            let mut s = faults.lock();
            s.rng = config.seed;
            s.rules = config.rules.iter().cloned().map(Armed::new).collect();
        }
        faults
    }

    /// Adds a rule (its counters start at zero).
    pub fn add(&self, rule: FaultRule) {
        self.lock().rules.push(Armed::new(rule));
    }

    /// Removes every rule (counters of what already fired stay).
    pub fn clear(&self) {
        self.lock().rules.clear();
    }

    /// Reseeds the generator behind `rate`.
    pub fn seed(&self, seed: u64) {
        self.lock().rng = seed;
    }

    /// What fired so far.
    pub fn counts(&self) -> FaultCounts {
        self.lock().counts
    }

    /// [`Faults::decide`] for an envelope: its action is only looked up when rules exist, so
    /// a service without faults pays nothing but a lock.
    pub fn decide_for(&self, envelope: &[u8]) -> FaultPlan {
        let mut s = self.lock();
        if s.rules.is_empty() {
            s.counts.requests += 1;
            return FaultPlan::default();
        }
        Self::decide_locked(&mut s, short_action(envelope))
    }

    /// Decides what happens to one request whose action is `action` (short name, see
    /// [`short_action`]); counts it against every matching rule.
    pub fn decide(&self, action: &str) -> FaultPlan {
        Self::decide_locked(&mut self.lock(), action)
    }

    fn decide_locked(s: &mut State, action: &str) -> FaultPlan {
        s.counts.requests += 1;
        if s.rules.is_empty() {
            return FaultPlan::default();
        }
        let mut plan = FaultPlan::default();
        let mut rng = s.rng;
        for armed in s.rules.iter_mut().filter(|a| a.rule.matches(action)) {
            armed.seen += 1;
            if armed.rule.times != 0 && armed.fired >= armed.rule.times {
                continue;
            }
            let r = &armed.rule;
            let by_position = r.nth != 0 && armed.seen == r.nth;
            let by_period = r.every != 0 && armed.seen.is_multiple_of(r.every);
            let by_rate = r.rate > 0.0 && unit(&mut rng) < r.rate;
            if !(by_position || by_period || by_rate) {
                continue;
            }
            armed.fired += 1;
            match r.kind {
                FaultKind::Drop => plan.drop = true,
                FaultKind::Delay => {
                    let d = Duration::from_millis(r.delay_ms);
                    plan.delay = Some(plan.delay.map_or(d, |p| p.max(d)));
                }
                FaultKind::Status => plan.status = Some(r.status),
                FaultKind::ExpireIdle => plan.expire_idle = true,
                FaultKind::BreakRunspace => plan.break_runspace = true,
            }
        }
        s.rng = rng;
        let c = &mut s.counts;
        if plan.status.is_some() {
            c.statuses += 1;
        } else {
            c.dropped += u64::from(plan.drop);
            c.delayed += u64::from(plan.delay.is_some());
        }
        c.expired += u64::from(plan.expire_idle);
        c.broken += u64::from(plan.break_runspace);
        plan
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Armed {
    fn new(rule: FaultRule) -> Self {
        Self {
            rule,
            seen: 0,
            fired: 0,
        }
    }
}

/// splitmix64 step mapped to [0, 1).
fn unit(state: &mut u64) -> f64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    // 53 random bits, exactly representable.
    #[allow(clippy::cast_precision_loss)]
    let v = (z >> 11) as f64;
    v / (1u64 << 53) as f64
}

/// The short name of an envelope's `a:Action` (`…/transfer/Create` → `Create`, `…/shell/Receive`
/// → `Receive`), found without parsing the whole document; `""` when there is none.
pub fn short_action(envelope: &[u8]) -> &str {
    let text = std::str::from_utf8(envelope).unwrap_or("");
    let mut rest = text;
    while let Some(i) = rest.find("Action") {
        let before = rest.get(..i).unwrap_or("");
        let after = rest.get(i + "Action".len()..).unwrap_or("");
        rest = after;
        // A start tag `<Action` or `<a:Action`, not `</a:Action` nor `ActionNotSupported`.
        let tag_start = before
            .rfind('<')
            .map(|lt| before.get(lt + 1..).unwrap_or(""));
        let Some(prefix) = tag_start else { continue };
        if prefix.starts_with('/') || prefix.contains(char::is_whitespace) {
            continue;
        }
        if !after.starts_with(['>', ' ', '\t', '\r', '\n']) {
            continue;
        }
        let Some(gt) = after.find('>') else { break };
        let value = after.get(gt + 1..).unwrap_or("");
        let end = value.find('<').unwrap_or(value.len());
        let uri = value.get(..end).unwrap_or("").trim();
        return uri.rsplit('/').next().unwrap_or("");
    }
    ""
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nth_fires_once_on_the_matching_action_only() {
        let f = Faults::default();
        f.add(FaultRule::new("Receive", FaultKind::Drop).nth(2));
        assert!(f.decide("Command").is_empty());
        assert!(f.decide("Receive").is_empty());
        assert!(f.decide("Command").is_empty());
        assert!(f.decide("receive").drop);
        assert!(f.decide("Receive").is_empty());
        assert_eq!(f.counts().dropped, 1);
        assert_eq!(f.counts().requests, 5);
    }

    #[test]
    fn every_and_times_limit_the_firings() {
        let f = Faults::default();
        f.add(
            FaultRule::new("*", FaultKind::Status)
                .status(503)
                .every(3)
                .times(2),
        );
        let fired: Vec<bool> = (0..12).map(|_| f.decide("Send").status.is_some()).collect();
        let positions: Vec<usize> = fired
            .iter()
            .enumerate()
            .filter_map(|(i, b)| b.then_some(i))
            .collect();
        assert_eq!(positions, vec![2, 5]);
    }

    #[test]
    fn rate_is_deterministic_for_a_seed() {
        let run = |seed| {
            let f = Faults::new(&FaultConfig {
                seed,
                rules: vec![FaultRule::new("*", FaultKind::Drop).rate(0.3)],
            });
            (0..200)
                .map(|_| f.decide("Receive").drop)
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        let hits = run(7).iter().filter(|b| **b).count();
        assert!((30..90).contains(&hits), "{hits} of 200 at rate 0.3");
    }

    #[test]
    fn short_action_reads_the_header_without_parsing() {
        let xml = br#"<s:Envelope><s:Header><a:To>x</a:To><a:Action s:mustUnderstand="true">http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive</a:Action></s:Header></s:Envelope>"#;
        assert_eq!(short_action(xml), "Receive");
        let plain = b"<Envelope><Header><Action>http://schemas.xmlsoap.org/ws/2004/09/transfer/Create</Action></Header></Envelope>";
        assert_eq!(short_action(plain), "Create");
        assert_eq!(short_action(b"<x>ActionNotSupported</x>"), "");
        assert_eq!(short_action(b"\xff\xfe<a:Action>"), "");
        assert_eq!(short_action(b"<a:Action>no end"), "no end");
    }

    #[test]
    fn the_emulator_configuration_takes_a_faults_section() {
        let c = crate::Config::from_toml(
            "[faults]\nseed = 9\n[[faults.rules]]\naction = \"Receive\"\nkind = \"break_runspace\"\nnth = 1\n",
        );
        let c = c.map(|c| c.faults).unwrap_or_default();
        assert_eq!(c.seed, 9);
        assert_eq!(
            c.rules.first().map(|r| r.kind),
            Some(FaultKind::BreakRunspace)
        );
        let bad = crate::Config::from_toml("[faults]\n[[faults.rules]]\nkind = \"explode\"\n");
        assert!(bad.is_err(), "unknown kinds are refused");
    }

    #[test]
    fn config_section_parses() {
        let c: FaultConfig = toml::from_str(
            r#"
            seed = 3
            [[rules]]
            action = "Receive"
            kind = "drop"
            nth = 2
            [[rules]]
            kind = "status"
            status = 500
            every = 4
            "#,
        )
        .unwrap_or_default();
        assert_eq!(c.seed, 3);
        assert_eq!(c.rules.len(), 2);
        assert_eq!(c.rules[1].action, "*");
        assert_eq!(c.rules[1].status, 500);
    }
}
