//! Printing what pipelines produce: output to stdout, the other streams to stderr with
//! PowerShell's prefixes, a progress bar on a terminal, or one JSON document with `--json`.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use sessions::pssession::{InvokeOutput, StreamItem, value_text};

/// Prints records as they arrive.
#[derive(Debug)]
pub struct Printer {
    json: bool,
    bar: Option<ProgressBar>,
    count: u64,
    collected: Vec<serde_json::Value>,
}

impl Printer {
    /// A printer; the progress bar only appears when stderr is a terminal and not `--json`.
    pub fn new(json: bool) -> Self {
        let bar = (!json && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar.set_message("receiving");
            bar
        });
        Self {
            json,
            bar,
            count: 0,
            collected: Vec::new(),
        }
    }

    /// One record.
    pub fn item(&mut self, item: &StreamItem) {
        self.count += 1;
        if let Some(bar) = &self.bar {
            if let StreamItem::Progress(p) = item {
                bar.set_message(format!(
                    "{}: {} ({}%)",
                    p.activity, p.status_description, p.percent_complete
                ));
            } else {
                bar.set_message(format!("received {} records", self.count));
            }
        }
        if self.json {
            return;
        }
        let print = || match item {
            StreamItem::Output(v) => println!("{}", value_text(v)),
            StreamItem::Host(s) | StreamItem::Information(s) => println!("{s}"),
            StreamItem::Error(e) => eprintln!("{}", e.message().unwrap_or("error")),
            StreamItem::Warning(s) => eprintln!("WARNING: {s}"),
            StreamItem::Verbose(s) => eprintln!("VERBOSE: {s}"),
            StreamItem::Debug(s) => eprintln!("DEBUG: {s}"),
            StreamItem::Progress(_) => {}
            _ => {}
        };
        match &self.bar {
            Some(bar) => bar.suspend(print),
            None => print(),
        }
    }

    /// A finished pipeline (for `--json`).
    pub fn output(&mut self, out: &InvokeOutput) {
        if self.json {
            self.collected.push(output_json(out));
        }
    }

    /// Ends: clears the bar and prints the JSON document.
    pub fn finish(self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if self.json {
            let doc = if self.collected.len() == 1 {
                self.collected.into_iter().next().unwrap_or_default()
            } else {
                serde_json::Value::Array(self.collected)
            };
            println!("{doc}");
        }
        let _ = std::io::stdout().flush();
    }
}

/// A pipeline's output as JSON: one field per stream.
pub fn output_json(out: &InvokeOutput) -> serde_json::Value {
    json!({
        "CommandId": out.command_id.as_str(),
        "State": out.state.name().unwrap_or("Unknown"),
        "Output": out.output.iter().map(value_text).collect::<Vec<_>>(),
        "Error": out.errors.iter().map(|e| e.message().unwrap_or("error").to_owned()).collect::<Vec<_>>(),
        "Warning": out.warnings,
        "Verbose": out.verbose,
        "Debug": out.debug,
        "Information": out.information,
        "Host": out.host,
        "Reason": out.reason.as_ref().and_then(|r| r.message()),
    })
}
