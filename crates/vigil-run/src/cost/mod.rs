//! `vigil cost`: what Vigil costs a month on AWS for a fleet, per service and per
//! million readings, beside the seed design (an always-on EMR cluster running three
//! Spark streaming jobs) at the same load, and the capacity a fleet needs
//! (docs/cost.md).
//!
//! - [`prices`]: the list prices, kept in `prices.json` with their region and date;
//! - [`model`]: the pure model, inputs → bills and capacity;
//! - [`layout`]: what an upload writes to the vitals table at an upload interval, from
//!   the item layout's own code;
//! - [`measure`]: what `vigil run` measures for it (`cost_inputs` in `--summary-json`),
//!   which `vigil cost --from-run FILE` reads.

pub mod layout;
pub mod measure;
pub mod model;
pub mod prices;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Deserialize;

pub use measure::Measured;
use model::{Bill, Inputs, StackDefaults};
use prices::Prices;

/// The target: dollars per million readings, SMS and calls excluded.
pub const TARGET_PER_MILLION: f64 = 0.05;

/// `vigil cost`'s flags.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Wearers in the fleet.
    #[arg(long, default_value_t = 100_000)]
    pub wearers: u64,
    /// How often each phone uploads its routine readings: seconds (60, 60s) or minutes (5m).
    /// The default is the upload policy's (`vigil_domain::upload::policy::ROUTINE_EVERY_S`).
    #[arg(long, default_value = "5m", value_parser = seconds)]
    pub upload_every: f64,
    /// Read the measured inputs from a `vigil run --summary-json` file.
    #[arg(long)]
    pub from_run: Option<PathBuf>,
    /// Set any model input (docs/cost.md lists them), e.g. `--set ingest_ms_per_request=20`
    /// or `--set memory_mb.ingest-api=512`; repeat for several; applied last.
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub set: Vec<String>,
    /// Print the capacity table for 10,000, 100,000 and 1,000,000 wearers instead.
    #[arg(long)]
    pub capacity: bool,
}

/// `60`, `60s` or `5m` → seconds.
fn seconds(s: &str) -> Result<f64, String> {
    let (number, unit) = match s.strip_suffix('m') {
        Some(n) => (n, 60.0),
        None => (s.strip_suffix('s').unwrap_or(s), 1.0),
    };
    match number.trim().parse::<f64>() {
        Ok(n) if n.is_finite() && n > 0.0 => Ok(n * unit),
        _ => Err(format!("{s} is not a duration: seconds (60, 60s) or minutes (5m)")),
    }
}

/// Runs `vigil cost`: prints the tables on stdout.
///
/// # Errors
/// Bad flags or a run file that cannot be read, naming the field or file.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let prices = Prices::list().context("the price list (crates/vigil-run/src/cost/prices.json)")?;
    let (inputs, measured) = inputs(args)?;
    if args.capacity {
        print!("{}", capacity_table(&inputs, &prices));
        return Ok(());
    }
    print!("{}", report(&inputs, &prices, &measured));
    Ok(())
}

/// The model's inputs from the flags, and which of them the run file gave.
///
/// # Errors
/// A run file that cannot be read, or a `--set` that names no input or gives a bad value.
pub fn inputs(args: &Args) -> anyhow::Result<(Inputs, Vec<(String, f64)>)> {
    let mut inputs = Inputs::from_declarations().context("reading the functions' declarations")?;
    inputs.wearers = args.wearers as f64;
    inputs.upload_every_s = args.upload_every;
    // Phones upload on their own phase, not on a span boundary: what an upload writes
    // comes from the item layout, averaged over phases.
    let vitals = layout::vitals_per_upload(args.upload_every, inputs.reading_interval_s);
    inputs.vitals_items_per_upload = vitals.items;
    inputs.vitals_write_units_per_item = vitals.write_units_per_item;
    inputs.vitals_item_bytes = vitals.bytes_per_item;
    inputs.record_bytes *= layout::record_bytes_scale(args.upload_every, inputs.reading_interval_s);
    let mut measured = Vec::new();
    if let Some(path) = &args.from_run {
        let run = RunFile::read(path)?;
        measured = run.apply(&mut inputs);
    }
    for assignment in &args.set {
        set(&mut inputs, assignment)?;
    }
    inputs.check().map_err(|e| anyhow::anyhow!("bad input: {e}"))?;
    Ok((inputs, measured))
}

