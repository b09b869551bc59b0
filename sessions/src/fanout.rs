//! Running one operation against many hosts at once, at most `limit` at a time, each host's
//! result kept apart so one failure does not stop the others (PowerShell's `-ThrottleLimit`).

use std::future::Future;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// Runs `op(host)` for every host, at most `limit` (at least 1) concurrently; returns the
/// results in the order of `hosts`. A panicking operation yields `None` for its host.
pub async fn for_each_host<H, T, F, Fut>(hosts: Vec<H>, limit: usize, op: F) -> Vec<(H, Option<T>)>
where
    H: Clone + Send + 'static,
    T: Send + 'static,
    F: Fn(H) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let gate = Arc::new(Semaphore::new(limit.max(1)));
    let mut set = JoinSet::new();
    for (i, h) in hosts.iter().cloned().enumerate() {
        let fut = op(h);
        let gate = Arc::clone(&gate);
        set.spawn(async move {
            // The semaphore is never closed, so acquiring only fails if it were.
            let _permit = gate.acquire_owned().await.ok();
            (i, fut.await)
        });
    }
    let mut results: Vec<Option<T>> = hosts.iter().map(|_| None).collect();
    while let Some(joined) = set.join_next().await {
        if let Ok((i, r)) = joined
            && let Some(slot) = results.get_mut(i)
        {
            *slot = Some(r);
        }
    }
    hosts.into_iter().zip(results).collect()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn keeps_order_and_respects_the_limit() {
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let hosts: Vec<u32> = (0..12).collect();
        let out = for_each_host(hosts, 3, |h| {
            let running = Arc::clone(&running);
            let peak = Arc::clone(&peak);
            async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(5 + u64::from(12 - h))).await;
                running.fetch_sub(1, Ordering::SeqCst);
                if h == 7 { Err("boom") } else { Ok(h * 2) }
            }
        })
        .await;
        assert_eq!(out.len(), 12);
        assert!(peak.load(Ordering::SeqCst) <= 3);
        assert_eq!(out[7], (7, Some(Err("boom"))));
        assert_eq!(out[11], (11, Some(Ok(22))));
    }
}
