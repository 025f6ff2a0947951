//! The cost model: [`Inputs`] → a monthly [`Bill`] per service (and per million
//! readings), for Vigil and for the seed design, and the [`Capacity`] a fleet needs.
//! Pure arithmetic over the list prices: no I/O, no clock.
//!
//! A month is 730 hours (AWS's own convention). Storage is priced at steady state:
//! every store full to its retention period. Free tiers are left out.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::prices::Prices;

pub const HOURS_PER_MONTH: f64 = 730.0;
pub const SECONDS_PER_MONTH: f64 = HOURS_PER_MONTH * 3600.0;
pub const DAYS_PER_MONTH: f64 = HOURS_PER_MONTH / 24.0;
const GB: f64 = 1e9;
/// A DynamoDB write unit covers 1 KB; a read unit 4 KB (strongly consistent; half a unit eventually).
const WRITE_UNIT_BYTES: f64 = 1024.0;
const READ_UNIT_BYTES: f64 = 4096.0;
/// DynamoDB adds about 100 bytes of overhead per item to the stored size.
const ITEM_OVERHEAD_BYTES: f64 = 100.0;
/// Kinesis bills PUTs in 25 KB payload units.
const PUT_PAYLOAD_UNIT_BYTES: f64 = 25.0 * 1024.0;
/// Lambda gives one vCPU at 1,769 MB, and CPU in proportion to memory below it.
const VCPU_GB: f64 = 1_769.0 / 1024.0;

/// Redshift Serverless bills at least 60 seconds each time it runs.
const REDSHIFT_MINIMUM_S: f64 = 60.0;
/// The seed design's streaming job updated each wearer's shadow item once per upload.
const SEED_SHADOW_WRITES_PER_UPLOAD: f64 = 1.0;

/// The stream functions, in the order the bill lists them.
pub const STREAM_FUNCTIONS: [&str; 3] = ["alert-processor", "raw-archiver", "vitals-writer"];
/// The functions invoked once an upload, which pool the EMF lines of their routine
/// invocations (`vigil_lambda::metrics::Pool`).
pub const POOLED_FUNCTIONS: [&str; 2] = ["ingest-api", "alert-processor"];

/// What the model needs. Defaults ([`Inputs::default`]) are documented in
/// docs/cost.md; each can be set with `vigil cost --set name=value`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    pub wearers: f64,
    /// Seconds between two routine uploads of a phone.
    pub upload_every_s: f64,
    /// Seconds between two readings of a band.
    pub reading_interval_s: f64,
    /// Uploads outside the routine ones per wearer and day (SOS, falls, readings past
    /// the wearer's limits: the upload policy sends them sooner).
    pub urgent_uploads_per_wearer_day: f64,
    /// Bytes of one stream record (one upload's envelope).
    pub record_bytes: f64,
    /// Vitals items written per upload (one per half-hour span of event time the upload touches).
    pub vitals_items_per_upload: f64,
    /// Write units one vitals item costs.
    pub vitals_write_units_per_item: f64,
    /// Stored bytes of one vitals item.
    pub vitals_item_bytes: f64,
    pub state_item_bytes: f64,
    /// A shadow item of its own (the seed design's; Vigil's latest state is read from
    /// the vitals items since 2026-12-04): its bytes, last measured 2026-12-03.
    pub shadow_item_bytes: f64,
    pub profile_item_bytes: f64,
    pub device_item_bytes: f64,
    /// Puts of the rule state per upload (each wearer's once a batch).
    pub state_writes_per_upload: f64,
    /// The wearers' no-data threshold in minutes (the profiles' default): how often a
    /// state put moves the detector's index entry ([`Inputs::check_moves_per_wearer_s`]).
    pub no_data_min: f64,
    /// Updates of a shadow item per upload: 0 in Vigil; the seed design's is 1.
    pub shadow_writes_per_upload: f64,
    /// DynamoDB throughput priced provisioned (auto scaling at 70 %) instead of on demand.
    pub dynamodb_provisioned: bool,
    /// Wearer profile reads per upload: alert-processor's (it caches a profile 60 s per
    /// container) and ingest-api's read of the limits for the upload policy (uncached).
    pub profile_reads_per_upload: f64,
    /// Device registry reads per upload (ingest-api caches a device 60 s per container).
    pub device_reads_per_upload: f64,
    /// Raw archive (gzip NDJSON) and curated (Parquet) bytes per reading.
    pub raw_bytes_per_reading: f64,
    pub curated_bytes_per_reading: f64,
    /// Bytes a reading takes in Redshift's managed storage. Not measured: Redshift
    /// encodes its columns itself, so this stays the curated Parquet's size with every
    /// column Snappy, before its key column was GZIP.
    pub warehouse_bytes_per_reading: f64,
    /// Memory of each function (MB), from its function.json.
    pub memory_mb: BTreeMap<String, f64>,
    /// Billed milliseconds of one ingest-api request.
    pub ingest_ms_per_request: f64,
    /// Billed milliseconds of a stream function's invocation: a fixed part per batch
    /// and a part per record.
    pub ms_per_batch: BTreeMap<String, f64>,
    pub ms_per_record: BTreeMap<String, f64>,
    /// Largest batch of each stream function (function.json).
    pub batch_size: BTreeMap<String, f64>,
    /// Batching window of each stream function, seconds; 0: none.
    pub batching_window_s: BTreeMap<String, f64>,
    /// Concurrent batches per shard of each stream function (function.json).
    pub parallelization_factor: BTreeMap<String, f64>,
    /// Which stream functions read through an enhanced fan-out consumer (function.json).
    pub enhanced_fan_out: BTreeMap<String, bool>,
    /// How often a fan-out consumer pushes what arrived on a shard, ms (AWS documents
    /// about 70 ms; the local runner's mapping uses the same).
    pub fan_out_push_ms: f64,
    /// Fraction of a shard's write limits the stream is sized to use at the average rate.
    pub shard_utilisation: f64,
    pub stream_retention_hours: f64,
    pub offline_detector_ms_per_run: f64,
    pub offline_detector_every_min: f64,
    /// daily-summary: how often it runs; one wearer's day: the ms spent waiting (two
    /// vitals Queries of a day's items, the writes) and the CPU ms on a full vCPU (the
    /// items decoded and two days summarized, `cargo bench -p daily-summary`), which
    /// Lambda stretches by 1,769 MB / the function's memory; and the ms of one
    /// wearer's hourly check (one small Query). It works on 8 wearers at once.
    pub daily_every_min: f64,
    pub daily_wait_ms_per_wearer_day: f64,
    pub daily_cpu_ms_per_wearer_day: f64,
    pub daily_ms_per_check: f64,
    /// Stored bytes of one day item, and days kept (`DAYS_TTL_DAYS`).
    pub day_item_bytes: f64,
    pub days_ttl_days: f64,
    /// Caregivers per wearer who opted in to the daily message (push).
    pub daily_messages_per_wearer_day: f64,
    pub detector_queries_per_run: f64,
    pub warehouse_load_every_min: f64,
    /// Seconds Redshift works on one load (the loader's Lambda waits as long).
    pub warehouse_load_s: f64,
    pub redshift_base_rpu: f64,
    /// Months of readings the warehouse holds: its retention
    /// (`WAREHOUSE_RETENTION_DAYS`, in months of 365/12 days), at steady state.
    pub warehouse_months: f64,
    /// Caregiver app requests (care-api) per wearer and day, and their billed ms and read units.
    pub care_requests_per_wearer_day: f64,
    pub care_ms_per_request: f64,
    pub care_read_units_per_request: f64,
    /// Alerts per wearer and day, and what each sends.
    pub alerts_per_wearer_day: f64,
    pub sms_per_alert: f64,
    pub sms_parts_per_message: f64,
    pub push_per_alert: f64,
    pub calls_per_alert: f64,
    pub call_minutes: f64,
    /// Write units per alert: the alert, its delivery claims and records, escalation steps.
    pub write_units_per_alert: f64,
    pub alert_storage_bytes: f64,
    /// Acknowledgement page requests and SMS replies per alert.
    pub link_requests_per_alert: f64,
    pub sms_replies_per_alert: f64,
    pub small_function_ms: f64,
    pub vitals_ttl_days: f64,
    pub alerts_ttl_days: f64,
    pub raw_retention_days: f64,
    /// Days raw objects stay in S3 Standard before moving to Glacier Instant Retrieval.
    pub raw_standard_days: f64,
    pub curated_retention_days: f64,
    /// Days curated objects stay in S3 Standard before Glacier Instant Retrieval (at or past
    /// the retention: never moved).
    pub curated_standard_days: f64,
    /// Log bytes per Lambda invocation: what the function writes (its EMF metrics line);
    /// the platform's START/END/REPORT lines are filtered out (system log level WARN).
    pub log_bytes_per_invocation: f64,
    /// The same for the functions invoked once an upload ([`POOLED_FUNCTIONS`]), whose
    /// routine invocations share a line (`vigil_lambda::metrics::Pool`).
    pub pooled_log_bytes_per_invocation: f64,
    /// API Gateway access log bytes per request.
    pub access_log_bytes_per_request: f64,
    pub log_retention_months: f64,
    /// Stored log bytes per ingested byte (CloudWatch stores logs compressed).
    pub log_storage_ratio: f64,
    pub custom_metrics: f64,
}