/// `name=value` (a dotted name reaches into a per-function table) onto `inputs`.
fn set(inputs: &mut Inputs, assignment: &str) -> anyhow::Result<()> {
    let (name, value) =
        assignment.split_once('=').with_context(|| format!("--set {assignment}: expected NAME=VALUE"))?;
    let value: serde_json::Value = serde_json::from_str(value.trim())
        .with_context(|| format!("--set {name}: {value} is not a number (or true/false)"))?;
    let mut tree = serde_json::to_value(&*inputs)?;
    let no_such = || anyhow::anyhow!("--set {name}: no such input (docs/cost.md lists them)");
    let mut at = &mut tree;
    for part in name.trim().split('.') {
        at = at.as_object_mut().and_then(|o| o.get_mut(part)).ok_or_else(no_such)?;
    }
    *at = value;
    *inputs = serde_json::from_value(tree).with_context(|| format!("--set {name}: not a value it takes"))?;
    Ok(())
}

/// The parts of a `vigil run --summary-json` file the model reads.
#[derive(Debug, Clone, Deserialize)]
pub struct RunFile {
    pub wearers: f64,
    pub simulated_minutes: f64,
    pub uploads_accepted: f64,
    pub readings_accepted: f64,
    pub alerts_raised: f64,
    pub cost_inputs: Measured,
}

impl RunFile {
    /// # Errors
    /// The file cannot be read, or is not a run summary with `cost_inputs`.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not a `vigil run --summary-json` file with cost_inputs (a run of this version writes them)",
                path.display()
            )
        })
    }

    /// Replaces the inputs the run measured; returns them, named as `--set` names them.
    /// A figure whose denominator is zero in the run (no alerts, say) is left as it was.
    pub fn apply(&self, inputs: &mut Inputs) -> Vec<(String, f64)> {
        let m = &self.cost_inputs;
        let mut applied = Vec::new();
        let mut put = |name: &str, target: &mut f64, numerator: f64, denominator: f64| {
            if denominator > 0.0 && numerator.is_finite() {
                *target = numerator / denominator;
                applied.push((name.to_owned(), *target));
            }
        };
        let uploads = self.uploads_accepted;
        let wearer_days = self.wearers * self.simulated_minutes / 1440.0;
        if m.upload_interval_s > 0.0 {
            let routine = self.wearers * self.simulated_minutes * 60.0 / m.upload_interval_s;
            put(
                "urgent_uploads_per_wearer_day",
                &mut inputs.urgent_uploads_per_wearer_day,
                (uploads - routine).max(0.0),
                wearer_days,
            );
        }
        let per_item = |i: &measure::Items| (i.bytes as f64, i.items as f64);
        // What an upload writes to vitals depends on the upload interval: only from a run
        // at the same one.
        if m.upload_interval_s == inputs.upload_every_s {
            put("record_bytes", &mut inputs.record_bytes, m.stream_bytes as f64, m.stream_records as f64);
            put("vitals_items_per_upload", &mut inputs.vitals_items_per_upload, m.vitals.items as f64, uploads);
            put(
                "vitals_write_units_per_item",
                &mut inputs.vitals_write_units_per_item,
                m.vitals.write_units as f64,
                m.vitals.items as f64,
            );
            let (b, n) = per_item(&m.vitals);
            put("vitals_item_bytes", &mut inputs.vitals_item_bytes, b, n);
        }
        let (b, n) = per_item(&m.state);
        put("state_item_bytes", &mut inputs.state_item_bytes, b, n);
        let (b, n) = per_item(&m.profiles);
        put("profile_item_bytes", &mut inputs.profile_item_bytes, b, n);
        let (b, n) = per_item(&m.devices);
        put("device_item_bytes", &mut inputs.device_item_bytes, b, n);
        // SMS per alert follows the design (caregivers a wearer, reminders, notices). The
        // alert rate, push and calls do not: the fleet injects events at a stress rate
        // (an event a wearer-hour), has no push endpoints, and its caregivers' answers
        // (and so the calls) are simulated; those stay assumptions.
        put("sms_per_alert", &mut inputs.sms_per_alert, m.sms as f64, self.alerts_raised);
        applied
    }
}

