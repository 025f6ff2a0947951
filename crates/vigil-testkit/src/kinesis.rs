//! Kinesis events as Lambda delivers them, built from envelopes, for the stream
//! functions' tests: one fixed shard, sequence numbers `{n:056}`, every record
//! arriving at [`ARRIVED_AT`], every envelope accepted at [`RECEIVED_AT`].

use aws_lambda_events::encodings::SecondTimestamp;
use aws_lambda_events::event::kinesis::{KinesisEvent, KinesisEventRecord};
use chrono::{DateTime, Utc};
use vigil_domain::{Envelope, Reading};

/// When ingest accepted every envelope built here.
pub const RECEIVED_AT: &str = "2026-11-22T10:00:00Z";
/// When every record built here reached the stream.
pub const ARRIVED_AT: &str = "2026-11-22T10:00:01Z";

/// An RFC 3339 instant in UTC.
pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// Record `n`'s sequence number.
pub fn seq(n: u64) -> String {
    format!("{n:056}")
}

/// The envelope ingest writes for `readings` from `wearer`'s band (`band-<wearer>`).
pub fn envelope(wearer: &str, readings: Vec<Reading>) -> Vec<u8> {
    serde_json::to_vec(&Envelope {
        v: 1,
        batch_id: "b".into(),
        part: 0,
        parts: 1,
        device_id: format!("band-{wearer}"),
        wearer_id: wearer.into(),
        app_version: "1.4.2".into(),
        received_at: at(RECEIVED_AT),
        readings,
    })
    .unwrap()
}

/// Record `n` of shard `shardId-000000000001` carrying `data`.
pub fn record(n: u64, data: Vec<u8>) -> KinesisEventRecord {
    let mut r = KinesisEventRecord::default();
    r.event_id = Some(format!("shardId-000000000001:{}", seq(n)));
    r.event_source = Some("aws:kinesis".into());
    r.kinesis.sequence_number = seq(n);
    r.kinesis.partition_key = "p".into();
    r.kinesis.data.0 = data;
    r.kinesis.approximate_arrival_timestamp = SecondTimestamp(at(ARRIVED_AT));
    r
}

/// A batch of `records`, as the event source mapping invokes the function with.
pub fn event(records: Vec<KinesisEventRecord>) -> KinesisEvent {
    let mut e = KinesisEvent::default();
    e.records = records;
    e
}
