//! Hostile records on the stream: records that are not JSON, random bytes, JSON
//! of another shape, an envelope of a newer version, an envelope over the record
//! limit, an envelope repeating a seq — put on a real stream (moto) with the SDK
//! between valid envelopes, and a valid record put twice. Each stream function,
//! behind its own local event source mapping, quarantines every hostile record
//! with its reason, processes every valid one, and its shard moves past them all:
//! nothing is retried, nothing goes to the failure destination.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

// The SDK's one Blob type (aws-smithy-types), as re-exported by a crate this one depends on.
use aws_sdk_s3::primitives::Blob;
use chrono::{TimeDelta, Utc};
use vigil_curated::Pseudonymizer;
use vigil_domain::Envelope;
use vigil_domain::alerts::Language;
use vigil_domain::care::WearerProfile;
use vigil_domain::envelope::MAX_RECORD_BYTES;
use vigil_domain::reading::Reading;
use vigil_domain::registry::DeviceLink;
use vigil_lambda::stream::StreamFunction;
use vigil_local::esm::{EventSourceMapping, FailedBatch, Lambda, Stats};
use vigil_local::provision::{Resources, provision};
use vigil_run::audit::{self, ReadingRef};
use vigil_run::pipeline::Env;

/// Kinesis' own limit on a record's data plus partition key.
const KINESIS_MAX_RECORD: usize = 1024 * 1024;

/// A string that must never reach a log line, though the hostile records carry it.
const CANARY: &str = "CANARY-HOSTILE-4c1d9e";

/// A wearer whose valid records raise an SOS; one whose only readings are in hostile
/// records (an SOS among them), so any alert or stored reading of theirs is a leak
/// of a hostile record into a store.
const GOOD: (&str, &str) = ("wearer-h1", "band-h1");
const BAD: (&str, &str) = ("wearer-h2", "band-h2");

fn reading(seq: u64, sos: bool) -> Reading {
    let mut r =
        Reading::at((Utc::now() - TimeDelta::seconds(60) + TimeDelta::milliseconds(seq as i64)).fixed_offset(), seq);
    r.heart_rate_bpm = Some(72);
    r.worn = Some(true);
    r.steps = Some(1);
    if sos {
        r.sos = Some(true);
    }
    r
}

fn envelope((wearer, device): (&str, &str), seqs: impl IntoIterator<Item = u64>, sos_at: Option<u64>) -> Vec<u8> {
    serde_json::to_vec(&Envelope {
        v: 1,
        batch_id: format!("{device}-b"),
        part: 0,
        parts: 1,
        device_id: device.into(),
        wearer_id: wearer.into(),
        app_version: "1.4.2".into(),
        received_at: Utc::now(),
        readings: seqs.into_iter().map(|s| reading(s, sos_at == Some(s))).collect(),
    })
    .unwrap()
}

/// One record to put: what it is, its bytes, and whether a function must quarantine it
/// (with a reason containing the given text).
struct Case {
    name: &'static str,
    data: Vec<u8>,
    quarantined: Option<&'static str>,
}

fn cases() -> Vec<Case> {
    let valid = |name, data| Case { name, data, quarantined: None };
    let hostile = |name, data, reason| Case { name, data, quarantined: Some(reason) };
    let first = envelope(GOOD, 1..=3, Some(3));
    let mut random = vec![0u8; 4096];
    let mut rng = fastrand::Rng::with_seed(15);
    rng.fill(&mut random);
    // A newer envelope: version 2 with a field version 1 does not know.
    let mut newer: serde_json::Value = serde_json::from_slice(&envelope(BAD, [1, 2], Some(2))).unwrap();
    newer["v"] = 2.into();
    newer["consent"] = serde_json::json!({"scope": CANARY});
    // Over the envelope limit, under Kinesis' own: readings until it is just over a megabyte.
    let mut n = 10_000;
    let big = loop {
        let big = envelope(BAD, 100..100 + n, Some(100));
        if big.len() > MAX_RECORD_BYTES {
            break big;
        }
        n += 500;
    };
    assert!(big.len() < KINESIS_MAX_RECORD - 64, "a record real Kinesis would take too: {} bytes", big.len());
    vec![
        valid("valid, with an SOS", first.clone()),
        hostile("not JSON", format!("\u{1}{CANARY} is not JSON {{").into_bytes(), "record is not an envelope"),
        hostile("random bytes", random, "record is not an envelope"),
        valid("valid", envelope(GOOD, 4..=6, None)),
        hostile("JSON array", b"[1,2,3]".to_vec(), "record is not an envelope"),
        hostile(
            "JSON of another shape",
            serde_json::to_vec(&serde_json::json!({"v": 1, "batch_id": "b", "part": CANARY, "wearer_id": BAD.0}))
                .unwrap(),
            "record is not an envelope",
        ),
        hostile("a newer envelope version", serde_json::to_vec(&newer).unwrap(), "envelope version 2"),
        valid("valid", envelope(GOOD, 7..=9, None)),
        hostile("an envelope over the record limit", big, "over the envelope limit"),
        hostile("an envelope repeating a seq", envelope(BAD, [20, 21, 20], Some(21)), "seq 20 appears twice"),
        valid("the first valid record again (a replay)", first),
        valid("valid", envelope(GOOD, 10..=12, None)),
    ]
}