fn usd(v: f64) -> String {
    let cents = (v * 100.0).round() as i64;
    let whole = model::thousands((cents / 100).unsigned_abs());
    format!("{whole}.{:02}", (cents % 100).abs())
}

/// One bill as a Markdown table: a row per line, its total, and the total the target counts.
pub fn bill_table(bill: &Bill) -> String {
    let mut out = String::from("| service | item | $/month | $/M readings |\n|---|---|---:|---:|\n");
    for l in &bill.lines {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.4} |",
            l.service,
            l.item,
            usd(l.monthly_usd),
            bill.per_million(l.monthly_usd)
        );
    }
    let (total, target) = (bill.total(), bill.total_in_target());
    let _ = writeln!(out, "| **total** | | {} | {:.4} |", usd(total), bill.per_million(total));
    let _ = writeln!(out, "| **without SMS and calls** | | {} | {:.4} |", usd(target), bill.per_million(target));
    out
}

/// Per service, both designs side by side.
pub fn services_table(vigil: &Bill, seed: &Bill) -> String {
    let mut services: Vec<&str> = Vec::new();
    for l in vigil.lines.iter().chain(&seed.lines) {
        if !services.contains(&l.service) {
            services.push(l.service);
        }
    }
    let mut out = String::from(
        "| service | Vigil $/month | Vigil $/M readings | seed $/month | seed $/M readings |\n|---|---:|---:|---:|---:|\n",
    );
    for s in services {
        let (v, e) = (vigil.service_total(s), seed.service_total(s));
        let _ = writeln!(
            out,
            "| {s} | {} | {:.4} | {} | {:.4} |",
            usd(v),
            vigil.per_million(v),
            usd(e),
            seed.per_million(e)
        );
    }
    let (v, e) = (vigil.total_in_target(), seed.total_in_target());
    let _ = writeln!(
        out,
        "| **without SMS and calls** | {} | {:.4} | {} | {:.4} |",
        usd(v),
        vigil.per_million(v),
        usd(e),
        seed.per_million(e)
    );
    out
}

/// What `vigil cost` prints.
pub fn report(inputs: &Inputs, prices: &Prices, measured: &[(String, f64)]) -> String {
    let vigil = model::vigil(inputs, prices);
    let seed = model::seed(inputs, prices);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} wearers, routine uploads every {} s, a reading every {} s: {} readings a month (730 h)",
        model::count(inputs.wearers),
        inputs.upload_every_s,
        inputs.reading_interval_s,
        model::count(vigil.readings_per_month)
    );
    let _ = writeln!(
        out,
        "prices: {}, list prices as published on {}; check before relying on them",
        prices.region, prices.as_of
    );
    if !measured.is_empty() {
        let list: Vec<String> = measured.iter().map(|(k, v)| format!("{k}={v:.3}")).collect();
        let _ = writeln!(out, "from the run: {}", list.join(", "));
    }
    let _ = writeln!(out, "\nVigil\n\n{}", bill_table(&vigil));
    let per_million = vigil.per_million(vigil.total_in_target());
    let verdict = if per_million <= TARGET_PER_MILLION { "meets" } else { "misses" };
    let _ = writeln!(
        out,
        "target ≤ ${TARGET_PER_MILLION:.2}/M readings without SMS and calls: {verdict} (${per_million:.4}/M)"
    );
    if let Some(l) = vigil.largest_in_target() {
        let _ = writeln!(
            out,
            "largest term: {} {} (${:.4}/M readings)",
            l.service,
            l.item,
            vigil.per_million(l.monthly_usd)
        );
    }
    let cluster = model::EmrCluster::for_shards(model::stream_load(&inputs.without_fan_out(), prices).shards);
    let _ = writeln!(
        out,
        "\nseed design: EMR, 1 m5.xlarge primary + {} m5.2xlarge core nodes (3 Spark streaming jobs, each a receiver and a processing core per shard and 2 driver cores), KCL checkpoints\n\n{}",
        cluster.core_nodes,
        bill_table(&seed)
    );
    let _ = writeln!(out, "per service\n\n{}", services_table(&vigil, &seed));
    out
}

