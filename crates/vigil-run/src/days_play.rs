//! `vigil days`: many days of a small fleet played fast through the daily
//! function, and the audit of its trend detection.
//!
//! Playing 60 days through the API would take hours, so the days' readings are
//! made **straight into vitals items**: each wearer's readings of an hour
//! ([`crate::fleet::days`], one a minute) become one envelope, whose vitals items
//! are built by [`vigil_domain::vitals::vitals_items`] with vitals-writer's TTL
//! ([`vitals_writer::VitalsConfig`]): the items vitals-writer writes. From the
//! vitals items on, the path is the deployed one: daily-summary, built by its own
//! `build`, runs on a simulated clock, and reads, computes, stores, raises and
//! sends as in AWS.
//!
//! # Where the items are kept
//!
//! By default in memory ([`PlayInputs`]): daily-summary's vitals reads are
//! answered from there, with the vitals table's key order and `BETWEEN` range,
//! and everything else (wearers, alerts, days, deliveries, the lake) is on the
//! endpoint. moto's server writes and returns about one DynamoDB item per
//! millisecond, and a wearer-day is 1,440 items written and 2,880 read back: 60
//! days of 3 wearers take about an hour there. `--vitals-table` writes them into
//! the vitals table with vitals-writer's own store instead (the DynamoDB adapter
//! for the vitals reads is tested in `functions/daily-summary/tests/moto.rs`).
//!
//! # The clock
//!
//! The clock moves in whole UTC hours, as the hourly schedule would run. Before
//! each hour's run the readings of the hour just past are written. daily-summary
//! runs at every hour in which something is due for it: a wearer's local day
//! ended, or an opted-in caregiver's daily message fell due (the domain's own
//! [`vigil_domain::days::due`] changed), and after a run that failed or ran out
//! of time; the hours between would find nothing to do. The clock stops at local
//! noon of the day after the last played day everywhere, so the last day's
//! messages are sent too.
//!
//! # The audit
//!
//! Read back from the stores at the end: the `baseline_deviation` alerts (alerts
//! table), the days (days table) and the daily messages (deliveries table).
//! A planted change must be caught by one alert for its wearer within
//! [`MAX_DELAY_DAYS`] of its start, with the planted feature among the day's new
//! trends; a stable wearer (or a changed one before the change) must raise none;
//! every stored day whose message was due at some time the clock ran must have had
//! exactly one message sent to each opted-in caregiver, and no other day any.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context;
use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, DurationRound, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use vigil_aws::days::{DynamoDayInputs, DynamoDays};
use vigil_domain::alerts::RuleKind;
use vigil_domain::care::{Caregiver, Delivery};
use vigil_domain::days::{self as domain_days, day_of, local_day};
use vigil_domain::envelope::{ENVELOPE_VERSION, Envelope};
use vigil_domain::lifecycle::AlertRecord;
use vigil_domain::ports::{DayInputs, DaysStore, StoreError, VitalsStore, WearerPage};
use vigil_domain::vitals::{VitalsItem, key_range, vitals_items};
use vigil_local::provision::{self, Resources};

use crate::audit;
use crate::fleet::days::{DayModel, models};
use crate::fleet::{Fleet, FleetConfig, SIM_APP_VERSION, SimWearer};
use crate::pipeline::Env;

/// Days from a change's start to the day whose end raises its alert, at most.
pub const MAX_DELAY_DAYS: i64 = 4;

/// The local time opted-in caregivers want their daily message.
pub const DAILY_AT: NaiveTime = match NaiveTime::from_hms_opt(8, 30, 0) {
    Some(t) => t,
    None => NaiveTime::MIN,
};

/// `vigil days`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Days to play (26 at least: a baseline before the changes, and time to catch them).
    #[arg(long, default_value_t = 60)]
    pub days: u32,
    /// Wearers: in turns of three, one with a planted change, one stable, one with the
    /// other change (steps declining, resting heart rate rising); time zones and
    /// caregivers as `vigil run`'s fleet.
    #[arg(long, default_value_t = 3)]
    pub wearers: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The first local day played (the default covers the clock changes of late October
    /// in Europe and early November in North America).
    #[arg(long, default_value = "2026-10-01")]
    pub from: NaiveDate,
    /// Write the report as JSON here too.
    #[arg(long)]
    pub report_json: Option<std::path::PathBuf>,
    /// Where the log goes.
    #[arg(long, default_value = "target/vigil-days")]
    pub out_dir: std::path::PathBuf,
    /// Write the vitals items into the vitals table (vitals-writer's store) instead of
    /// keeping them in memory: the deployed store, and about an hour for 60 days of 3
    /// wearers on moto.
    #[arg(long)]
    pub vitals_table: bool,
}