impl Inputs {
    /// The defaults, with each function's settings read from its `function.json`.
    ///
    /// # Errors
    /// If a declaration does not parse (they are compiled in and tested).
    pub fn from_declarations() -> Result<Self, vigil_local::declaration::DeclarationError> {
        use vigil_local::declaration::{Declaration, FUNCTIONS};
        let mut inputs = Self::defaults();
        for (name, _) in FUNCTIONS {
            let d = Declaration::of(name)?;
            inputs.memory_mb.insert(name.to_owned(), f64::from(d.memory_mb));
            if let Some(k) = d.kinesis() {
                inputs.batch_size.insert(name.to_owned(), k.batch_size as f64);
                inputs.batching_window_s.insert(name.to_owned(), k.max_batching_window_secs as f64);
                inputs.parallelization_factor.insert(name.to_owned(), f64::from(k.parallelization_factor));
                inputs.enhanced_fan_out.insert(name.to_owned(), k.enhanced_fan_out);
            }
            if let Some(s) = d.schedule() {
                let every = f64::from(s.rate_minutes);
                match name {
                    "offline-detector" => inputs.offline_detector_every_min = every,
                    "warehouse-loader" => inputs.warehouse_load_every_min = every,
                    "daily-summary" => inputs.daily_every_min = every,
                    _ => {}
                }
            }
            if let Some(days) = d.environment.get("VITALS_TTL_DAYS").and_then(|v| v.default.as_deref()) {
                inputs.vitals_ttl_days = days.parse().unwrap_or(inputs.vitals_ttl_days);
            }
            if let Some(days) = d.environment.get("DAYS_TTL_DAYS").and_then(|v| v.default.as_deref()) {
                inputs.days_ttl_days = days.parse().unwrap_or(inputs.days_ttl_days);
            }
            if let Some(days) = d.environment.get("ALERTS_TTL_DAYS").and_then(|v| v.default.as_deref()) {
                inputs.alerts_ttl_days = days.parse().unwrap_or(inputs.alerts_ttl_days);
            }
            if let Some(days) = d.environment.get("WAREHOUSE_RETENTION_DAYS").and_then(|v| v.default.as_deref()) {
                inputs.warehouse_months = days.parse::<f64>().map_or(inputs.warehouse_months, |d| d * 12.0 / 365.0);
            }
        }
        Ok(inputs)
    }

    /// The defaults without the declarations (memory 128 MB, no stream settings):
    /// what [`Inputs::from_declarations`] starts from.
    fn defaults() -> Self {
        let per = |values: [f64; 3]| STREAM_FUNCTIONS.iter().map(|f| (*f).to_owned()).zip(values).collect();
        let vitals = super::layout::vitals_per_upload(60.0, 5.0);
        Self {
            wearers: 100_000.0,
            upload_every_s: 60.0,
            reading_interval_s: 5.0,
            // SOS and falls (about 0.1), and readings past the wearer's limits, posted
            // once a minute while they last (the upload policy): assumed.
            urgent_uploads_per_wearer_day: 2.0,
            // Measured by `vigil run` (docs/cost.md#inputs).
            record_bytes: 2_300.0,
            // From the item layout at this interval; a run measures them too.
            vitals_items_per_upload: vitals.items,
            vitals_write_units_per_item: vitals.write_units_per_item,
            vitals_item_bytes: vitals.bytes_per_item,
            state_item_bytes: 524.0,
            shadow_item_bytes: 214.0,
            profile_item_bytes: 819.0,
            device_item_bytes: 83.0,
            state_writes_per_upload: 1.0,
            no_data_min: f64::from(vigil_domain::alerts::Thresholds::default().no_data_min),
            shadow_writes_per_upload: 0.0,
            dynamodb_provisioned: false,
            profile_reads_per_upload: 2.0,
            device_reads_per_upload: 1.0,
            raw_bytes_per_reading: 15.6,
            curated_bytes_per_reading: 21.9,
            warehouse_bytes_per_reading: 35.6,
            memory_mb: BTreeMap::new(),
            ingest_ms_per_request: 15.0,
            ms_per_batch: per([15.0, 80.0, 25.0]),
            ms_per_record: per([0.6, 0.05, 0.3]),
            batch_size: per([100.0, 1_000.0, 500.0]),
            batching_window_s: per([0.0, 30.0, 5.0]),
            parallelization_factor: per([1.0, 1.0, 1.0]),
            enhanced_fan_out: STREAM_FUNCTIONS.iter().map(|f| ((*f).to_owned(), *f == "alert-processor")).collect(),
            fan_out_push_ms: 70.0,
            shard_utilisation: 0.5,
            stream_retention_hours: 168.0,
            offline_detector_ms_per_run: 500.0,
            offline_detector_every_min: 1.0,
            daily_every_min: 60.0,
            daily_wait_ms_per_wearer_day: 100.0,
            daily_cpu_ms_per_wearer_day: 13.8,
            daily_ms_per_check: 10.0,
            day_item_bytes: 330.0,
            days_ttl_days: 90.0,
            daily_messages_per_wearer_day: 1.0,
            detector_queries_per_run: 16.0,
            warehouse_load_every_min: 15.0,
            warehouse_load_s: 60.0,
            redshift_base_rpu: 8.0,
            warehouse_months: 12.0,
            care_requests_per_wearer_day: 10.0,
            care_ms_per_request: 50.0,
            care_read_units_per_request: 5.0,
            alerts_per_wearer_day: 0.05,
            sms_per_alert: 1.5,
            sms_parts_per_message: 2.0,
            push_per_alert: 1.5,
            calls_per_alert: 0.1,
            call_minutes: 1.0,
            write_units_per_alert: 12.0,
            alert_storage_bytes: 3_000.0,
            link_requests_per_alert: 0.5,
            sms_replies_per_alert: 0.3,
            small_function_ms: 50.0,
            vitals_ttl_days: 30.0,
            alerts_ttl_days: 400.0,
            raw_retention_days: 400.0,
            raw_standard_days: 90.0,
            curated_standard_days: 90.0,
            curated_retention_days: 730.0,
            // Measured (docs/cost.md): ingest-api's EMF line per upload, 379 bytes, and
            // alert-processor's per batch without an alert, 469, weighted by their
            // invocations (zero counts are left out of the lines); the functions that
            // write a line each are sized like them.
            log_bytes_per_invocation: 400.0,
            // Measured (docs/cost.md): pooled, 8.7 bytes per upload (ingest-api) and 15.8
            // per batch without an alert (alert-processor), one invocation each per upload.
            pooled_log_bytes_per_invocation: 12.3,
            access_log_bytes_per_request: 450.0,
            log_retention_months: 12.0,
            log_storage_ratio: 0.15,
            custom_metrics: 60.0,
        }
    }

    /// Uploads per second, the whole fleet.
    pub fn uploads_per_s(&self) -> f64 {
        self.wearers * (1.0 / self.upload_every_s + self.urgent_uploads_per_wearer_day / 86_400.0)
    }

    pub fn readings_per_s(&self) -> f64 {
        self.wearers / self.reading_interval_s
    }

    pub fn readings_per_month(&self) -> f64 {
        self.readings_per_s() * SECONDS_PER_MONTH
    }

    fn alerts_per_month(&self) -> f64 {
        self.wearers * self.alerts_per_wearer_day * DAYS_PER_MONTH
    }

    fn get(map: &BTreeMap<String, f64>, name: &str, default: f64) -> f64 {
        map.get(name).copied().unwrap_or(default)
    }

    /// The same inputs with every stream function on shared throughput (the seed design's KCL readers).
    pub fn without_fan_out(&self) -> Self {
        let mut shared = self.clone();
        shared.enhanced_fan_out.values_mut().for_each(|on| *on = false);
        shared
    }