/// Puts the cases in order on the stream's one shard; returns their sequence numbers.
async fn put(sdk: &aws_config::SdkConfig, stream: &str, cases: &[Case]) -> Vec<String> {
    let client = vigil_aws::sdk::kinesis(sdk);
    let mut sequence_numbers = Vec::new();
    for case in cases {
        let pk = if case.quarantined.is_some() { BAD.0 } else { GOOD.0 };
        let out = client
            .put_record()
            .stream_name(stream)
            .partition_key(pk)
            .data(Blob::new(case.data.clone()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("putting {}: {e:?}", case.name));
        sequence_numbers.push(out.sequence_number);
    }
    sequence_numbers
}

/// The quarantine objects of `function`: sequence number → reason.
async fn quarantined(sdk: &aws_config::SdkConfig, bucket: &str, function: &str) -> BTreeMap<String, String> {
    let s3 = vigil_aws::sdk::s3(sdk);
    let listed = s3.list_objects_v2().bucket(bucket).prefix(format!("quarantine/{function}/")).send().await.unwrap();
    let mut out = BTreeMap::new();
    for object in listed.contents() {
        let body = s3.get_object().bucket(bucket).key(object.key().unwrap()).send().await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body.body.collect().await.unwrap().into_bytes()).unwrap();
        assert_eq!(body["function"], function);
        out.insert(body["sequence_number"].as_str().unwrap().to_owned(), body["reason"].as_str().unwrap().to_owned());
    }
    out
}

