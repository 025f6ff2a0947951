//! decode_batch: stream order kept, poison quarantined, and records the
//! envelope's fast path declined counted apart.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on broken fixtures")]

use aws_lambda_events::event::kinesis::{KinesisEvent, KinesisEventRecord};
use chrono::{DateTime, Utc};
use vigil_domain::Envelope;
use vigil_domain::reading::Reading;
use vigil_lambda::stream::decode_batch;
use vigil_testkit::MemoryQuarantine;

fn envelope(seq: u64) -> Vec<u8> {
    let ts = DateTime::parse_from_rfc3339("2026-11-22T10:00:00+01:00").unwrap();
    let mut reading = Reading::at(ts, seq);
    reading.worn = Some(true);
    serde_json::to_vec(&Envelope {
        v: 1,
        batch_id: format!("b-{seq}"),
        part: 0,
        parts: 1,
        device_id: "band-0001".into(),
        wearer_id: "wearer-0001".into(),
        app_version: "1.4.2".into(),
        received_at: ts.with_timezone(&Utc),
        readings: vec![reading],
    })
    .unwrap()
}

fn record(seq: u64, data: Vec<u8>) -> KinesisEventRecord {
    let mut r = KinesisEventRecord::default();
    r.event_id = Some(format!("shardId-000000000001:{seq:056}"));
    r.kinesis.sequence_number = format!("{seq:056}");
    r.kinesis.data.0 = data;
    r
}

#[tokio::test]
async fn records_the_fast_path_declines_are_decoded_and_counted() {
    // The same envelope pretty-printed: valid, but not ingest's own layout.
    let pretty = serde_json::to_vec_pretty(&Envelope::decode(&envelope(2)).unwrap()).unwrap();
    let mut event = KinesisEvent::default();
    event.records =
        vec![record(1, envelope(1)), record(2, pretty), record(3, b"{\"v\":1}".to_vec()), record(4, envelope(4))];
    let quarantine = MemoryQuarantine::default();
    let batch = decode_batch(&event, "test", &quarantine).await;
    let seqs: Vec<u64> = batch.decoded.iter().map(|d| d.envelope.readings[0].seq).collect();
    assert_eq!(seqs, vec![1, 2, 4], "every valid envelope decoded, in stream order");
    assert_eq!((batch.decoded_slowly, batch.poison, batch.failed.len()), (1, 1, 0));
    assert_eq!(quarantine.records.lock().unwrap().len(), 1);
}