    /// The event source mapping of stream function `f`, as the inputs set it.
    pub fn mapping(&self, f: &str) -> Mapping {
        Mapping {
            window_s: Self::get(&self.batching_window_s, f, 0.0),
            fan_out: self.enhanced_fan_out.get(f).copied().unwrap_or(false),
            push_ms: self.fan_out_push_ms,
            batch_size: Self::get(&self.batch_size, f, 100.0),
            parallelization: Self::get(&self.parallelization_factor, f, 1.0),
            ms_per_batch: Self::get(&self.ms_per_batch, f, 0.0),
            ms_per_record: Self::get(&self.ms_per_record, f, 0.0),
        }
    }

    fn memory_gb(&self, function: &str) -> f64 {
        Self::get(&self.memory_mb, function, 128.0) / 1024.0
    }

    /// How often, per wearer and second, a state put moves the wearer's entry in the
    /// detector's index (`vigil_domain::alerts::check_to_store`): the entry is kept
    /// while it is more than half the no-data threshold ahead, so routine uploads move
    /// it every ⌈threshold / 2 / interval⌉ uploads (every other at 5 minutes and 15).
    pub fn check_moves_per_wearer_s(&self) -> f64 {
        let uploads_between = (self.no_data_min * 60.0 / 2.0 / self.upload_every_s).ceil().max(1.0);
        1.0 / (uploads_between * self.upload_every_s)
    }

    /// Checks the inputs a model divides by or scales with; the error names the field.
    ///
    /// # Errors
    /// The first field out of range.
    pub fn check(&self) -> Result<(), String> {
        let positive = [
            ("wearers", self.wearers),
            ("upload_every_s", self.upload_every_s),
            ("no_data_min", self.no_data_min),
            ("reading_interval_s", self.reading_interval_s),
            ("record_bytes", self.record_bytes),
            ("shard_utilisation", self.shard_utilisation),
            ("offline_detector_every_min", self.offline_detector_every_min),
            ("warehouse_load_every_min", self.warehouse_load_every_min),
            ("daily_every_min", self.daily_every_min),
        ];
        for (name, value) in positive {
            if !(value.is_finite() && value > 0.0) {
                return Err(format!("{name} must be a number above 0 (got {value})"));
            }
        }
        if self.shard_utilisation > 1.0 {
            return Err(format!("shard_utilisation must be at most 1 (got {})", self.shard_utilisation));
        }
        for f in STREAM_FUNCTIONS {
            if Self::get(&self.batch_size, f, 0.0) < 1.0 {
                return Err(format!("batch_size.{f} must be at least 1"));
            }
            if Self::get(&self.parallelization_factor, f, 0.0) < 1.0 {
                return Err(format!("parallelization_factor.{f} must be at least 1"));
            }
        }
        Ok(())
    }
}

/// One line of a bill.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    pub service: &'static str,
    pub item: String,
    pub monthly_usd: f64,
    /// False for SMS and calls: the target leaves them out.
    pub in_target: bool,
}

/// A month's bill for one design.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bill {
    pub design: &'static str,
    pub readings_per_month: f64,
    pub lines: Vec<Line>,
}

impl Bill {
    pub fn total(&self) -> f64 {
        self.lines.iter().map(|l| l.monthly_usd).sum()
    }

    /// The total the target is about: SMS and calls left out.
    pub fn total_in_target(&self) -> f64 {
        self.lines.iter().filter(|l| l.in_target).map(|l| l.monthly_usd).sum()
    }

    pub fn per_million(&self, usd: f64) -> f64 {
        usd / (self.readings_per_month / 1e6)
    }

    /// The most expensive line the target counts.
    pub fn largest_in_target(&self) -> Option<&Line> {
        self.lines.iter().filter(|l| l.in_target).max_by(|a, b| a.monthly_usd.total_cmp(&b.monthly_usd))
    }

    /// Every line of `service`, summed.
    pub fn service_total(&self, service: &str) -> f64 {
        // + 0.0: an empty sum is -0.0.
        self.lines.iter().filter(|l| l.service == service).map(|l| l.monthly_usd).sum::<f64>() + 0.0
    }

    fn add(&mut self, service: &'static str, item: impl Into<String>, monthly_usd: f64) {
        self.lines.push(Line { service, item: item.into(), monthly_usd, in_target: true });
    }

    fn add_excluded(&mut self, service: &'static str, item: impl Into<String>, monthly_usd: f64) {
        self.lines.push(Line { service, item: item.into(), monthly_usd, in_target: false });
    }
}

/// How one stream function is invoked at the modelled load.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Batching {
    pub records_per_invocation: f64,
    /// Invocations per second, all shards.
    pub invocations_per_s: f64,
    pub billed_ms: f64,
    /// Concurrent invocations the mapping may run (shards × parallelization factor).
    pub max_concurrency: f64,
    /// Average concurrent invocations (invocations/s × billed seconds).
    pub average_concurrency: f64,
    /// The function cannot keep up: busier than its mapping's concurrency allows.
    pub overloaded: bool,
}

/// A stream function's event source mapping and what its batches cost in time.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapping {
    pub window_s: f64,
    pub fan_out: bool,
    pub push_ms: f64,
    pub batch_size: f64,
    pub parallelization: f64,
    pub ms_per_batch: f64,
    pub ms_per_record: f64,
}

/// How a mapping batches `per_shard` records a second on each of `shards` shards.
///
/// With a batching window (or, with none, on shared throughput, where Lambda polls each
/// shard about once a second) a batch holds what arrived in the window, up to the batch
/// size. A fan-out consumer with no window pushes what arrived every `push_ms`, split
/// among the shard's `parallelization` lanes; and a lane busy with a batch takes what
/// arrived meanwhile: a batch of `n` records takes `base + per × n` ms, so
/// `n = x·base / (1 − x·per)` with `x` the records per ms per lane. The larger of the two,
/// at least one record a batch.
pub fn batching(per_shard: f64, shards: f64, m: &Mapping) -> Batching {
    let mut overloaded = false;
    let n = if m.fan_out && m.window_s == 0.0 {
        let x = per_shard / m.parallelization / 1000.0;
        let free = 1.0 - x * m.ms_per_record;
        if free <= 0.0 {
            overloaded = true;
            m.batch_size
        } else {
            (x * m.ms_per_batch / free).max(x * m.push_ms)
        }
    } else {
        per_shard * m.window_s.max(1.0)
    };
    let n = n.clamp(1.0, m.batch_size);
    let busy_ms = m.ms_per_batch + m.ms_per_record * n;
    // Lambda bills whole milliseconds.
    let billed_ms = busy_ms.ceil();
    let invocations_per_s = if per_shard > 0.0 { per_shard / n * shards } else { 0.0 };
    let max_concurrency = shards * m.parallelization;
    let average_concurrency = invocations_per_s * busy_ms / 1000.0;
    // A lane that only just keeps up is busy all the time: 1 to rounding.
    overloaded |= average_concurrency > max_concurrency * (1.0 + 1e-9);
    Batching {
        records_per_invocation: n,
        invocations_per_s,
        billed_ms,
        max_concurrency,
        average_concurrency,
        overloaded,
    }
}

/// Shards for `records_per_s` records of `bytes_per_s` in total, read by `shared_readers`
/// shared-throughput consumers, each limit used at most to `utilisation`.
pub fn shards(records_per_s: f64, bytes_per_s: f64, shared_readers: f64, utilisation: f64, prices: &Prices) -> f64 {
    let q = &prices.quotas;
    let needed = (bytes_per_s / q.kinesis_shard_write_bytes_per_second)
        .max(records_per_s / q.kinesis_shard_write_records_per_second)
        .max(bytes_per_s * shared_readers / q.kinesis_shard_read_bytes_per_second);
    (needed / utilisation).ceil().max(1.0)
}

/// API Gateway HTTP API, `requests` a month, with its volume tier.
pub fn http_api_usd(requests: f64, p: &Prices) -> f64 {
    let first = requests.min(300e6);
    first * p.http_api_request_first_300m + (requests - first).max(0.0) * p.http_api_request_after_300m
}

fn lambda_usd(invocations: f64, billed_ms: f64, memory_gb: f64, p: &Prices) -> f64 {
    invocations * p.lambda_request + invocations * billed_ms / 1000.0 * memory_gb * p.lambda_arm64_gb_second
}

/// What the stream carries and how the stream functions run on it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamLoad {
    pub records_per_s: f64,
    pub bytes_per_s: f64,
    pub shards: f64,
    pub fan_out_consumers: f64,
    pub functions: BTreeMap<String, Batching>,
}

