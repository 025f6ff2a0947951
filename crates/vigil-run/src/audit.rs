//! After the pipeline has drained: what each store holds, checked against what
//! the API accepted. Every count is read back from the store itself (the objects
//! in the bucket, the items in the tables, the rows in the warehouse), not from
//! the functions' own counters.

use std::collections::HashSet;
use std::io::Read;

use anyhow::Context;
use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, TimeDelta, Utc};
use vigil_curated::Pseudonymizer;
use vigil_domain::ReadingId;
use vigil_domain::envelope::Envelope;
use vigil_domain::lifecycle::Outcome;

/// A reading as the audit names it: (device, seq).
pub type ReadingRef = (String, u64);

/// Distinct readings in the raw archive (every `raw/` object, gunzipped, each
/// line's record decoded as an envelope).
pub async fn raw_readings(sdk: &SdkConfig, bucket: &str) -> anyhow::Result<HashSet<ReadingRef>> {
    let mut found = HashSet::new();
    for key in list(sdk, bucket, "raw/").await? {
        let bytes = get(sdk, bucket, &key).await?;
        let mut text = String::new();
        flate2::read::GzDecoder::new(&bytes[..]).read_to_string(&mut text).with_context(|| format!("gunzip {key}"))?;
        for line in text.lines() {
            let record: serde_json::Value = serde_json::from_str(line).with_context(|| format!("a line of {key}"))?;
            // Records that are not envelopes (poison) are archived too; they hold no reading.
            let Some(data) = record.get("data") else { continue };
            let Ok(envelope) = Envelope::decode(data.to_string().as_bytes()) else { continue };
            found.extend(envelope.readings.iter().map(|r| (envelope.device_id.clone(), r.seq)));
        }
    }
    Ok(found)
}

/// The curated `reading_key`s of every `curated/readings/` Parquet file, and the
/// number of rows (more rows than keys would mean a duplicated reading).
pub async fn curated_keys(sdk: &SdkConfig, bucket: &str) -> anyhow::Result<(HashSet<String>, usize)> {
    use arrow_array::{Array, StringArray};
    let mut keys = HashSet::new();
    let mut rows = 0;
    for key in list(sdk, bucket, "curated/readings/").await? {
        for batch in vigil_curated::read(get(sdk, bucket, &key).await?)? {
            let batch = batch?;
            let column = batch.column_by_name("reading_key").context("curated file without reading_key")?;
            let column = column.as_any().downcast_ref::<StringArray>().context("reading_key is not a string")?;
            rows += column.len();
            keys.extend(column.iter().flatten().map(str::to_owned));
        }
    }
    Ok((keys, rows))
}

/// The keyed reading id the curated data and the warehouse use for a reading.
pub fn reading_key(pseudonymizer: &Pseudonymizer, reading: &ReadingRef) -> String {
    pseudonymizer.reading(ReadingId::new(&reading.0, reading.1)).as_str().to_owned()
}

/// Distinct readings in the vitals table for `wearers` between `from` and `to`.
pub async fn vitals_readings(
    sdk: &SdkConfig,
    table: &str,
    wearers: impl IntoIterator<Item = &str>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> anyhow::Result<HashSet<ReadingRef>> {
    let store = vigil_aws::vitals::DynamoVitalsStore::new(vigil_aws::sdk::dynamodb(sdk), table);
    let mut found = HashSet::new();
    for wearer in wearers {
        let items = store.query_range(wearer, from - TimeDelta::days(1), to + TimeDelta::days(1)).await?;
        for item in items {
            let rows = item.rows().map_err(|e| anyhow::anyhow!("vitals item of {wearer}: {e:?}"))?;
            found.extend(rows.iter().map(|r| (item.device_id.clone(), r.seq)));
        }
    }
    Ok(found)
}

/// One stored alert, as the audit needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRow {
    pub id: String,
    pub wearer_id: String,
    pub rule: String,
    pub raised_at: DateTime<Utc>,
    /// Resolved, by the rules (a silent band that came back) or a caregiver.
    pub resolved: bool,
    /// Resolved by the rules themselves (outcome `cleared`): a silent band back, a
    /// fall cancelled on the band after it was raised.
    pub cleared: bool,
    /// Acknowledged by a caregiver.
    pub acknowledged: bool,
}

/// Every alert in the alerts table.
pub async fn alerts(sdk: &SdkConfig, table: &str) -> anyhow::Result<Vec<AlertRow>> {
    let client = vigil_aws::sdk::dynamodb(sdk);
    let mut out = Vec::new();
    let mut items = client
        .scan()
        .table_name(table)
        .projection_expression("alert_id, wearer_id, #r, raised_at, #s, acknowledged, resolved")
        .expression_attribute_names("#r", "rule")
        .expression_attribute_names("#s", "status")
        .into_paginator()
        .items()
        .send();
    while let Some(item) = items.next().await {
        let item = item.with_context(|| format!("scanning {table}"))?;
        let s = |name: &str| match item.get(name) {
            Some(AttributeValue::S(s)) => s.clone(),
            _ => String::new(),
        };
        let raised_at = DateTime::parse_from_rfc3339(&s("raised_at")).map(|t| t.to_utc()).unwrap_or_default();
        let resolved = s("status") == "resolved";
        let acknowledged = item.contains_key("acknowledged");
        let cleared = match item.get("resolved") {
            Some(AttributeValue::M(step)) => {
                step.get("outcome").and_then(|o| o.as_s().ok()).is_some_and(|o| o == Outcome::Cleared.as_str())
            }
            _ => false,
        };
        let (id, wearer_id, rule) = (s("alert_id"), s("wearer_id"), s("rule"));
        out.push(AlertRow { id, wearer_id, rule, raised_at, resolved, cleared, acknowledged });
    }
    Ok(out)
}

async fn list(sdk: &SdkConfig, bucket: &str, prefix: &str) -> anyhow::Result<Vec<String>> {
    let client = vigil_aws::sdk::s3(sdk);
    let mut keys = Vec::new();
    let mut pages = client.list_objects_v2().bucket(bucket).prefix(prefix).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.with_context(|| format!("listing s3://{bucket}/{prefix}"))?;
        keys.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_owned)));
    }
    Ok(keys)
}

async fn get(sdk: &SdkConfig, bucket: &str, key: &str) -> anyhow::Result<Vec<u8>> {
    let object = vigil_aws::sdk::s3(sdk)
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .with_context(|| format!("reading s3://{bucket}/{key}"))?;
    Ok(object.body.collect().await.with_context(|| format!("reading s3://{bucket}/{key}"))?.into_bytes().to_vec())
}
