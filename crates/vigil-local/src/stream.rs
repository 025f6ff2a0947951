//! Reading a whole stream back, shard by shard, from the oldest record: what
//! tests and the demo use to see exactly what reached Kinesis.

use aws_sdk_kinesis::types::ShardIteratorType;

/// One record as it sits on the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    pub shard_id: String,
    pub sequence_number: String,
    pub partition_key: String,
    pub data: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
#[error("reading stream {stream}: {message}")]
pub struct ReadError {
    pub stream: String,
    pub message: String,
}

/// Every record currently on the stream, in shard order then sequence order.
pub async fn read_all(client: &aws_sdk_kinesis::Client, stream: &str) -> Result<Vec<StoredRecord>, ReadError> {
    let err = |message: String| ReadError { stream: stream.to_owned(), message };
    let shards = client
        .list_shards()
        .stream_name(stream)
        .send()
        .await
        .map_err(|e| err(aws_sdk_kinesis::error::DisplayErrorContext(&e).to_string()))?;
    let mut records = Vec::new();
    for shard in shards.shards() {
        let shard_id = shard.shard_id();
        let mut iterator = client
            .get_shard_iterator()
            .stream_name(stream)
            .shard_id(shard_id)
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .map_err(|e| err(aws_sdk_kinesis::error::DisplayErrorContext(&e).to_string()))?
            .shard_iterator;
        while let Some(it) = iterator {
            let out = client
                .get_records()
                .shard_iterator(it)
                .limit(10_000)
                .send()
                .await
                .map_err(|e| err(aws_sdk_kinesis::error::DisplayErrorContext(&e).to_string()))?;
            let got = out.records();
            for r in got {
                records.push(StoredRecord {
                    shard_id: shard_id.to_owned(),
                    sequence_number: r.sequence_number().to_owned(),
                    partition_key: r.partition_key().unwrap_or_default().to_owned(),
                    data: r.data().as_ref().to_vec(),
                });
            }
            let caught_up = out.millis_behind_latest().unwrap_or(0) == 0;
            iterator = if got.is_empty() && caught_up { None } else { out.next_shard_iterator };
        }
    }
    Ok(records)
}