/// The stream and its functions for Vigil (the alert path on fan-out if so set).
pub fn stream_load(i: &Inputs, p: &Prices) -> StreamLoad {
    let records_per_s = i.uploads_per_s();
    let bytes_per_s = records_per_s * i.record_bytes;
    let fan_out_consumers = STREAM_FUNCTIONS.iter().filter(|f| i.mapping(f).fan_out).count() as f64;
    let shared = STREAM_FUNCTIONS.len() as f64 - fan_out_consumers;
    let shards = shards(records_per_s, bytes_per_s, shared, i.shard_utilisation, p);
    let functions = STREAM_FUNCTIONS
        .iter()
        .map(|&f| (f.to_owned(), batching(records_per_s / shards, shards, &i.mapping(f))))
        .collect();
    StreamLoad { records_per_s, bytes_per_s, shards, fan_out_consumers, functions }
}

/// Vigil's monthly bill.
pub fn vigil(i: &Inputs, p: &Prices) -> Bill {
    let stream = stream_load(i, p);
    let mut bill = Bill { design: "Vigil", readings_per_month: i.readings_per_month(), lines: Vec::new() };
    front_door(&mut bill, i, p);
    let mut pooled = i.uploads_per_s() * SECONDS_PER_MONTH;
    let mut invocations = 0.0;
    for (f, b) in &stream.functions {
        let n = b.invocations_per_s * SECONDS_PER_MONTH;
        if POOLED_FUNCTIONS.contains(&f.as_str()) {
            pooled += n;
        } else {
            invocations += n;
        }
        let what = format!(
            "{f}: {} invocations of {:.0} records, {} ms, {} MB",
            count(n),
            b.records_per_invocation,
            b.billed_ms,
            i.memory_gb(f) * 1024.0
        );
        bill.add("Lambda", what, lambda_usd(n, b.billed_ms, i.memory_gb(f), p));
    }
    kinesis(&mut bill, &stream, i, p);
    if stream.fan_out_consumers > 0.0 {
        let hours = stream.fan_out_consumers * stream.shards * HOURS_PER_MONTH;
        let gb = stream.fan_out_consumers * stream.bytes_per_s * SECONDS_PER_MONTH / GB;
        bill.add(
            "Kinesis",
            format!("enhanced fan-out ({}): {} consumer-shard-hours", fan_out_functions(i).join(", "), count(hours)),
            hours * p.kinesis_efo_consumer_shard_hour,
        );
        bill.add("Kinesis", format!("enhanced fan-out data: {} GB", count(gb)), gb * p.kinesis_efo_gb);
    }
    invocations += the_rest(&mut bill, i, p, true);
    invocations += daily(&mut bill, i, p);
    cloudwatch(&mut bill, i, p, pooled, invocations);
    bill
}

/// daily-summary (Vigil only: the seed design had no daily picture): its runs, the
/// reads of each wearer's hourly check and day, the days it stores and their files,
/// and the daily messages by push. Returns its invocations.
fn daily(bill: &mut Bill, i: &Inputs, p: &Prices) -> f64 {
    let runs = HOURS_PER_MONTH * 60.0 / i.daily_every_min;
    let checks_per_day = 24.0 * 60.0 / i.daily_every_min;
    let wearer_days = i.wearers * DAYS_PER_MONTH;
    let memory_gb = i.memory_gb("daily-summary");
    let day_ms = i.daily_wait_ms_per_wearer_day + i.daily_cpu_ms_per_wearer_day * VCPU_GB / memory_gb;
    let billed_ms = wearer_days * (day_ms + checks_per_day * i.daily_ms_per_check) / 8.0;
    bill.add(
        "Lambda",
        format!("daily-summary: every {} min, {day_ms:.0} ms a wearer's day", i.daily_every_min),
        lambda_usd(runs, billed_ms / runs, memory_gb, p),
    );
    // Eventually consistent reads: half a unit per 4 KB.
    let half_units = |bytes: f64| 0.5 * (bytes / READ_UNIT_BYTES).ceil().max(1.0);
    let items_per_day = 86_400.0 / i.upload_every_s * i.vitals_items_per_upload;
    let per_wearer_day = checks_per_day * 0.5 // is the day stored?
        + 2.0 * half_units(items_per_day * (i.vitals_item_bytes + ITEM_OVERHEAD_BYTES)) // the day and the one before
        + half_units(60.0 * i.day_item_bytes) // the history for baselines and the message
        + checks_per_day * (half_units(i.profile_item_bytes) + 0.5); // the Scan, and the caregivers' records
    let rru = if i.dynamodb_provisioned {
        p.dynamodb_provisioned_rcu_hour / 3600.0 / PROVISIONED_UTILISATION
    } else {
        p.dynamodb_on_demand_read_unit
    };
    let wru = if i.dynamodb_provisioned {
        p.dynamodb_provisioned_wcu_hour / 3600.0 / PROVISIONED_UTILISATION
    } else {
        p.dynamodb_on_demand_write_unit
    };
    bill.add(
        "DynamoDB",
        format!("reads: daily-summary, {} units a wearer's day", count(per_wearer_day)),
        wearer_days * per_wearer_day * rru,
    );
    let messages = wearer_days * i.daily_messages_per_wearer_day;
    // A day and the one before recomputed (half the time changed), a message's claim and send.
    let writes = wearer_days * 1.5 * (i.day_item_bytes / WRITE_UNIT_BYTES).ceil() + messages * 2.0;
    bill.add("DynamoDB", "writes: days, daily message claims", writes * wru);
    let stored_gb = i.wearers * i.days_ttl_days * (i.day_item_bytes + ITEM_OVERHEAD_BYTES) / GB;
    bill.add(
        "DynamoDB",
        format!("storage: days, {} GB ({} days)", count(stored_gb), i.days_ttl_days),
        stored_gb * (p.dynamodb_storage_gb_month + p.dynamodb_pitr_gb_month),
    );
    // One file per local date (two: the day and the one before) and chunk of 256 wearers, each run.
    let files = runs * 2.0 * (i.wearers / checks_per_day / 256.0).ceil();
    bill.add("S3", format!("PUT: {} curated day files", count(files)), files * (p.s3_put + 2.0 * wru));
    bill.add("SNS", "mobile push: daily messages", messages * p.sns_mobile_push);
    runs
}

fn fan_out_functions(i: &Inputs) -> Vec<&'static str> {
    STREAM_FUNCTIONS.iter().copied().filter(|f| i.mapping(f).fan_out).collect()
}

/// The seed design at the same load: the same front door, stream (read by three
/// shared-throughput consumers), stores and warehouse; the three stream functions
/// replaced by an always-on EMR cluster running three Spark streaming jobs, and the
/// Kinesis Client Library's lease and checkpoint tables.
pub fn seed(i: &Inputs, p: &Prices) -> Bill {
    let seed_inputs = i.without_fan_out();
    let stream = stream_load(&seed_inputs, p);
    let mut bill = Bill { design: "seed (EMR)", readings_per_month: i.readings_per_month(), lines: Vec::new() };
    front_door(&mut bill, i, p);
    kinesis(&mut bill, &stream, i, p);
    let cluster = EmrCluster::for_shards(stream.shards);
    bill.add(
        "EMR",
        "primary node, m5.xlarge, always on",
        HOURS_PER_MONTH * (p.ec2_m5_xlarge_hour + p.emr_m5_xlarge_hour),
    );
    bill.add(
        "EMR",
        format!("{} core nodes, m5.2xlarge, always on", cluster.core_nodes),
        cluster.core_nodes * HOURS_PER_MONTH * (p.ec2_m5_2xlarge_hour + p.emr_m5_2xlarge_hour),
    );
    bill.add(
        "EMR",
        format!("EBS gp3, {} GB a node", EmrCluster::EBS_GB),
        (cluster.core_nodes + 1.0) * EmrCluster::EBS_GB * p.ebs_gp3_gb_month,
    );
    // KCL creates each application's lease table with 10 write and 10 read units, provisioned.
    bill.add(
        "DynamoDB",
        "checkpoints: 3 KCL lease tables, 10 WCU + 10 RCU each",
        3.0 * HOURS_PER_MONTH * 10.0 * (p.dynamodb_provisioned_wcu_hour + p.dynamodb_provisioned_rcu_hour),
    );
    // The seed's streaming job kept each wearer's latest state in an item of its own.
    let with_shadow = Inputs { shadow_writes_per_upload: SEED_SHADOW_WRITES_PER_UPLOAD, ..i.clone() };
    let invocations = the_rest(&mut bill, &with_shadow, p, false);
    cloudwatch(&mut bill, i, p, i.uploads_per_s() * SECONDS_PER_MONTH, invocations);
    bill
}

/// The seed design's cluster: each Spark streaming job holds one receiver core per
/// shard, as many cores again to process, and two for its driver; m5.2xlarge core
/// nodes have 8 vCPUs; at least two core nodes, so one failing leaves the jobs a node.
#[derive(Debug, Clone, PartialEq)]
pub struct EmrCluster {
    pub core_nodes: f64,
}

