//! The IO layer over [`Service`]: a [`SoapService`] for the HTTP server, parked Receives and the
//! idle timer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Instant;

use tokio::sync::Notify;
use wsman::ShellId;

use super::backend::OutputNotify;
use super::identify::IdentifyAccess;
use super::{Caller, Outcome, PowerShellFactory, Reply, Service, WaitId};
use crate::config::Config;
use crate::faults::ServiceFault;
use crate::http::{RequestContext, SoapReply, SoapService};

/// The emulator's WS-Management service: [`Service`] behind a mutex, driven by tokio.
///
/// Must be created inside a tokio runtime (it spawns its timer task); the task ends when the
/// last clone is dropped.
#[derive(Debug, Clone)]
pub struct WsManService {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    core: Mutex<Service>,
    waiters: Arc<Waiters>,
    timer: Notify,
    /// When the timer task wakes next (set under the `core` lock): a request only wakes it
    /// early when it moved the core's next deadline before that instant, not on every request.
    timer_at: Mutex<Option<Instant>>,
}

/// One [`Notify`] per shell with parked Receives; also the backends' [`OutputNotify`].
#[derive(Debug, Default)]
struct Waiters {
    map: Mutex<HashMap<String, Arc<Notify>>>,
}

impl Waiters {
    fn get(&self, shell: &ShellId) -> Arc<Notify> {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        map.entry(shell.as_str().to_ascii_uppercase())
            .or_default()
            .clone()
    }

    fn wake(&self, shell: &ShellId) {
        let map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = map.get(&shell.as_str().to_ascii_uppercase()) {
            n.notify_waiters();
        }
    }

    fn forget_idle(&self) {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        map.retain(|_, n| Arc::strong_count(n) > 1);
    }
}

impl OutputNotify for Waiters {
    fn output_ready(&self, shell: &ShellId) {
        self.wake(shell);
    }
}

impl WsManService {
    /// A service over `config` (WinRS shells; PowerShell shells answer with a fault until a
    /// backend is plugged in with [`WsManService::with_powershell`]).
    pub fn new(config: Config) -> Self {
        Self::from_core(Service::new(config))
    }

    /// A service whose PowerShell shells are built by `factory`.
    pub fn with_powershell(config: Config, factory: impl PowerShellFactory + 'static) -> Self {
        Self::from_core(Service::new(config).with_powershell(factory))
    }

    /// Wraps a prepared core (its notifier is replaced by the driver's).
    pub fn from_core(core: Service) -> Self {
        let waiters = Arc::new(Waiters::default());
        let core = core.with_notify(waiters.clone());
        let inner = Arc::new(Inner {
            core: Mutex::new(core),
            waiters,
            timer: Notify::new(),
            timer_at: Mutex::new(None),
        });
        tokio::spawn(timer_task(Arc::downgrade(&inner)));
        Self { inner }
    }

    /// Runs `f` on the core (tests and tools: inspect shells, count them).
    pub fn with_core<T>(&self, f: impl FnOnce(&mut Service) -> T) -> T {
        f(&mut self.inner.lock())
    }

    async fn run(&self, caller: Caller, body: Vec<u8>) -> Reply {
        let outcome = {
            let mut core = self.inner.lock();
            let o = core.handle_bytes(Instant::now(), &caller, &body);
            self.inner.flush_wakes(&mut core);
            self.inner.kick_timer(&core);
            o
        };
        let id = match outcome {
            Outcome::Reply(r) => return r,
            Outcome::Wait(id) => id,
        };
        let mut guard = WaitGuard {
            inner: &self.inner,
            id,
            done: false,
        };
        loop {
            let Some((shell, deadline)) = self.inner.lock().wait_info(id) else {
                guard.done = true;
                return self.inner.lock().fault_for_lost_wait();
            };
            let notify = self.inner.waiters.get(&shell);
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let resumed = {
                let mut core = self.inner.lock();
                let r = core.resume(Instant::now(), id);
                self.inner.flush_wakes(&mut core);
                if r.is_some() {
                    self.inner.kick_timer(&core);
                }
                r
            };
            if let Some(reply) = resumed {
                guard.done = true;
                return reply;
            }
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep_until(deadline.into()) => {}
            }
        }
    }
}