/// What to play.
#[derive(Debug, Clone)]
pub struct Options {
    pub days: u32,
    pub wearers: usize,
    pub seed: u64,
    pub from: NaiveDate,
    /// Progress lines on stderr.
    pub progress: bool,
    /// The items in the vitals table rather than in memory (see the module docs).
    pub vitals_table: bool,
}

impl From<&Args> for Options {
    fn from(a: &Args) -> Self {
        Self {
            days: a.days,
            wearers: a.wearers,
            seed: a.seed,
            from: a.from,
            progress: true,
            vitals_table: a.vitals_table,
        }
    }
}

/// One wearer's line of the audit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WearerLine {
    pub wearer_id: String,
    pub time_zone: String,
    /// The planted change, `None` for a stable wearer.
    pub planted: Option<&'static str>,
    /// The feature the planted change moves.
    pub planted_feature: Option<&'static str>,
    pub start: Option<NaiveDate>,
    /// The day whose end raised the first `baseline_deviation` alert on or after the start.
    pub detected: Option<NaiveDate>,
    /// `detected − start`, days.
    pub delay_days: Option<i64>,
    /// The features in the new trends of the detected day, from the stored days.
    pub features: Vec<String>,
    /// `baseline_deviation` alerts raised before the change (any, for a stable wearer).
    pub false_trends: usize,
    /// Alerts after the first one of the change.
    pub repeat_alerts: usize,
    /// Days of the play (from `from` to its last) in the days table, and how many complete.
    pub days_stored: usize,
    pub days_complete: usize,
}

/// The verdict of a play.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub from: NaiveDate,
    pub days: u32,
    pub seed: u64,
    pub wearers: Vec<WearerLine>,
    pub changes_planted: usize,
    pub changes_detected_in_time: usize,
    pub false_trends: usize,
    /// Opted-in caregivers.
    pub caregivers_opted_in: usize,
    /// (caregiver, day) pairs whose message fell due while the clock ran, for a stored day.
    pub messages_expected: usize,
    /// Daily messages the deliveries table holds as sent.
    pub messages_sent: usize,
    pub messages_missing: usize,
    /// Sent for a day not expected, or recorded but not sent.
    pub messages_unexpected: usize,
    /// What the function itself counted over its runs. A failed run is retried the
    /// next hour, as the schedule would: not a failure of the audit by itself.
    pub function: FunctionTotals,
    /// Written, then dropped with the play's vitals table at the end.
    pub vitals_items_written: usize,
    /// Where the play's days are (with its alerts and deliveries tables beside it).
    pub days_table: String,
    pub real_seconds: f64,
}

/// daily-summary's own summaries, added up.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FunctionTotals {
    pub runs: usize,
    pub failed_runs: usize,
    pub days_computed: usize,
    pub trends_raised: usize,
    /// Daily messages and trend alerts' notifications.
    pub messages_sent: usize,
}