impl EmrCluster {
    pub const JOBS: f64 = 3.0;
    pub const EBS_GB: f64 = 64.0;

    pub fn for_shards(shards: f64) -> Self {
        let cores = Self::JOBS * (2.0 * shards + 2.0);
        Self { core_nodes: (cores / 8.0).ceil().max(2.0) }
    }
}

fn front_door(bill: &mut Bill, i: &Inputs, p: &Prices) {
    let uploads = i.uploads_per_s() * SECONDS_PER_MONTH;
    bill.add("API Gateway", format!("HTTP API: {} uploads", count(uploads)), http_api_usd(uploads, p));
    let gb = i.memory_gb("ingest-api");
    bill.add(
        "Lambda",
        format!("ingest-api: {} requests, {} ms, {} MB", count(uploads), i.ingest_ms_per_request, gb * 1024.0),
        lambda_usd(uploads, i.ingest_ms_per_request, gb, p),
    );
}

fn kinesis(bill: &mut Bill, stream: &StreamLoad, i: &Inputs, p: &Prices) {
    let shard_hours = stream.shards * HOURS_PER_MONTH;
    bill.add("Kinesis", format!("{} shards", stream.shards), shard_hours * p.kinesis_shard_hour);
    if i.stream_retention_hours > 24.0 {
        bill.add(
            "Kinesis",
            format!("retention {} days", i.stream_retention_hours / 24.0),
            shard_hours * p.kinesis_extended_retention_shard_hour,
        );
    }
    let units = stream.records_per_s * SECONDS_PER_MONTH * (i.record_bytes / PUT_PAYLOAD_UNIT_BYTES).ceil();
    bill.add("Kinesis", format!("{} PUT payload units", count(units)), units * p.kinesis_put_payload_unit);
}

/// Stores, alerting, the caregivers' side and the warehouse: the same in both
/// designs (`vigil`: with Vigil's stream functions' per-batch writes). Returns the
/// Lambda invocations it priced.
fn the_rest(bill: &mut Bill, i: &Inputs, p: &Prices, vigil: bool) -> f64 {
    let uploads = i.uploads_per_s() * SECONDS_PER_MONTH;
    let alerts = i.alerts_per_month();
    let raw_batches = if vigil {
        let stream = stream_load(i, p);
        stream.functions.get("raw-archiver").map_or(0.0, |b| b.invocations_per_s * SECONDS_PER_MONTH)
    } else {
        // Spark's micro-batches: one per shard every 10 seconds.
        stream_load(&i.without_fan_out(), p).shards * SECONDS_PER_MONTH / 10.0
    };
    let loads = HOURS_PER_MONTH * 60.0 / i.warehouse_load_every_min;
    let readings = i.readings_per_month();

    // DynamoDB, on demand.
    let wu = |bytes: f64| (bytes / WRITE_UNIT_BYTES).ceil().max(1.0);
    let ru = |bytes: f64| (bytes / READ_UNIT_BYTES).ceil().max(1.0);
    let (wru, rru) = if i.dynamodb_provisioned {
        let per_unit = |hourly: f64| hourly / 3600.0 / PROVISIONED_UTILISATION;
        (per_unit(p.dynamodb_provisioned_wcu_hour), per_unit(p.dynamodb_provisioned_rcu_hour))
    } else {
        (p.dynamodb_on_demand_write_unit, p.dynamodb_on_demand_read_unit)
    };
    let vitals_units = uploads * i.vitals_items_per_upload * i.vitals_write_units_per_item;
    bill.add(
        "DynamoDB",
        format!(
            "writes: vitals, {:.2} items of {:.2} WU per upload",
            i.vitals_items_per_upload, i.vitals_write_units_per_item
        ),
        vitals_units * wru,
    );
    bill.add(
        "DynamoDB",
        format!("writes: rule state, {} × {} WU per upload", i.state_writes_per_upload, wu(i.state_item_bytes)),
        uploads * i.state_writes_per_upload * wu(i.state_item_bytes) * wru,
    );
    if vigil {
        // The detector's index (keys only, one unit an entry): out and in when it moves.
        let moves = i.wearers * i.check_moves_per_wearer_s() * SECONDS_PER_MONTH;
        bill.add(
            "DynamoDB",
            format!("writes: the detector's index, 2 WU a move, {:.2} moves per upload", moves / uploads),
            2.0 * moves * wru,
        );
    }
    if i.shadow_writes_per_upload > 0.0 {
        bill.add(
            "DynamoDB",
            format!(
                "writes: wearer shadow, {} × {} WU per upload",
                i.shadow_writes_per_upload,
                wu(i.shadow_item_bytes)
            ),
            uploads * i.shadow_writes_per_upload * wu(i.shadow_item_bytes) * wru,
        );
    }
    bill.add(
        "DynamoDB",
        format!("writes: curated-files registry, {} files", count(raw_batches)),
        raw_batches * 2.0 * wru,
    );
    bill.add("DynamoDB", "writes: alerts, deliveries, escalation steps", alerts * i.write_units_per_alert * wru);
    bill.add(
        "DynamoDB",
        "reads: rule state (consistent), profiles (alert-processor, ingest-api's limits), devices",
        uploads
            * (ru(i.state_item_bytes)
                + 0.5 * ru(i.profile_item_bytes) * i.profile_reads_per_upload
                + 0.5 * ru(i.device_item_bytes) * i.device_reads_per_upload)
            * rru,
    );
    let care_requests = i.wearers * i.care_requests_per_wearer_day * DAYS_PER_MONTH;
    let detector_runs = HOURS_PER_MONTH * 60.0 / i.offline_detector_every_min;
    bill.add(
        "DynamoDB",
        "reads: caregivers' API, detector's index",
        (care_requests * i.care_read_units_per_request + detector_runs * i.detector_queries_per_run * 0.5) * rru,
    );
    let vitals_items = i.wearers * 86_400.0 / i.upload_every_s * i.vitals_items_per_upload * i.vitals_ttl_days;
    let shadow_bytes = if i.shadow_writes_per_upload > 0.0 { i.shadow_item_bytes + ITEM_OVERHEAD_BYTES } else { 0.0 };
    let stored_gb = (vitals_items * (i.vitals_item_bytes + ITEM_OVERHEAD_BYTES)
        + i.wearers
            * (i.state_item_bytes
                + i.profile_item_bytes
                + i.device_item_bytes
                + 3.0 * ITEM_OVERHEAD_BYTES
                + shadow_bytes)
        + alerts / DAYS_PER_MONTH * i.alerts_ttl_days * i.alert_storage_bytes)
        / GB;
    bill.add(
        "DynamoDB",
        format!("storage: {} GB ({} days of vitals)", count(stored_gb), i.vitals_ttl_days),
        stored_gb * p.dynamodb_storage_gb_month,
    );
    bill.add("DynamoDB", "point-in-time recovery", stored_gb * p.dynamodb_pitr_gb_month);

    // S3.
    let puts = raw_batches * 2.0 + loads;
    bill.add("S3", format!("PUT: {} (raw + curated per batch, manifests)", count(puts)), puts * p.s3_put);
    bill.add("S3", format!("GET: {} (COPY reads each curated file)", count(raw_batches)), raw_batches * p.s3_get);
    let per_day = readings / DAYS_PER_MONTH;
    let raw_standard = per_day * i.raw_bytes_per_reading * i.raw_standard_days.min(i.raw_retention_days) / GB;
    let raw_glacier = per_day * i.raw_bytes_per_reading * (i.raw_retention_days - i.raw_standard_days).max(0.0) / GB;
    let curated = per_day * i.curated_bytes_per_reading * i.curated_standard_days.min(i.curated_retention_days) / GB;
    let curated_glacier =
        per_day * i.curated_bytes_per_reading * (i.curated_retention_days - i.curated_standard_days).max(0.0) / GB;
    bill.add(
        "S3",
        format!("storage: raw {} GB Standard + {} GB Glacier IR", count(raw_standard), count(raw_glacier)),
        raw_standard * p.s3_standard_gb_month + raw_glacier * p.s3_glacier_ir_gb_month,
    );
    let transitions =
        raw_batches * (f64::from(u8::from(raw_glacier > 0.0)) + f64::from(u8::from(curated_glacier > 0.0)));
    if transitions > 0.0 {
        bill.add("S3", "lifecycle transitions to Glacier IR", transitions * p.s3_transition_to_glacier_ir);
    }
    bill.add(
        "S3",
        format!("storage: curated {} GB Standard + {} GB Glacier IR", count(curated), count(curated_glacier)),
        curated * p.s3_standard_gb_month + curated_glacier * p.s3_glacier_ir_gb_month,
    );

    // Alerting and the caregivers' side.
    bill.add("SNS", "mobile push", alerts * i.push_per_alert * p.sns_mobile_push);
    bill.add_excluded(
        "SNS",
        format!("SMS (US, {} parts a message; excluded from the target)", i.sms_parts_per_message),
        alerts * i.sms_per_alert * i.sms_parts_per_message * p.sms_message_part_us,
    );
    bill.add_excluded(
        "Voice",
        "escalation calls (US; excluded from the target)",
        alerts * i.calls_per_alert * i.call_minutes * p.voice_minute_us,
    );
    let small = alerts * (i.link_requests_per_alert + i.sms_replies_per_alert);
    // The volume tier counts every request of the account: these come after the uploads.
    let api_requests = care_requests + alerts * i.link_requests_per_alert;
    bill.add(
        "API Gateway",
        format!("HTTP API: {} caregivers' API and link requests", count(api_requests)),
        http_api_usd(uploads + api_requests, p) - http_api_usd(uploads, p),
    );
    let care_gb = i.memory_gb("care-api");
    bill.add(
        "Lambda",
        "care-api, ack-link, sms-reply",
        lambda_usd(care_requests, i.care_ms_per_request, care_gb, p)
            + lambda_usd(small, i.small_function_ms, care_gb, p),
    );
    bill.add(
        "Lambda",
        format!("offline-detector: every {} min, {} ms", i.offline_detector_every_min, i.offline_detector_ms_per_run),
        lambda_usd(detector_runs, i.offline_detector_ms_per_run, i.memory_gb("offline-detector"), p),
    );
    bill.add(
        "Lambda",
        format!("warehouse-loader: every {} min, waits {} s", i.warehouse_load_every_min, i.warehouse_load_s),
        lambda_usd(loads, i.warehouse_load_s * 1000.0, i.memory_gb("warehouse-loader"), p),
    );

    // The warehouse.
    let rpu_hours = loads * i.redshift_base_rpu * i.warehouse_load_s.max(REDSHIFT_MINIMUM_S) / 3600.0;
    bill.add(
        "Redshift Serverless",
        format!("{} RPU-hours ({} RPU, {} loads)", count(rpu_hours), i.redshift_base_rpu, count(loads)),
        rpu_hours * p.redshift_serverless_rpu_hour,
    );
    let warehouse_gb = readings * i.warehouse_months * i.warehouse_bytes_per_reading / GB;
    bill.add(
        "Redshift Serverless",
        format!("storage: {} GB ({} months of readings)", count(warehouse_gb), i.warehouse_months),
        warehouse_gb * p.redshift_managed_storage_gb_month,
    );
    care_requests + small + detector_runs + loads
}