impl SoapService for WsManService {
    async fn handle(&self, ctx: RequestContext, envelope: Vec<u8>) -> SoapReply {
        let access = IdentifyAccess::Authenticated { tls: ctx.is_tls };
        if let Some(reply) = self.inner.lock().identify(&envelope, access) {
            return SoapReply::ok(reply);
        }
        let reply = self.run(Caller::from_context(&ctx), envelope).await;
        SoapReply {
            status: reply.status,
            body: reply.body.into_bytes(),
        }
    }

    fn handle_unauthenticated(&self, envelope: &[u8]) -> Option<SoapReply> {
        let reply = self
            .inner
            .lock()
            .identify(envelope, IdentifyAccess::Unauthenticated)?;
        Some(SoapReply::ok(reply))
    }

    fn inject(&self, fault: ServiceFault, _ctx: &RequestContext, envelope: &[u8]) {
        let mut core = self.inner.lock();
        match fault {
            ServiceFault::ExpireIdle => {
                core.expire_disconnected();
            }
            ServiceFault::BreakRunspace => {
                if let Ok(e) = wsman::Envelope::decode(envelope) {
                    core.break_runspace(&e.header);
                }
            }
        }
        self.inner.flush_wakes(&mut core);
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Service> {
        self.core.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn flush_wakes(&self, core: &mut Service) {
        while let Some(shell) = core.poll_wake() {
            self.waiters.wake(&shell);
        }
    }

    /// Wakes the timer task if `core`'s next deadline is now earlier than the one it sleeps
    /// until. Called with the `core` lock held, as the timer task sets `timer_at`, so a
    /// deadline cannot be missed between the two. Waking on every request instead cost a task
    /// wake-up, a scan of every shell and two lock round trips per request.
    fn kick_timer(&self, core: &Service) {
        let at = *self.timer_at.lock().unwrap_or_else(PoisonError::into_inner);
        let next = core.poll_timeout();
        let earlier = match (next, at) {
            (Some(n), Some(a)) => n < a,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if earlier {
            self.timer.notify_one();
        }
    }
}

impl Service {
    /// The fault for a parked Receive the core no longer knows (cannot happen while the guard
    /// holds it; answered as an unknown shell to stay safe).
    fn fault_for_lost_wait(&mut self) -> Reply {
        let header = wsman::Header::new(wsman::Action::Receive, wsman::MessageId::new(""));
        let fault = wsman::Fault::invalid_selectors(self.machine());
        self.fault_reply(&header, fault)
    }
}

/// Cancels the parked Receive if the HTTP request is dropped before it completes.
struct WaitGuard<'a> {
    inner: &'a Arc<Inner>,
    id: WaitId,
    done: bool,
}

impl Drop for WaitGuard<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.inner.lock().cancel(self.id);
        }
    }
}

async fn timer_task(inner: Weak<Inner>) {
    loop {
        let (until, changed) = {
            let Some(inner) = inner.upgrade() else {
                return;
            };
            // Wake at least every second so the task notices when the service is gone.
            let until = {
                let mut core = inner.lock();
                let now = Instant::now();
                core.handle_timeout(now);
                inner.flush_wakes(&mut core);
                let cap = now + std::time::Duration::from_secs(1);
                let until = core.poll_timeout().map_or(cap, |d| d.min(cap));
                *inner
                    .timer_at
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(until);
                until
            };
            inner.waiters.forget_idle();
            // Hold only a weak reference while sleeping.
            let changed = {
                let inner = inner.clone();
                async move { inner.timer.notified().await }
            };
            (until, changed)
        };
        let sleep = tokio::time::sleep_until(until.into());
        tokio::select! {
            () = sleep => {}
            () = changed => {}
        }
    }
}