impl Report {
    /// What failed the audit (empty: it passed).
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for w in &self.wearers {
            if let Some(planted) = w.planted {
                match w.delay_days {
                    None => out.push(format!("{}: {planted} never detected", w.wearer_id)),
                    Some(d) if !(0..=MAX_DELAY_DAYS).contains(&d) => {
                        out.push(format!("{}: {planted} detected after {d} days", w.wearer_id));
                    }
                    Some(_) => {}
                }
                if let Some(feature) = w.planted_feature
                    && w.detected.is_some()
                    && !w.features.iter().any(|f| f == feature)
                {
                    out.push(format!("{}: the alert was about {:?}, not {feature}", w.wearer_id, w.features));
                }
            }
            if w.false_trends > 0 {
                out.push(format!("{}: {} false trend(s)", w.wearer_id, w.false_trends));
            }
        }
        if self.messages_missing > 0 {
            out.push(format!("{} daily messages missing", self.messages_missing));
        }
        if self.messages_unexpected > 0 {
            out.push(format!("{} daily messages not expected", self.messages_unexpected));
        }
        out
    }

    /// The audit as a table for the terminal.
    pub fn table(&self) -> String {
        let mut s = format!(
            "{} days from {} (seed {}), {} wearers, {:.0} s\n\n",
            self.days,
            self.from,
            self.seed,
            self.wearers.len(),
            self.real_seconds
        );
        s.push_str(&format!(
            "{:<12} {:<18} {:<31} {:<10} {:<10} {:>5}  {:<20} {:>5} {:>15}\n",
            "wearer", "time zone", "planted", "start", "detected", "delay", "trend", "false", "complete days"
        ));
        let date = |d: Option<NaiveDate>| d.map_or_else(|| "-".to_owned(), |d| d.to_string());
        for w in &self.wearers {
            s.push_str(&format!(
                "{:<12} {:<18} {:<31} {:<10} {:<10} {:>5}  {:<20} {:>5} {:>15}\n",
                w.wearer_id,
                w.time_zone,
                w.planted.unwrap_or("stable"),
                date(w.start),
                date(w.detected),
                w.delay_days.map_or_else(|| "-".to_owned(), |d| d.to_string()),
                if w.features.is_empty() { "-".to_owned() } else { w.features.join(",") },
                w.false_trends,
                format!("{}/{}", w.days_complete, w.days_stored),
            ));
        }
        s.push_str(&format!(
            "\nchanges detected within {MAX_DELAY_DAYS} days: {}/{}; false trends: {}\n\
             daily messages: {} sent, {} expected ({} caregivers opted in), {} missing, {} unexpected\n\
             daily-summary: {} runs ({} failed), {} days computed, {} trends raised\n\
             vitals items written (then dropped): {}; the days are in {}\n",
            self.changes_detected_in_time,
            self.changes_planted,
            self.false_trends,
            self.messages_sent,
            self.messages_expected,
            self.caregivers_opted_in,
            self.messages_missing,
            self.messages_unexpected,
            self.function.runs,
            self.function.failed_runs,
            self.function.days_computed,
            self.function.trends_raised,
            self.vitals_items_written,
            self.days_table,
        ));
        s
    }
}

/// The fleet of a play: `vigil run`'s people, each wearer's first caregiver opted
/// in to the daily message at [`DAILY_AT`].
pub fn fleet(opts: &Options) -> Fleet {
    let start = local_day(Tz::UTC, opts.from).0;
    let mut fleet = Fleet::new(&FleetConfig {
        wearers: opts.wearers,
        seed: opts.seed,
        events_per_wearer_hour: 0.0,
        duration: Duration::zero(),
        ..FleetConfig::new(start)
    });
    for w in &mut fleet.wearers {
        if let Some(c) = w.profile.caregivers.first_mut() {
            c.daily_at = Some(DAILY_AT);
        }
    }
    fleet
}

