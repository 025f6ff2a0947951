//! The live view: one status block redrawn a few times a second (uploads/s,
//! readings/s, stream lag per function, alerts, messages, warehouse loads), and
//! each message printed above it as the caregiver reads it. With no terminal
//! (CI, pipes) it prints the messages and a status line every ten seconds.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::watch;

use crate::clock::SimClock;
use crate::observe::{Live, Sent};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The redrawn status block (a terminal) or a status line every 10 s.
    Live,
    /// Nothing but the final summary (tests).
    Quiet,
}

/// Runs until `stop` turns true, then draws the final state once.
pub async fn show(
    mode: Mode,
    live: Arc<Live>,
    clock: SimClock,
    mut messages: UnboundedReceiver<Sent>,
    labels: Arc<std::collections::HashMap<String, String>>,
    mut stop: watch::Receiver<bool>,
) {
    if mode == Mode::Quiet {
        let _ = stop.wait_for(|s| *s).await;
        return;
    }
    let tty = std::io::stdout().is_terminal();
    let bar = if tty {
        ProgressBar::new_spinner()
    } else {
        ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden())
    };
    bar.set_style(ProgressStyle::with_template("{spinner} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()));
    let started = Instant::now();
    let mut last_line = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            Some(sent) = messages.recv() => {
                let line = line(&labels, &sent);
                if tty { bar.println(line) } else { println!("{line}") }
            }
            _ = tick.tick() => {
                let status = status(&live, &clock, started);
                if tty {
                    bar.set_message(status);
                    bar.tick();
                } else if last_line.elapsed() >= Duration::from_secs(10) {
                    println!("{}", status.replace('\n', " | "));
                    last_line = Instant::now();
                }
            }
        }
    }
    while let Ok(sent) = messages.try_recv() {
        let line = line(&labels, &sent);
        if tty { bar.println(line) } else { println!("{line}") }
    }
    bar.finish_and_clear();
}

fn line(labels: &std::collections::HashMap<String, String>, sent: &Sent) -> String {
    let who = labels.get(&sent.address).map_or("a caregiver", String::as_str);
    format!("🔔 {} → {who}: {}", sent.channel.as_str(), sent.text)
}

fn status(live: &Live, clock: &SimClock, started: Instant) -> String {
    let secs = started.elapsed().as_secs_f64().max(0.001);
    let uploads = Live::get(&live.uploads_accepted);
    let readings = Live::get(&live.readings_accepted);
    let lag: Vec<String> = live
        .lag()
        .iter()
        .map(|(f, (pending, age))| format!("{f} {pending} rec / {:.1} s", *age as f64 / 1e3))
        .collect();
    format!(
        "simulated {} (x{})  uploads {} ({:.1}/s)  readings {} ({:.0}/s)\n  stream lag: {}\n  alerts {}  messages {}  acknowledged {}  warehouse loads {} ({} rows)",
        clock.now().format("%Y-%m-%d %H:%M UTC"),
        clock.speed(),
        uploads,
        uploads as f64 / secs,
        readings,
        readings as f64 / secs,
        if lag.is_empty() { "-".to_owned() } else { lag.join(" · ") },
        Live::get(&live.alerts_raised),
        Live::get(&live.notifications_sent),
        Live::get(&live.acknowledged),
        Live::get(&live.warehouse_loads),
        Live::get(&live.warehouse_rows),
    )
}