/// The capacity table (Markdown) at 10,000, 100,000 and 1,000,000 wearers, with the
/// other inputs as given.
pub fn capacity_table(inputs: &Inputs, prices: &Prices) -> String {
    let sizes = [10_000.0, 100_000.0, 1_000_000.0];
    let caps: Vec<model::Capacity> = sizes
        .iter()
        .map(|&wearers| model::capacity(&Inputs { wearers, ..inputs.clone() }, prices, &StackDefaults::DEPLOYED))
        .collect();
    let mut out = format!(
        "uploads every {} s; shards sized to {:.0} % of a shard's limits; concurrency: average / the most the mapping or setting allows\n\n",
        inputs.upload_every_s,
        inputs.shard_utilisation * 100.0
    );
    let header: Vec<String> = sizes.iter().map(|s| format!("{} wearers", model::thousands(*s as u64))).collect();
    let _ = writeln!(out, "| | {} |\n|---|---:|---:|---:|", header.join(" | "));
    let row = |out: &mut String, name: &str, f: &dyn Fn(&model::Capacity) -> String| {
        let cells: Vec<String> = caps.iter().map(f).collect();
        let _ = writeln!(out, "| {name} | {} |", cells.join(" | "));
    };
    row(&mut out, "uploads/s", &|c| format!("{:.0}", c.uploads_per_s));
    row(&mut out, "Kinesis shards", &|c| format!("{}", c.shards));
    row(&mut out, "enhanced fan-out consumers", &|c| format!("{}", c.fan_out_consumers));
    for f in ["ingest-api", "alert-processor", "raw-archiver", "vitals-writer"] {
        row(&mut out, &format!("{f} concurrency"), &|c| {
            c.concurrency.get(f).map_or_else(String::new, |(avg, max)| format!("{avg:.1} / {max}"))
        });
    }
    row(&mut out, "DynamoDB write units/s (stream path)", &|c| format!("{:.0}", c.write_units_per_s));
    row(&mut out, "DynamoDB mode (cheaper)", &|c| {
        format!(
            "{} (${} on demand, ${} provisioned)",
            c.dynamodb_mode(),
            usd(c.dynamodb_on_demand_usd),
            usd(c.dynamodb_provisioned_usd)
        )
    });
    row(&mut out, "stack settings above their defaults (needed)", &|c| {
        let list: Vec<String> = c.settings.iter().map(|(name, needed, _)| format!("{name} {needed}")).collect();
        if list.is_empty() { "none".to_owned() } else { list.join(", ") }
    });
    row(&mut out, "first limit (use)", &|c| {
        c.limits.first().map_or_else(String::new, |(what, used)| format!("{what} ({:.0} %)", used * 100.0))
    });
    row(&mut out, "first AWS quota (use)", &|c| {
        c.limits
            .iter()
            .find(|(what, _)| !what.starts_with("stack setting") && !what.contains("mapping"))
            .map_or_else(String::new, |(what, used)| format!("{what} ({:.0} %)", used * 100.0))
    });
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]
    use super::*;

    fn args() -> Args {
        Args { wearers: 100_000, upload_every: 60.0, from_run: None, set: Vec::new(), capacity: false }
    }

    #[test]
    fn durations_are_seconds_or_minutes_and_anything_else_is_refused() {
        assert_eq!(seconds("60s"), Ok(60.0));
        assert_eq!(seconds("60"), Ok(60.0));
        assert_eq!(seconds("5m"), Ok(300.0));
        assert!(seconds("soon").unwrap_err().contains("soon"));
        assert!(seconds("0s").is_err());
    }

    #[test]
    fn set_reaches_top_level_and_per_function_inputs_and_names_what_it_cannot() {
        let (i, _) =
            inputs(&Args { set: vec!["ingest_ms_per_request=20".into(), "memory_mb.ingest-api=512".into()], ..args() })
                .unwrap();
        assert_eq!(i.ingest_ms_per_request, 20.0);
        assert_eq!(i.memory_mb["ingest-api"], 512.0);
        let err = inputs(&Args { set: vec!["ingest_ms=20".into()], ..args() }).unwrap_err();
        assert!(format!("{err:#}").contains("ingest_ms: no such input"), "{err:#}");
        let err = inputs(&Args { set: vec!["wearers=many".into()], ..args() }).unwrap_err();
        assert!(format!("{err:#}").contains("wearers"), "{err:#}");
        let err = inputs(&Args { set: vec!["upload_every_s=0".into()], ..args() }).unwrap_err();
        assert!(format!("{err:#}").contains("upload_every_s must be"), "{err:#}");
    }

    #[test]
    fn a_run_file_replaces_what_the_run_measured() {
        let run = RunFile {
            wearers: 10.0,
            simulated_minutes: 1440.0,
            uploads_accepted: 14_410.0,
            readings_accepted: 172_800.0,
            alerts_raised: 5.0,
            cost_inputs: Measured {
                upload_interval_s: 60.0,
                reading_interval_s: 5.0,
                stream_records: 100,
                stream_bytes: 150_000,
                vitals: measure::Items { items: 28_820, bytes: 28_820 * 400, write_units: 28_820 },
                state: measure::Items { items: 10, bytes: 8_000, write_units: 10 },
                sms: 10,
                calls: 1,
                ..Measured::default()
            },
        };
        let mut i = Inputs::from_declarations().unwrap();
        let applied = run.apply(&mut i);
        assert_eq!(i.record_bytes, 1_500.0);
        // 14,410 uploads against 10 × 1,440 routine ones: 10 urgent over 10 wearer-days.
        assert_eq!(i.urgent_uploads_per_wearer_day, 1.0);
        assert_eq!(i.vitals_items_per_upload, 2.0);
        assert_eq!(i.state_item_bytes, 800.0);
        assert_eq!(i.sms_per_alert, 2.0);
        // The stress rate of the fleet's events and its simulated answers are not the design's.
        let defaults = Inputs::from_declarations().unwrap();
        assert_eq!(
            (i.alerts_per_wearer_day, i.calls_per_alert),
            (defaults.alerts_per_wearer_day, defaults.calls_per_alert)
        );
        // No profiles measured: the default stands, and is not listed.
        assert_eq!(i.profile_item_bytes, Inputs::from_declarations().unwrap().profile_item_bytes);
        assert!(!applied.iter().any(|(k, _)| k == "profile_item_bytes"));
        assert!(applied.iter().any(|(k, v)| k == "record_bytes" && *v == 1_500.0));
    }

    #[test]
    fn dollars_print_with_cents_and_thousands() {
        assert_eq!(usd(3_972.0), "3,972.00");
        assert_eq!(usd(0.5), "0.50");
        assert_eq!(usd(12.345), "12.35");
        assert_eq!(usd(1_234_567.891), "1,234,567.89");
    }
}
