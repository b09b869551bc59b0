//! Cooperation with the session semantics: Block-mode back-pressure, Drop-style running to the
//! end, stop during Start-Sleep, stop of a runaway loop, and step-budget yields.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use emulator::engine::{
    CollectingHost, EngineHost, PipelineState, Runspace, Stopped, StreamRecord, Value,
};

fn spawn_script(
    script: &'static str,
    host: Arc<CollectingHost>,
) -> thread::JoinHandle<PipelineState> {
    thread::spawn(move || {
        let mut rs = Runspace::new(Default::default());
        rs.run_script(script, None, host.as_ref()).state
    })
}

fn wait_until(cond: impl Fn() -> bool, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        thread::sleep(Duration::from_millis(5));
    }
    cond()
}

#[test]
fn full_buffer_pauses_the_script_until_drained() {
    let host = Arc::new(CollectingHost::with_capacity(10));
    let handle = spawn_script("1..1000 | % { $_ }", host.clone());
    assert!(
        wait_until(|| host.emitted() == 10, Duration::from_secs(5)),
        "buffer never filled"
    );
    // Nobody drains: the counter must stay put while the script is blocked in emit.
    thread::sleep(Duration::from_millis(200));
    assert_eq!(host.emitted(), 10, "script kept running with a full buffer");
    assert!(!handle.is_finished());

    let mut seen: Vec<Value> = Vec::new();
    let start = Instant::now();
    while !handle.is_finished() || !host.snapshot().is_empty() {
        seen.extend(host.drain().into_iter().filter_map(|r| {
            if let StreamRecord::Output(v) = r {
                Some(v)
            } else {
                None
            }
        }));
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "script did not resume"
        );
        thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(handle.join().unwrap(), PipelineState::Completed);
    assert_eq!(seen.len(), 1000);
    assert_eq!(seen.first(), Some(&Value::Int(1)));
    assert_eq!(seen.last(), Some(&Value::Int(1000)));
}

/// Drop mode: a bounded buffer that discards the oldest record instead of blocking.
struct DropHost {
    cap: usize,
    kept: std::sync::Mutex<std::collections::VecDeque<StreamRecord>>,
    dropped: AtomicU64,
}

impl EngineHost for DropHost {
    fn emit(&self, record: StreamRecord) -> Result<(), Stopped> {
        let mut k = self.kept.lock().unwrap();
        if k.len() == self.cap {
            k.pop_front();
            self.dropped.fetch_add(1, Ordering::SeqCst);
        }
        k.push_back(record);
        Ok(())
    }
    fn sleep(&self, d: Duration) -> Result<(), Stopped> {
        thread::sleep(d);
        Ok(())
    }
    fn should_stop(&self) -> bool {
        false
    }
}

#[test]
fn drop_mode_runs_to_completion_keeping_the_newest_output() {
    let host = DropHost {
        cap: 5,
        kept: Default::default(),
        dropped: AtomicU64::new(0),
    };
    let mut rs = Runspace::new(Default::default());
    let o = rs.run_script(
        "1..100 | ForEach-Object { $_; Start-Sleep -Milliseconds 1 }",
        None,
        &host,
    );
    assert_eq!(o.state, PipelineState::Completed);
    assert_eq!(host.dropped.load(Ordering::SeqCst), 95);
    let kept: Vec<StreamRecord> = host.kept.lock().unwrap().iter().cloned().collect();
    let want: Vec<StreamRecord> = (96..=100)
        .map(|i| StreamRecord::Output(Value::Int(i)))
        .collect();
    assert_eq!(kept, want);
}

#[test]
fn unbounded_host_runs_to_completion_without_a_reader() {
    // The Drop-mode side of the contract: with room (or a dropping buffer) the script never waits.
    let host = Arc::new(CollectingHost::new());
    let handle = spawn_script("foreach ($i in 1..5000) { $i }", host.clone());
    assert_eq!(handle.join().unwrap(), PipelineState::Completed);
    assert_eq!(host.emitted(), 5000);
}

#[test]
fn stop_during_start_sleep_returns_promptly() {
    let host = Arc::new(CollectingHost::new());
    let handle = spawn_script("'before'; Start-Sleep -Seconds 60; 'after'", host.clone());
    assert!(wait_until(|| host.emitted() == 1, Duration::from_secs(5)));
    thread::sleep(Duration::from_millis(50));
    let t = Instant::now();
    host.stop();
    assert_eq!(handle.join().unwrap(), PipelineState::Stopped);
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "stop took {:?}",
        t.elapsed()
    );
    assert_eq!(host.emitted(), 1, "'after' must not be written");
}

