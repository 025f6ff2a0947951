//! What a `vigil run` measures for the cost model, read back from the run's own stores
//! after it drained (`cost_inputs` in `--summary-json`): the records on the stream and
//! their bytes (the raw archive holds each exactly as received), the items of each
//! table and their DynamoDB sizes, and the messages sent by channel. Write units are derived from the item sizes (DynamoDB's
//! rules: 1 KB a unit), not asked of DynamoDB: `ReturnConsumedCapacity` would have to
//! be threaded through every adapter for the same figure.

use std::collections::HashMap;
use std::io::Read as _;

use anyhow::Context as _;
use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use vigil_domain::care::Channel;
use vigil_local::provision::Resources;

use crate::observe::Sent;

/// Items of one table and their total size (DynamoDB's item size, without its overhead).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Items {
    pub items: u64,
    pub bytes: u64,
    /// Write units one put of each item costs, summed.
    pub write_units: u64,
}

/// The run's measured cost inputs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    /// The fleet's upload and reading intervals (seconds) the figures were measured at.
    pub upload_interval_s: f64,
    pub reading_interval_s: f64,
    /// Records on the stream (lines of the raw archive; a redelivered batch counts again).
    pub stream_records: u64,
    /// Their bytes, as put on the stream.
    pub stream_bytes: u64,
    pub vitals: Items,
    pub state: Items,
    pub profiles: Items,
    pub devices: Items,
    /// Messages the provider accepted, by channel (calls: calls placed).
    pub sms: u64,
    pub push: u64,
    pub calls: u64,
}

/// Measures the run's stores in `resources` and the messages it `sent`.
///
/// # Errors
/// A store that cannot be read.
pub async fn measure(
    sdk: &SdkConfig,
    resources: &Resources,
    sent: &[Sent],
    fleet: &crate::fleet::FleetConfig,
) -> anyhow::Result<Measured> {
    let s3 = vigil_aws::sdk::s3(sdk);
    let bucket = &resources.data_bucket;
    let mut m = Measured {
        upload_interval_s: fleet.upload_interval_s as f64,
        reading_interval_s: fleet.reading_interval_s as f64,
        ..Measured::default()
    };
    // Not the objects' own sizes: a local run's batches are far smaller than a deployed
    // stream's, and gzip and Parquet compress a large batch much better.
    for key in objects(&s3, bucket, "raw/").await? {
        let body = s3.get_object().bucket(bucket).key(&key).send().await.with_context(|| format!("GetObject {key}"))?;
        let bytes = body.body.collect().await.with_context(|| format!("reading {key}"))?.into_bytes();
        let mut text = String::new();
        flate2::read::GzDecoder::new(&bytes[..]).read_to_string(&mut text).with_context(|| format!("gunzip {key}"))?;
        for line in text.lines() {
            let record: serde_json::Value = serde_json::from_str(line).with_context(|| format!("a line of {key}"))?;
            if let Some(data) = record.get("data") {
                m.stream_records += 1;
                m.stream_bytes += data.to_string().len() as u64;
            }
        }
    }
    let dynamodb = vigil_aws::sdk::dynamodb(sdk);
    m.vitals = items(&dynamodb, &resources.vitals_table).await?;
    m.state = items(&dynamodb, &resources.state_table).await?;
    m.profiles = items(&dynamodb, &resources.wearers_table).await?;
    m.devices = items(&dynamodb, &resources.devices_table).await?;
    for s in sent {
        match s.channel {
            Channel::Sms => m.sms += 1,
            Channel::Push => m.push += 1,
            Channel::Voice => m.calls += 1,
        }
    }
    Ok(m)
}

async fn objects(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut pages = s3.list_objects_v2().bucket(bucket).prefix(prefix).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.with_context(|| format!("ListObjectsV2 {bucket}/{prefix}"))?;
        for object in page.contents() {
            if let Some(key) = object.key() {
                out.push(key.to_owned());
            }
        }
    }
    Ok(out)
}

async fn items(dynamodb: &aws_sdk_dynamodb::Client, table: &str) -> anyhow::Result<Items> {
    let mut found = Items::default();
    // Small pages: the local endpoint answers a page of 1 MB slower than the SDK's attempt timeout.
    let mut pages = dynamodb.scan().table_name(table).limit(100).into_paginator().items().send();
    while let Some(item) = pages.next().await {
        let item = item.with_context(|| format!("Scan {table}"))?;
        let bytes = item_bytes(&item);
        found.items += 1;
        found.bytes += bytes;
        found.write_units += bytes.div_ceil(1024).max(1);
    }
    Ok(found)
}

/// DynamoDB's size of an item: each attribute's name and value; strings and binary by
/// their bytes, numbers by their significant digits ([`vigil_domain::vitals::Attr::size`]),
/// 1 byte for a boolean or null, 3 bytes for a list or map plus 1 a element.
pub fn item_bytes(item: &HashMap<String, AttributeValue>) -> u64 {
    item.iter().map(|(name, value)| name.len() as u64 + value_bytes(value)).sum()
}

fn value_bytes(value: &AttributeValue) -> u64 {
    use vigil_domain::vitals::Attr;
    let number = |n: &str| Attr::N(n.to_owned()).size() as u64;
    match value {
        AttributeValue::S(s) => s.len() as u64,
        AttributeValue::N(n) => number(n),
        AttributeValue::B(b) => b.as_ref().len() as u64,
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(v) => v.iter().map(|s| s.len() as u64).sum(),
        AttributeValue::Ns(v) => v.iter().map(|n| number(n)).sum(),
        AttributeValue::Bs(v) => v.iter().map(|b| b.as_ref().len() as u64).sum(),
        AttributeValue::L(v) => 3 + v.iter().map(|e| 1 + value_bytes(e)).sum::<u64>(),
        AttributeValue::M(m) => 3 + m.iter().map(|(k, e)| 1 + k.len() as u64 + value_bytes(e)).sum::<u64>(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_sizes_follow_dynamodbs_rules() {
        let item = HashMap::from([
            // 9 + 8
            ("wearer_id".to_owned(), AttributeValue::S("wearer-1".into())),
            // 7 + 2 ("12": trailing zeros are trimmed; 1 byte a two digits, plus 1)
            ("version".to_owned(), AttributeValue::N("120".into())),
            // 4 + 1
            ("worn".to_owned(), AttributeValue::Bool(true)),
            // 1 + 3 + (1 + 1 + 1)
            ("m".to_owned(), AttributeValue::M(HashMap::from([("a".to_owned(), AttributeValue::Bool(false))]))),
        ]);
        assert_eq!(item_bytes(&item), 17 + 9 + 5 + 7);
    }
}