/// Plays `opts.days` days on fresh resources on the endpoint of `sdk`, then audits them.
pub async fn play(sdk: &SdkConfig, opts: &Options) -> anyhow::Result<Report> {
    let real_start = Instant::now();
    let sdk = &patient(sdk);
    let fleet = fleet(opts);
    let models = models(&fleet.wearers, opts.seed, opts.from, opts.days)?;
    let last = opts.from + Duration::days(i64::from(opts.days) - 1);

    let resources = Resources::unique("vigil-days");
    provision::provision(sdk, &resources).await.context("provisioning the play's resources")?;
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| anyhow::anyhow!("no randomness for the pseudonym key: {e}"))?;
    let env = Env::for_resources(&resources, &hex::encode(key));
    crate::run::register(sdk, &resources, &fleet).await?;
    let built = daily_summary::build(&env, sdk).await.context("building daily-summary")?;
    let memory = (!opts.vitals_table).then(|| Arc::new(Mutex::new(MemoryMinutes::default())));
    let daily = daily_summary::Daily {
        alerting: built.alerting,
        days: built.days,
        inputs: PlayInputs { tables: built.inputs, memory: memory.clone() },
        lake: built.lake,
        page: built.page,
    };
    let writer = vitals_writer::VitalsConfig::from_source(&env).context("vitals-writer's configuration")?.writer(sdk);

    let hour = Duration::hours(1);
    let clock_start = models.iter().map(|m| local_day(m.tz, opts.from).0).min().unwrap_or_default();
    let clock_start = clock_start.duration_trunc(hour).unwrap_or(clock_start);
    let next_day = last + Duration::days(1);
    let clock_end = models.iter().map(|m| local_day(m.tz, next_day).0 + Duration::hours(12)).max().unwrap_or_default();
    let profiles: Vec<&SimWearer> = fleet.wearers.iter().collect();

    let mut totals = FunctionTotals::default();
    let mut feeds: Vec<Feed> = models.iter().map(|m| Feed::new(m, opts.from, last)).collect();
    let mut items_written = 0;
    // The first hour runs whatever is due, as the deployed schedule's first run would.
    let mut retry = true;
    let mut t = clock_start;
    let mut last_progress = None;
    while t < clock_end {
        t += hour;
        for feed in &mut feeds {
            let readings = feed.until(t);
            if readings.is_empty() {
                continue;
            }
            let envelope = Envelope {
                v: ENVELOPE_VERSION,
                batch_id: format!("{}-{}", feed.model.device_id, readings[0].seq),
                part: 0,
                parts: 1,
                device_id: feed.model.device_id.clone(),
                wearer_id: feed.model.wearer_id.clone(),
                app_version: SIM_APP_VERSION.to_owned(),
                received_at: t,
                readings,
            };
            let items = vitals_items(&envelope, writer.ttl);
            items_written += items.len();
            match &memory {
                Some(memory) => memory.lock().map_err(|_| anyhow::anyhow!("the play's vitals lock"))?.put(items),
                None => {
                    writer.vitals.put_items(&items).await.map_err(|e| anyhow::anyhow!("writing vitals items: {e}"))?;
                }
            }
        }
        if retry || due_in_hour(&profiles, t) {
            let (result, _metrics) = daily.process_within(t, None).await;
            totals.runs += 1;
            retry = match result {
                Ok(s) => {
                    totals.days_computed += s.days_computed;
                    totals.trends_raised += s.trends_raised;
                    totals.messages_sent += s.messages_sent;
                    s.wearers_left > 0
                }
                Err(err) => {
                    totals.failed_runs += 1;
                    tracing::warn!(error = %err, at = %t, "a daily-summary run failed; the next hour runs again");
                    true
                }
            };
        }
        let day = (t - clock_start).num_days();
        if opts.progress && last_progress != Some(day) {
            last_progress = Some(day);
            eprintln!(
                "day {:>3}/{}: {} vitals items, {} runs, {} days computed, {} trends, {} messages, {:.0} s",
                day,
                opts.days,
                items_written,
                totals.runs,
                totals.days_computed,
                totals.trends_raised,
                totals.messages_sent,
                real_start.elapsed().as_secs_f64()
            );
        }
    }

    let audit = read_back(sdk, &resources, &fleet, &models, opts, (clock_start, clock_end)).await?;
    // The emulator keeps every item in memory and slows down as it fills; the days,
    // alerts and messages stay to look at, the 1,440 items per wearer-day go.
    vigil_aws::sdk::dynamodb(sdk)
        .delete_table()
        .table_name(&resources.vitals_table)
        .send()
        .await
        .with_context(|| format!("deleting the play's vitals table {}", resources.vitals_table))?;
    Ok(Report {
        from: opts.from,
        days: opts.days,
        seed: opts.seed,
        changes_planted: models.iter().filter(|m| m.change.is_some()).count(),
        changes_detected_in_time: audit
            .wearers
            .iter()
            .filter(|w| w.delay_days.is_some_and(|d| (0..=MAX_DELAY_DAYS).contains(&d)))
            .count(),
        false_trends: audit.wearers.iter().map(|w| w.false_trends).sum(),
        wearers: audit.wearers,
        caregivers_opted_in: opted_in(&fleet).count(),
        messages_expected: audit.expected,
        messages_sent: audit.sent,
        messages_missing: audit.missing,
        messages_unexpected: audit.unexpected,
        function: totals,
        vitals_items_written: items_written,
        days_table: resources.days_table.clone(),
        real_seconds: real_start.elapsed().as_secs_f64(),
    })
}