/// The CloudWatch lines, for `pooled` invocations of [`POOLED_FUNCTIONS`] (ingest-api's
/// among them, in either design) and `invocations` of the others.
fn cloudwatch(bill: &mut Bill, i: &Inputs, p: &Prices, pooled: f64, invocations: f64) {
    let requests = i.uploads_per_s() * SECONDS_PER_MONTH + i.wearers * i.care_requests_per_wearer_day * DAYS_PER_MONTH;
    let functions_gb = (pooled * i.pooled_log_bytes_per_invocation + invocations * i.log_bytes_per_invocation) / GB;
    let access_gb = requests * i.access_log_bytes_per_request / GB;
    bill.add(
        "CloudWatch",
        format!(
            "logs ingested: functions, {} GB ({} invocations pooled, {} not)",
            count(functions_gb),
            count(pooled),
            count(invocations)
        ),
        functions_gb * p.cloudwatch_logs_ingested_gb,
    );
    bill.add(
        "CloudWatch",
        format!(
            "logs ingested: API access log (Infrequent Access), {} GB ({} requests)",
            count(access_gb),
            count(requests)
        ),
        access_gb * p.cloudwatch_logs_infrequent_access_ingested_gb,
    );
    bill.add(
        "CloudWatch",
        format!("logs stored ({} months)", i.log_retention_months),
        (functions_gb + access_gb) * i.log_retention_months * i.log_storage_ratio * p.cloudwatch_logs_stored_gb_month,
    );
    bill.add(
        "CloudWatch",
        format!("{} custom metrics (EMF)", i.custom_metrics),
        i.custom_metrics * p.cloudwatch_custom_metric_month,
    );
}

/// A count for a line's label: 4.38 B, 12.3 M, 4,380.
pub fn count(n: f64) -> String {
    if n >= 1e9 {
        format!("{:.2} B", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.1} M", n / 1e6)
    } else if n >= 100.0 {
        thousands(n.round() as u64)
    } else {
        format!("{n:.1}")
    }
}