/// Log lines, as the deployed functions' INFO level writes them, into memory.
#[derive(Clone, Default)]
pub struct Logs(pub Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Drives the whole stream through `function` once, with batches of 3 so hostile
/// records fall first, in the middle and last in batches.
async fn drain<F: StreamFunction>(
    sdk: &aws_config::SdkConfig,
    stream: &str,
    function: &F,
) -> (Stats, Vec<FailedBatch>) {
    let esm = EventSourceMapping::for_tests(stream, 3);
    let mut mapping = esm.start(sdk, Lambda(function), Vec::<FailedBatch>::new()).await.unwrap();
    let stats = mapping.run_until_idle(Duration::from_secs(120)).await.unwrap();
    (stats, mapping.destination().clone())
}

// One thread: the log capture below is this thread's subscriber, and every function
// runs on it.
#[tokio::test(flavor = "current_thread")]
async fn hostile_records_are_quarantined_by_every_stream_function_and_the_shard_moves_on() {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("info,aws_config=warn")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _logging = tracing::subscriber::set_default(subscriber);

    let sdk = vigil_local::endpoint::require().await;
    let resources = Resources { stream_shards: 1, ..Resources::unique("hostile") };
    provision(&sdk, &resources).await.unwrap();
    let key = [7u8; 32];
    let env = Env::for_resources(&resources, &hex::encode(key));
    let pseudonymizer = Pseudonymizer::new(&key).unwrap();
    for (wearer, device) in [GOOD, BAD] {
        let profile = WearerProfile {
            wearer_id: wearer.into(),
            name: "Hostile Test".into(),
            time_zone: "Europe/Madrid".into(),
            thresholds: Default::default(),
            caregivers: vec![vigil_testkit::caregiver("cg-1", "Ana", Language::Es, "+15555550142")],
            snoozes: Default::default(),
            escalation: Default::default(),
        };
        let band = DeviceLink {
            device_id: device.into(),
            wearer_id: wearer.into(),
            app_users: vec!["app-user-h".into()],
            time_zone: "Europe/Madrid".into(),
        };
        vigil_run::run::register_wearer(&sdk, &resources, &band, &profile).await.unwrap();
    }

    let cases = cases();
    let sequence_numbers = put(&sdk, &resources.stream, &cases).await;
    let expected: BTreeMap<String, (&str, &str)> = cases
        .iter()
        .zip(&sequence_numbers)
        .filter_map(|(c, s)| c.quarantined.map(|reason| (s.clone(), (c.name, reason))))
        .collect();

    let alert_processor = alert_processor::build(&env, &sdk).await.unwrap();
    let raw_archiver = raw_archiver::build(&env, &sdk).await.unwrap();
    let vitals_writer = vitals_writer::build(&env, &sdk).await.unwrap();
    // Boxed: the SDK's futures are large, and a debug build's test thread has a small stack.
    let drained = [
        (alert_processor::handler::FUNCTION, Box::pin(drain(&sdk, &resources.stream, &alert_processor)).await),
        (raw_archiver::handler::FUNCTION, Box::pin(drain(&sdk, &resources.stream, &raw_archiver)).await),
        (vitals_writer::handler::FUNCTION, Box::pin(drain(&sdk, &resources.stream, &vitals_writer)).await),
    ];

    for (function, (stats, failed)) in &drained {
        println!(
            "{function}: {} batches, {} records checkpointed, {} retries, {} to the failure destination",
            stats.batches_invoked, stats.records_succeeded, stats.retries, stats.records_to_destination
        );
        assert!(failed.is_empty(), "{function}: nothing goes to the failure destination: {failed:?}");
        assert_eq!(stats.records_to_destination, 0, "{function}");
        assert_eq!(stats.retries, 0, "{function}: no record is reported for retry: {stats:?}");
        assert_eq!(stats.records_succeeded, cases.len() as u64, "{function}: the shard moved past every record");
        assert!(stats.shards.iter().all(|s| s.pending_records == 0), "{function}: {stats:?}");

        let found = quarantined(&sdk, &resources.quarantine_bucket, function).await;
        for (seq, (name, reason)) in &expected {
            let got = found.get(seq).unwrap_or_else(|| panic!("{function} did not quarantine {name}: {found:?}"));
            assert!(got.contains(reason), "{function}, {name}: reason {got:?} should say {reason:?}");
            println!("{function}: {name} quarantined: {}", got.chars().take(100).collect::<String>());
        }
        assert_eq!(found.len(), expected.len(), "{function} quarantined only the hostile records: {found:?}");
    }

    // Every valid reading is stored, once; nothing of a hostile record is.
    let valid: HashSet<ReadingRef> = (1..=12).map(|s| (GOOD.1.to_owned(), s)).collect();
    let (curated, rows) = audit::curated_keys(&sdk, &resources.data_bucket).await.unwrap();
    let expected_keys: HashSet<String> = valid.iter().map(|r| audit::reading_key(&pseudonymizer, r)).collect();
    assert_eq!(curated, expected_keys, "raw-archiver curated exactly the valid readings");
    assert_eq!(rows, 15, "12 readings, and the replayed record's 3 again in a later batch (the warehouse merges)");
    let from = Utc::now() - TimeDelta::hours(1);
    let vitals =
        audit::vitals_readings(&sdk, &resources.vitals_table, [GOOD.0, BAD.0], from, Utc::now()).await.unwrap();
    assert_eq!(vitals, valid, "vitals-writer stored exactly the valid readings");
    let alerts = audit::alerts(&sdk, &resources.alerts_table).await.unwrap();
    let rules: Vec<(&str, &str)> = alerts.iter().map(|a| (a.wearer_id.as_str(), a.rule.as_str())).collect();
    assert_eq!(
        rules,
        [(GOOD.0, "sos")],
        "one SOS from the valid records (the replay raised none), none from hostile ones"
    );

    // The quarantine objects hold the records; the log lines do not.
    let logs = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    let poison_lines = logs.lines().filter(|l| l.contains("poison record quarantined")).count();
    assert_eq!(poison_lines, 3 * expected.len(), "one ERROR line per quarantined record and function");
    assert!(!logs.contains(CANARY), "a hostile record's content reached the logs:\n{logs}");
}