/// The play's vitals items in memory, as the vitals table keys them: per wearer, by
/// sort key; an item with the key of a stored one replaces it.
#[derive(Debug, Default)]
pub struct MemoryMinutes(BTreeMap<String, BTreeMap<String, VitalsItem>>);

impl MemoryMinutes {
    fn put(&mut self, items: Vec<VitalsItem>) {
        for item in items {
            self.0.entry(item.wearer_id.clone()).or_default().insert(item.sort_key(), item);
        }
    }

    /// The wearer's items of the minutes `from..to`, in key order: the vitals table's
    /// Query (`BETWEEN` the sort keys of the range, [`key_range`]).
    fn minutes(&self, wearer_id: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<VitalsItem> {
        let (low, high) = key_range(from, to - Duration::nanoseconds(1));
        self.0.get(wearer_id).map_or_else(Vec::new, |items| items.range(low..=high).map(|(_, i)| i.clone()).collect())
    }
}

/// daily-summary's inputs in the play: the wearers and alerts from their tables, the
/// vitals items from memory (`Some`) or from the vitals table.
#[derive(Debug)]
pub struct PlayInputs {
    tables: DynamoDayInputs,
    memory: Option<Arc<Mutex<MemoryMinutes>>>,
}

impl DayInputs for PlayInputs {
    async fn wearers(&self, after: Option<&str>, limit: usize) -> Result<WearerPage, StoreError> {
        self.tables.wearers(after, limit).await
    }

    async fn minutes(
        &self,
        wearer_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<VitalsItem>, StoreError> {
        match &self.memory {
            Some(memory) => Ok(memory.lock().map_or_else(
                |poisoned| poisoned.into_inner().minutes(wearer_id, from, to),
                |m| m.minutes(wearer_id, from, to),
            )),
            None => self.tables.minutes(wearer_id, from, to).await,
        }
    }

    async fn alerts(
        &self,
        wearer_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<AlertRecord>, StoreError> {
        self.tables.alerts(wearer_id, from, to).await
    }
}

/// How long one request may take against the local endpoint. moto answers a
/// Query of a day's 1,440 vitals items in 1–5 s on a busy 2-core machine (about
/// a millisecond per item; DynamoDB takes tens of milliseconds), past the 5 s a
/// Lambda's attempt gets; every other setting is the functions' own.
pub const LOCAL_ATTEMPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// `sdk` with [`LOCAL_ATTEMPT_TIMEOUT`] per attempt.
fn patient(sdk: &SdkConfig) -> SdkConfig {
    let timeouts =
        sdk.timeout_config().cloned().unwrap_or_else(|| aws_config::timeout::TimeoutConfig::builder().build());
    let timeouts = timeouts.to_builder().operation_attempt_timeout(LOCAL_ATTEMPT_TIMEOUT).build();
    sdk.to_builder().timeout_config(timeouts).build()
}

/// One wearer's readings, generated a local day at a time and handed out by the hour.
struct Feed<'a> {
    model: &'a DayModel,
    next: NaiveDate,
    last: NaiveDate,
    buffer: std::collections::VecDeque<vigil_domain::Reading>,
}

impl<'a> Feed<'a> {
    fn new(model: &'a DayModel, from: NaiveDate, last: NaiveDate) -> Self {
        Self { model, next: from, last, buffer: Default::default() }
    }