/// 1234567 → "1,234,567".
pub fn thousands(n: u64) -> String {
    let text = n.to_string();
    let mut out = String::new();
    for (k, c) in text.chars().enumerate() {
        if k > 0 && (text.len() - k).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// What a fleet needs, and the first limit it meets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Capacity {
    pub wearers: f64,
    pub uploads_per_s: f64,
    pub shards: f64,
    pub fan_out_consumers: f64,
    /// Per function: average concurrent invocations, and the most the mapping allows.
    pub concurrency: BTreeMap<String, (f64, f64)>,
    /// DynamoDB write units per second, all tables.
    pub write_units_per_s: f64,
    /// The monthly DynamoDB throughput bill, on demand and provisioned (at the utilisation).
    pub dynamodb_on_demand_usd: f64,
    pub dynamodb_provisioned_usd: f64,
    /// Each limit's use, highest first: (what, used / limit).
    pub limits: Vec<(String, f64)>,
    /// Stack settings the fleet needs above their defaults: (setting, needed, default).
    pub settings: Vec<(&'static str, f64, f64)>,
}

impl Capacity {
    /// The mode that costs less for this steady load.
    pub fn dynamodb_mode(&self) -> &'static str {
        if self.dynamodb_provisioned_usd < self.dynamodb_on_demand_usd { "provisioned" } else { "on-demand" }
    }
}

/// Stack settings (infra) that are limits too: their defaults.
#[derive(Debug, Clone)]
pub struct StackDefaults {
    pub api_rate_limit: f64,
    pub ingest_concurrency: f64,
    pub shards: f64,
}

impl StackDefaults {
    /// `DEFAULT_SETTINGS` in infra/lib/vigil-stack.ts.
    pub const DEPLOYED: Self = Self { api_rate_limit: 200.0, ingest_concurrency: 50.0, shards: 2.0 };
}

/// The capacity `i` needs, from the same model as the bill.
pub fn capacity(i: &Inputs, p: &Prices, stack: &StackDefaults) -> Capacity {
    let stream = stream_load(i, p);
    let uploads_per_s = i.uploads_per_s();
    let mut concurrency: BTreeMap<String, (f64, f64)> =
        stream.functions.iter().map(|(f, b)| (f.clone(), (b.average_concurrency, b.max_concurrency))).collect();
    let ingest = uploads_per_s * i.ingest_ms_per_request / 1000.0;
    concurrency.insert("ingest-api".to_owned(), (ingest, stack.ingest_concurrency));
    let wu = |bytes: f64| (bytes / WRITE_UNIT_BYTES).ceil().max(1.0);
    let ru = |bytes: f64| (bytes / READ_UNIT_BYTES).ceil().max(1.0);
    let vitals_wu = uploads_per_s * i.vitals_items_per_upload * i.vitals_write_units_per_item;
    let state_wu = uploads_per_s * i.state_writes_per_upload * wu(i.state_item_bytes)
        + 2.0 * i.wearers * i.check_moves_per_wearer_s();
    let write_units_per_s = vitals_wu + state_wu + uploads_per_s * i.shadow_writes_per_upload * wu(i.shadow_item_bytes);
    let read_units_per_s = uploads_per_s
        * (ru(i.state_item_bytes)
            + 0.5 * ru(i.profile_item_bytes) * i.profile_reads_per_upload
            + 0.5 * ru(i.device_item_bytes) * i.device_reads_per_upload);
    let dynamodb_on_demand_usd = (write_units_per_s * p.dynamodb_on_demand_write_unit
        + read_units_per_s * p.dynamodb_on_demand_read_unit)
        * SECONDS_PER_MONTH;
    let dynamodb_provisioned_usd = (write_units_per_s * p.dynamodb_provisioned_wcu_hour
        + read_units_per_s * p.dynamodb_provisioned_rcu_hour)
        / PROVISIONED_UTILISATION
        * HOURS_PER_MONTH;
    let q = &p.quotas;
    let lambda_total: f64 = concurrency.values().map(|(average, _)| average).sum();
    let mut limits = vec![
        ("API Gateway account throttle (requests/s)".to_owned(), uploads_per_s / q.http_api_requests_per_second),
        ("stack setting apiRateLimit (default 200/s)".to_owned(), uploads_per_s / stack.api_rate_limit),
        ("stack setting ingestConcurrency (default 50)".to_owned(), ingest / stack.ingest_concurrency),
        ("stack setting shards (default 2)".to_owned(), stream.shards / stack.shards),
        ("Kinesis shards per account".to_owned(), stream.shards / q.kinesis_shards),
        ("Lambda concurrency per account".to_owned(), lambda_total / q.lambda_concurrency),
        (
            "DynamoDB on-demand writes per table (vitals)".to_owned(),
            vitals_wu / q.dynamodb_on_demand_table_write_units_per_second,
        ),
        (
            "DynamoDB on-demand writes per table (rule state)".to_owned(),
            state_wu / q.dynamodb_on_demand_table_write_units_per_second,
        ),
        (
            "DynamoDB provisioned writes per account (at 70 %)".to_owned(),
            write_units_per_s / PROVISIONED_UTILISATION / q.dynamodb_account_provisioned_write_units,
        ),
    ];
    for (f, b) in &stream.functions {
        limits.push((format!("{f} concurrency on its mapping"), b.average_concurrency / b.max_concurrency));
    }
    limits.sort_by(|a, b| b.1.total_cmp(&a.1));
    let settings = [
        ("apiRateLimit", uploads_per_s.ceil(), stack.api_rate_limit),
        ("ingestConcurrency", ingest.ceil(), stack.ingest_concurrency),
        ("shards", stream.shards, stack.shards),
    ]
    .into_iter()
    .filter(|(_, needed, default)| needed > default)
    .collect();
    Capacity {
        settings,
        wearers: i.wearers,
        uploads_per_s,
        shards: stream.shards,
        fan_out_consumers: stream.fan_out_consumers,
        concurrency,
        write_units_per_s,
        dynamodb_on_demand_usd,
        dynamodb_provisioned_usd,
        limits,
    }
}

/// The utilisation provisioned capacity is priced at (auto scaling's usual 70 % target).
pub const PROVISIONED_UTILISATION: f64 = 0.7;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::float_cmp, reason = "tests fail loudly; exact figures are meant")]
    use super::*;

    fn prices() -> Prices {
        Prices::list().unwrap()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-6 * b.abs().max(1.0)
    }

    #[test]
    fn a_hundred_thousand_wearers_uploading_every_minute_by_hand() {
        let i = Inputs { urgent_uploads_per_wearer_day: 0.0, ..Inputs::from_declarations().unwrap() };
        // 100,000 / 60 s = 1,666.67 uploads/s; 730 h = 2,628,000 s: 4.38 billion a month.
        let uploads = 4_380_000_000.0;
        assert!(close(i.uploads_per_s() * SECONDS_PER_MONTH, uploads));
        // 100,000 / 5 s × 2,628,000 s = 52.56 billion readings.
        assert!(close(i.readings_per_month(), 52_560_000_000.0));
        // API: 300 M × $1.00/M + 4,080 M × $0.90/M = $300 + $3,672 = $3,972.
        assert!(close(http_api_usd(uploads, &prices()), 3_972.0));
        let bill = vigil(&i, &prices());
        // ingest-api: 4.38 B × $0.20/M = $876, plus 4.38 B × 15 ms × 0.25 GB × $0.0000133334 = $219.00.
        let ingest = bill.lines.iter().find(|l| l.item.starts_with("ingest-api")).unwrap();
        assert!(close(ingest.monthly_usd, 876.0 + 4.38e9 * 0.015 * 0.25 * 0.000_013_333_4));
        // Vitals: a minute's 12 readings cross a half-hour span boundary from 11 of 360
        // phases, so 1 + 11/360 items × 1 WU per upload: 4.51 B WU × $0.625/M = $2,821.40.
        let vitals = bill.lines.iter().find(|l| l.item.starts_with("writes: vitals")).unwrap();
        assert!(close(vitals.monthly_usd, 4.38e9 * (1.0 + 11.0 / 360.0) * 0.625e-6));
        // Shards: 1,666.67 × 2,300 B = 3.83 MB/s: 3.66 shards' writes (1 MiB/s each), and
        // as much for two shared readers (2 MiB/s a shard); at 50 %, 7.31 → 8 shards.
        assert_eq!(i.record_bytes, 2_300.0);
        let stream = stream_load(&i, &prices());
        assert_eq!(stream.shards, 8.0);
        // 8 shards × 730 h × ($0.015 + $0.020 retention) = $204.40.
        assert!(close(bill.service_total("Kinesis") - kinesis_put_and_fan_out(&bill), 204.4));
        // The total is the sum of the lines, and SMS and calls are outside the target.
        let sum: f64 = bill.lines.iter().map(|l| l.monthly_usd).sum();
        assert!(close(bill.total(), sum));
        assert!(bill.total_in_target() < bill.total());
        assert!(bill.lines.iter().filter(|l| !l.in_target).all(|l| l.service == "SNS" || l.service == "Voice"));
    }

    fn kinesis_put_and_fan_out(bill: &Bill) -> f64 {
        bill.lines
            .iter()
            .filter(|l| l.service == "Kinesis" && (l.item.contains("PUT") || l.item.contains("fan-out")))
            .map(|l| l.monthly_usd)
            .sum()
    }

    fn mapping(
        window_s: f64,
        fan_out: bool,
        push_ms: f64,
        batch_size: f64,
        lanes: f64,
        base: f64,
        per: f64,
    ) -> Mapping {
        Mapping {
            window_s,
            fan_out,
            push_ms,
            batch_size,
            parallelization: lanes,
            ms_per_batch: base,
            ms_per_record: per,
        }
    }

    #[test]
    fn fan_out_with_no_window_takes_what_arrived_while_the_lane_worked_or_since_the_last_push() {
        // 200 records/s on a shard, one lane, 15 ms + 0.6 ms a record, pushes at once:
        // x = 0.2 records/ms, n = 0.2 × 15 / (1 − 0.2 × 0.6) = 3 / 0.88 = 3.41 records;
        // 15 + 0.6 × 3.41 = 17.05 → 18 ms billed.
        let b = batching(200.0, 1.0, &mapping(0.0, true, 0.0, 100.0, 1.0, 15.0, 0.6));
        assert!(close(b.records_per_invocation, 3.0 / 0.88));
        assert_eq!(b.billed_ms, 18.0);
        assert!(close(b.invocations_per_s, 200.0 / (3.0 / 0.88)));
        assert!(!b.overloaded);
        // Pushed every 70 ms over 4 lanes: 238 records/s → 238 × 0.07 / 4 = 4.165 a batch
        // (a busy lane would gather only 0.93); 15 + 2.5 → 18 ms.
        let pushed = batching(238.0, 7.0, &mapping(0.0, true, 70.0, 100.0, 4.0, 15.0, 0.6));
        assert!(close(pushed.records_per_invocation, 4.165));
        assert_eq!(pushed.billed_ms, 18.0);
        assert_eq!(pushed.max_concurrency, 28.0);
        // Two records a second: one record a batch, each invoked on its own.
        let quiet = batching(2.0, 3.0, &mapping(0.0, true, 70.0, 100.0, 1.0, 15.0, 0.6));
        assert_eq!((quiet.records_per_invocation, quiet.invocations_per_s), (1.0, 6.0));
        // Faster than a lane can go: overloaded, at full batches.
        let flood = batching(2_000.0, 1.0, &mapping(0.0, true, 70.0, 100.0, 1.0, 15.0, 0.6));
        assert!(flood.overloaded);
        assert_eq!(flood.records_per_invocation, 100.0);
    }

    #[test]
    fn a_batching_window_fills_batches_up_to_the_batch_size() {
        // 240 records/s, a 30 s window: 7,200 arrive, batches of 1,000 → 0.24 invocations/s.
        let b = batching(240.0, 1.0, &mapping(30.0, false, 70.0, 1_000.0, 1.0, 80.0, 0.05));
        assert_eq!(b.records_per_invocation, 1_000.0);
        assert!(close(b.invocations_per_s, 0.24));
        assert_eq!(b.billed_ms, 130.0);
        // No window on shared throughput: Lambda polls about once a second.
        let polled = batching(40.0, 2.0, &mapping(0.0, false, 70.0, 100.0, 1.0, 10.0, 0.0));
        assert_eq!((polled.records_per_invocation, polled.invocations_per_s), (40.0, 2.0));
    }

    #[test]
    fn shards_follow_the_tightest_limit_at_the_utilisation() {
        let p = prices();
        // 900 small records/s: the records limit (1,000/s) at 50 % → 2 shards.
        assert_eq!(shards(900.0, 900.0 * 100.0, 2.0, 0.5, &p), 2.0);
        // 3 MiB/s written, 3 shared readers: reads need 4.5 shards, writes 3 → 9 at 50 %.
        assert_eq!(shards(100.0, 3.0 * 1_048_576.0, 3.0, 0.5, &p), 9.0);
        assert_eq!(shards(0.0, 0.0, 2.0, 0.5, &p), 1.0);
    }

    #[test]
    fn the_seed_design_replaces_the_stream_functions_with_a_cluster_that_grows_with_shards() {
        assert_eq!(EmrCluster::for_shards(1.0).core_nodes, 2.0);
        // 10 shards: 3 jobs × (20 + 2) cores = 66 → 9 nodes of 8 vCPUs.
        assert_eq!(EmrCluster::for_shards(10.0).core_nodes, 9.0);
        let i = Inputs::from_declarations().unwrap();
        let seed = seed(&i, &prices());
        assert!(seed.lines.iter().any(|l| l.service == "EMR"));
        assert!(!seed.lines.iter().any(|l| STREAM_FUNCTIONS.iter().any(|f| l.item.starts_with(f))));
        assert!(!seed.lines.iter().any(|l| l.item.contains("fan-out")));
        let primary = seed.lines.iter().find(|l| l.item.starts_with("primary")).unwrap();
        assert!(close(primary.monthly_usd, 730.0 * (0.192 + 0.048)));
    }

    #[test]
    fn batching_uploads_longer_cuts_the_requests_and_the_bill_per_reading() {
        let p = prices();
        let every_minute = Inputs::from_declarations().unwrap();
        let every_five = Inputs { upload_every_s: 300.0, vitals_items_per_upload: 1.5, ..every_minute.clone() };
        let (a, b) = (vigil(&every_minute, &p), vigil(&every_five, &p));
        assert_eq!(a.readings_per_month, b.readings_per_month);
        assert!(b.service_total("API Gateway") < a.service_total("API Gateway") / 4.0);
        assert!(b.total_in_target() < a.total_in_target());
    }

    #[test]
    fn the_functions_invoked_once_an_upload_log_their_pooled_bytes_and_the_others_a_line_each() {
        let p = prices();
        let i = Inputs { upload_every_s: 300.0, ..Inputs::from_declarations().unwrap() };
        let logs = |i: &Inputs| vigil(i, &p).service_total("CloudWatch");
        let a_line_each = Inputs { pooled_log_bytes_per_invocation: i.log_bytes_per_invocation, ..i.clone() };
        let without = Inputs { pooled_log_bytes_per_invocation: 0.0, ..i.clone() };
        let none_pooled = Inputs { log_bytes_per_invocation: 0.0, ..without.clone() };
        // ingest-api's invocations (one an upload) and alert-processor's.
        let alert_processor = stream_load(&i, &p).functions["alert-processor"].invocations_per_s;
        let pooled = (i.uploads_per_s() + alert_processor) * SECONDS_PER_MONTH;
        let per_gb = p.cloudwatch_logs_ingested_gb
            + i.log_retention_months * i.log_storage_ratio * p.cloudwatch_logs_stored_gb_month;
        let saved = pooled * (i.log_bytes_per_invocation - i.pooled_log_bytes_per_invocation) / GB * per_gb;
        assert!(close(logs(&a_line_each) - logs(&i), saved), "{} {}", logs(&a_line_each) - logs(&i), saved);
        // The other functions still write a line per invocation.
        assert!(logs(&without) > logs(&none_pooled));
    }

    #[test]
    fn the_detectors_index_moves_every_few_uploads_as_check_to_store_keeps_it() {
        let i = Inputs::from_declarations().unwrap();
        assert_eq!(i.no_data_min, 15.0);
        // As vigil_domain's test of check_to_store counts them: every other upload at
        // 5 minutes, every 8th at 1 minute, every one at 10.
        for (every_s, between) in [(300.0, 2.0), (60.0, 8.0), (600.0, 1.0)] {
            let i = Inputs { upload_every_s: every_s, ..i.clone() };
            assert!(close(i.check_moves_per_wearer_s(), 1.0 / (between * every_s)), "{every_s}");
        }
        let p = prices();
        let at_five = Inputs { upload_every_s: 300.0, ..i.clone() };
        let index = |i: &Inputs| {
            vigil(i, &p)
                .lines
                .iter()
                .filter(|l| l.item.contains("detector's index, 2 WU"))
                .map(|l| l.monthly_usd)
                .sum::<f64>()
        };
        let moves = at_five.wearers * SECONDS_PER_MONTH / 600.0;
        assert!(close(index(&at_five), 2.0 * moves * p.dynamodb_on_demand_write_unit));
        assert_eq!(seed(&at_five, &p).lines.iter().filter(|l| l.item.contains("2 WU a move")).count(), 0);
    }

    #[test]
    fn capacity_names_the_first_limit_and_the_cheaper_dynamodb_mode() {
        let p = prices();
        let at = |wearers: f64| {
            capacity(&Inputs { wearers, ..Inputs::from_declarations().unwrap() }, &p, &StackDefaults::DEPLOYED)
        };
        let (small, large) = (at(10_000.0), at(1_000_000.0));
        assert!(large.shards > small.shards);
        // 1,000,000 / 60 s = 16,667 uploads/s: over API Gateway's 10,000/s account throttle,
        // and (first) 83× the stack's default stage limit of 200/s.
        assert!(large.limits[0].1 > 80.0 && large.limits[0].0.contains("apiRateLimit"));
        assert!(large.limits.iter().any(|(what, used)| what.contains("account throttle") && *used > 1.6));
        // A steady load costs less provisioned at 70 %: $0.00065/h / 0.7 per WU/s against
        // $0.625/M × 3,600 = $0.00225 per WU/s-hour on demand.
        assert_eq!(large.dynamodb_mode(), "provisioned");
    }

    #[test]
    fn inputs_out_of_range_are_named() {
        let i = Inputs { upload_every_s: 0.0, ..Inputs::from_declarations().unwrap() };
        assert_eq!(i.check().unwrap_err(), "upload_every_s must be a number above 0 (got 0)");
        let i = Inputs { shard_utilisation: 1.5, ..Inputs::from_declarations().unwrap() };
        assert!(i.check().unwrap_err().starts_with("shard_utilisation"));
        assert!(Inputs::from_declarations().unwrap().check().is_ok());
    }

    #[test]
    fn the_declarations_give_memory_and_mappings_and_the_alert_path_has_no_window() {
        let i = Inputs::from_declarations().unwrap();
        assert_eq!(i.memory_mb["ingest-api"], 256.0);
        assert_eq!(i.memory_mb["raw-archiver"], 1024.0);
        assert_eq!(i.batch_size["raw-archiver"], 1_000.0);
        assert_eq!(i.batching_window_s["alert-processor"], 0.0);
        assert_eq!(i.vitals_ttl_days, 30.0);
        // The warehouse's months are its loader's retention.
        let loader = vigil_local::declaration::Declaration::of("warehouse-loader").unwrap();
        assert_eq!(loader.environment["WAREHOUSE_RETENTION_DAYS"].default.as_deref(), Some("365"));
        assert_eq!(i.warehouse_months, 12.0);
    }

    #[test]
    fn daily_summarys_cpu_is_stretched_by_its_share_of_a_vcpu() {
        let daily = |memory_mb: f64| {
            let mut i = Inputs::from_declarations().unwrap();
            i.memory_mb.insert("daily-summary".into(), memory_mb);
            let bill = vigil(&i, &prices());
            let line = bill.lines.iter().find(|l| l.item.starts_with("daily-summary:")).unwrap().clone();
            (line.item, line.monthly_usd)
        };
        // 100 ms waiting + 13.8 ms of CPU at one vCPU, 7 times that at a seventh of one.
        let (one_vcpu, usd_one) = daily(1_769.0);
        let (seventh, usd_seventh) = daily(1_769.0 / 7.0);
        assert!(one_vcpu.ends_with("114 ms a wearer's day"), "{one_vcpu}");
        assert!(seventh.ends_with("197 ms a wearer's day"), "{seventh}");
        // The CPU costs the same GB-seconds at either size; the waiting costs 7 times more at one vCPU.
        assert!(usd_one > usd_seventh && usd_one < 7.0 * usd_seventh, "{usd_one} {usd_seventh}");
        assert_eq!(Inputs::from_declarations().unwrap().memory_mb["daily-summary"], 1_769.0);
    }

    #[test]
    fn counts_read_easily() {
        assert_eq!(count(4.38e9), "4.38 B");
        assert_eq!(count(12_345_678.0), "12.3 M");
        assert_eq!(count(4_380.0), "4,380");
        assert_eq!(count(7.0), "7.0");
    }
}