#[test]
fn runaway_loop_is_stopped_through_should_stop() {
    let host = Arc::new(CollectingHost::new());
    let handle = spawn_script("$n = 0; while ($true) { $n++ }", host.clone());
    thread::sleep(Duration::from_millis(100));
    assert!(!handle.is_finished());
    let t = Instant::now();
    host.stop();
    assert_eq!(handle.join().unwrap(), PipelineState::Stopped);
    assert!(t.elapsed() < Duration::from_secs(2));
}

#[test]
fn stop_while_blocked_in_emit_unblocks() {
    let host = Arc::new(CollectingHost::with_capacity(1));
    let handle = spawn_script("while ($true) { 'x' }", host.clone());
    assert!(wait_until(|| host.emitted() == 1, Duration::from_secs(5)));
    host.stop();
    assert_eq!(handle.join().unwrap(), PipelineState::Stopped);
}

/// A host that counts yields and checks stop, to prove a tight loop calls back regularly.
#[derive(Default)]
struct CountingHost {
    yields: AtomicU64,
}

impl EngineHost for CountingHost {
    fn emit(&self, _record: StreamRecord) -> Result<(), Stopped> {
        Ok(())
    }
    fn sleep(&self, _d: Duration) -> Result<(), Stopped> {
        Ok(())
    }
    fn should_stop(&self) -> bool {
        self.yields.load(Ordering::SeqCst) >= 5
    }
    fn yield_now(&self) {
        self.yields.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn busy_loop_yields_on_a_step_budget() {
    let host = CountingHost::default();
    let mut rs = Runspace::new(Default::default());
    let outcome = rs.run_script("for ($i = 0; $i -lt 1000000; $i++) { }", None, &host);
    assert_eq!(outcome.state, PipelineState::Stopped);
    assert_eq!(host.yields.load(Ordering::SeqCst), 5);
}

/// Hostile input must not take the server down: deep nesting, unbounded recursion and huge
/// allocations fail as PowerShell errors, on a thread with the default 2 MiB stack.
#[test]
fn hostile_scripts_fail_cleanly_on_a_small_stack() {
    let handle = thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            let mut rs = Runspace::new(Default::default());
            let host = CollectingHost::new();
            let mut results = Vec::new();
            let deep = format!("{}1{}", "(".repeat(5000), ")".repeat(5000));
            let deep_if = format!("{}{}", "if (1) {".repeat(3000), "}".repeat(3000));
            let nots = format!("{}1", "!".repeat(100_000));
            for script in [
                deep.as_str(),
                "function f { f }; f",
                "$s = 'x' * 2000000000",
                "1..2000000000 | % { $_ }",
                "[datetime]'99999999999-01-01'",
                "'{0:D99999999}' -f 1",
                deep_if.as_str(),
                nots.as_str(),
            ] {
                let o = rs.run_script(script, None, &host);
                let errors: Vec<String> = host
                    .drain()
                    .into_iter()
                    .filter_map(|r| {
                        if let StreamRecord::Error(e) = r {
                            Some(e.fully_qualified_error_id)
                        } else {
                            None
                        }
                    })
                    .collect();
                results.push((o.state, errors));
            }
            results
        })
        .unwrap();
    let results = handle.join().expect("engine thread crashed");
    assert!(
        matches!(&results[0].0, PipelineState::Failed(e) if e.fully_qualified_error_id == "ScriptTooDeeplyNested")
    );
    assert!(
        matches!(&results[1].0, PipelineState::Failed(e) if e.fully_qualified_error_id == "CallDepthOverflow")
    );
    assert_eq!(results[2].1, vec!["LimitsExceeded".to_owned()]);
    assert_eq!(results[3].1, vec!["RangeTooBig".to_owned()]);
    assert_eq!(
        results[4].1,
        vec!["InvalidCastFromStringToInteger".to_owned()]
    );
    assert_eq!(results[5].0, PipelineState::Completed);
    assert!(
        matches!(&results[6].0, PipelineState::Failed(e) if e.fully_qualified_error_id == "ScriptTooDeeplyNested")
    );
    assert!(
        matches!(&results[7].0, PipelineState::Failed(e) if e.fully_qualified_error_id == "ScriptTooDeeplyNested")
    );
}

/// A runspace outlives the thread that ran a pipeline: the next pipeline (after a reconnect, say)
/// may run on another thread and sees the same session state.
#[test]
fn runspace_state_moves_between_pipeline_threads() {
    let mut rs = Runspace::new(Default::default());
    rs = thread::spawn(move || {
        let host = CollectingHost::new();
        rs.run_script(
            "$session = 'kept'; function Get-Kept { $session }",
            None,
            &host,
        );
        rs
    })
    .join()
    .unwrap();
    let out = thread::spawn(move || {
        let host = CollectingHost::new();
        rs.run_script("Get-Kept", None, &host);
        host.drain()
    })
    .join()
    .unwrap();
    assert_eq!(out, vec![StreamRecord::Output(Value::str("kept"))]);
}