    /// The readings before `t` not handed out yet.
    fn until(&mut self, t: DateTime<Utc>) -> Vec<vigil_domain::Reading> {
        while self.next <= self.last && local_day(self.model.tz, self.next).0 < t {
            self.buffer.extend(self.model.readings(self.next));
            self.next += Duration::days(1);
        }
        let n = self.buffer.iter().take_while(|r| r.ts.to_utc() < t).count();
        self.buffer.drain(..n).collect()
    }
}

/// Whether the hour ending at `t` has something for daily-summary: a wearer's
/// local day ended in it, or an opted-in caregiver's message fell due.
fn due_in_hour(wearers: &[&SimWearer], t: DateTime<Utc>) -> bool {
    let before = t - Duration::hours(1);
    wearers.iter().any(|w| {
        let tz = w.profile.tz();
        day_of(tz, t) != day_of(tz, before)
            || w.profile.caregivers.iter().any(|c| {
                let Some(at) = c.daily_at else { return false };
                let ctz = caregiver_tz(c, tz);
                let quiet = c.quiet_hours.as_ref();
                domain_days::due(tz, ctz, at, quiet, t) != domain_days::due(tz, ctz, at, quiet, before)
            })
    })
}

fn caregiver_tz(c: &Caregiver, wearer_tz: Tz) -> Tz {
    c.quiet_hours.as_ref().and_then(|q| q.time_zone.parse().ok()).unwrap_or(wearer_tz)
}

/// (wearer, caregiver) of every opted-in caregiver.
fn opted_in(fleet: &Fleet) -> impl Iterator<Item = (&SimWearer, &Caregiver)> {
    fleet.wearers.iter().flat_map(|w| w.profile.caregivers.iter().filter(|c| c.daily_at.is_some()).map(move |c| (w, c)))
}

struct ReadBack {
    wearers: Vec<WearerLine>,
    expected: usize,
    sent: usize,
    missing: usize,
    unexpected: usize,
}

/// The audit's reading of the alerts, days and deliveries tables.
async fn read_back(
    sdk: &SdkConfig,
    resources: &Resources,
    fleet: &Fleet,
    models: &[DayModel],
    opts: &Options,
    (clock_start, clock_end): (DateTime<Utc>, DateTime<Utc>),
) -> anyhow::Result<ReadBack> {
    let last = opts.from + Duration::days(i64::from(opts.days) - 1);
    let days_store =
        DynamoDays::new(vigil_aws::sdk::dynamodb(sdk), &resources.days_table, vigil_aws::days::DEFAULT_TTL_DAYS);
    let alerts = audit::alerts(sdk, &resources.alerts_table).await?;
    let deviation = RuleKind::BaselineDeviation.as_str();
    let mut stored = BTreeMap::new();
    let mut lines = Vec::new();
    for m in models {
        let history = days_store
            .days(&m.wearer_id, opts.from - Duration::days(60), opts.from + Duration::days(i64::from(opts.days) + 1))
            .await
            .with_context(|| format!("reading {}'s days", m.wearer_id))?;
        // The day whose end raised each alert.
        let mut raised: Vec<NaiveDate> = alerts
            .iter()
            .filter(|a| a.wearer_id == m.wearer_id && a.rule == deviation)
            .map(|a| day_of(m.tz, a.raised_at - Duration::seconds(1)))
            .collect();
        raised.sort_unstable();
        let start = m.change.map(|c| c.start);
        let false_trends = raised.iter().filter(|d| start.is_none_or(|s| **d < s)).count();
        let detected = start.and_then(|s| raised.iter().copied().find(|d| *d >= s));
        let features = detected.map_or_else(Vec::new, |d| {
            let upto: Vec<_> = history.iter().filter(|x| x.date <= d).cloned().collect();
            domain_days::new_trends(&upto, d).iter().map(|t| t.feature.as_str().to_owned()).collect()
        });
        let played = history.iter().filter(|d| (opts.from..=last).contains(&d.date));
        lines.push(WearerLine {
            wearer_id: m.wearer_id.clone(),
            time_zone: m.tz.name().to_owned(),
            planted: m.change.map(|c| c.planted.as_str()),
            planted_feature: m.change.map(|c| c.planted.feature().as_str()),
            start,
            detected,
            delay_days: start.zip(detected).map(|(s, d)| (d - s).num_days()),
            features,
            false_trends,
            repeat_alerts: raised.len() - false_trends - usize::from(detected.is_some()),
            days_stored: played.clone().count(),
            days_complete: played.filter(|d| d.complete).count(),
        });
        stored.insert(m.wearer_id.clone(), history.iter().map(|d| d.date).collect::<Vec<_>>());
    }

    // Expected: each stored day whose message was due at some time the clock ran: from
    // its hour to the end of the caregiver's next day (a day stored by the first run
    // after its hour, e.g. the day before the play, is sent then).
    let mut expected = BTreeSet::new();
    for (w, c) in opted_in(fleet) {
        let (tz, at) = (w.profile.tz(), c.daily_at.unwrap_or(DAILY_AT));
        let ctz = caregiver_tz(c, tz);
        for date in stored.get(&w.profile.wearer_id).into_iter().flatten() {
            let send = send_at(ctz, *date + Duration::days(1), at);
            let until = send_at(ctz, *date + Duration::days(2), NaiveTime::MIN);
            // The clock's first hourly run is an hour after it starts.
            let first_run = clock_start + Duration::hours(1);
            if send.is_some_and(|s| s <= clock_end) && until.is_some_and(|u| first_run < u) {
                expected.insert(domain_days::daily_key(&w.profile.wearer_id, *date, &c.id));
            }
        }
    }
    let sent = daily_sent(sdk, &resources.deliveries_table).await?;
    Ok(ReadBack {
        wearers: lines,
        expected: expected.len(),
        sent: sent.len(),
        missing: expected.difference(&sent).count(),
        unexpected: sent.difference(&expected).count(),
    })
}

/// When a daily message at `at` on the caregiver's local `date` is sent (an hour
/// later when clocks skip it), as [`vigil_domain::days::due`] reckons it.
fn send_at(tz: Tz, date: NaiveDate, at: NaiveTime) -> Option<DateTime<Utc>> {
    let local = date.and_time(at);
    tz.from_local_datetime(&local)
        .earliest()
        .or_else(|| tz.from_local_datetime(&(local + Duration::hours(1))).earliest())
        .map(|t| t.with_timezone(&Utc))
}

/// The delivery keys of the daily messages the deliveries table holds as sent.
async fn daily_sent(sdk: &SdkConfig, table: &str) -> anyhow::Result<BTreeSet<String>> {
    let client = vigil_aws::sdk::dynamodb(sdk);
    let mut items = client.scan().table_name(table).into_paginator().items().send();
    let mut sent = BTreeSet::new();
    while let Some(item) = items.next().await {
        let item = item.with_context(|| format!("scanning {table}"))?;
        let Some(AttributeValue::M(body)) = item.get("delivery") else { continue };
        let delivery: Delivery = serde_dynamo::from_item(body.clone()).context("a stored delivery")?;
        if !delivery.alert_id.starts_with("daily#") {
            continue;
        }
        let status = item.get("status").and_then(|v| v.as_s().ok()).map(String::as_str);
        if status == Some("sent") {
            sent.insert(delivery.key());
        } else {
            // Claimed and never sent: counted as unexpected.
            sent.insert(format!("{} ({})", delivery.key(), status.unwrap_or("no status")));
        }
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]
    use super::*;

    #[test]
    fn the_function_runs_at_day_ends_and_message_hours_only() {
        let opts = Options {
            days: 30,
            wearers: 2,
            seed: 1,
            from: NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
            progress: false,
            vitals_table: false,
        };
        let fleet = fleet(&opts);
        let wearers: Vec<&SimWearer> = fleet.wearers.iter().collect();
        let start: DateTime<Utc> = "2026-10-02T00:00:00Z".parse().unwrap();
        let hours: Vec<u32> = (1..=24)
            .map(|h| start + Duration::hours(h))
            .filter(|t| due_in_hour(&wearers, *t))
            .map(|t| chrono::Timelike::hour(&t))
            .collect();
        // Madrid (UTC+2) and São Paulo (UTC−3): midnights at 22:00 and 03:00 UTC,
        // 08:30 messages due at the 07:00 and 12:00 UTC runs.
        assert_eq!(hours, vec![3, 7, 12, 22]);
    }

    #[test]
    fn each_wearers_first_caregiver_opts_in() {
        let opts = Options {
            days: 30,
            wearers: 4,
            seed: 1,
            from: NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
            progress: false,
            vitals_table: false,
        };
        let fleet = fleet(&opts);
        assert_eq!(opted_in(&fleet).count(), 4);
        assert!(opted_in(&fleet).all(|(w, c)| c.id == w.profile.caregivers[0].id));
    }
}
