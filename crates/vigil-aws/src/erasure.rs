//! Erasure (`vigil erase`): finding, deleting and rewriting one data subject's items
//! and objects in every DynamoDB table and S3 bucket, and the full scans that verify
//! nothing of them is left. Erasure is rare, so a whole-table Scan or a whole-bucket
//! listing is the right tool: it finds what no index was built for.
//!
//! What is the subject's is decided by [`Needles`]: identifiers (the wearer id, the
//! band ids, the alert ids, the curated pseudonym) matched against whole string values
//! and against the parts of composite keys (`a#b#c`, `x/y-z.parquet`), never as
//! substrings of other ids (`w-1` is not in `w-10`).
//!
//! On a versioned bucket every version of a rewritten or deleted object other than the
//! new current one is deleted too, delete markers included: an older version holds the
//! same personal data.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, KeyType, WriteRequest};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use vigil_domain::ports::StoreError;

use crate::dynamo::{malformed, store_error};
use crate::retry::{Backoff, resend_failed};

/// BatchWriteItem's and DeleteObjects' limits per call.
const DELETES_PER_CALL: usize = 25;
const OBJECTS_PER_CALL: usize = 1000;

/// The identifiers that mark something as the data subject's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needles(BTreeSet<String>);

impl Needles {
    pub fn new(ids: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self(ids.into_iter().map(Into::into).filter(|s: &String| !s.is_empty()).collect())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `s` is one of the identifiers, or one of the parts of a composite key or path.
    pub fn in_text(&self, s: &str) -> bool {
        self.0.contains(s) || s.split(['#', '/', '-', '.', '=', ':']).any(|part| self.0.contains(part))
    }

    /// Anywhere in a DynamoDB value, nested maps and lists included.
    pub fn in_attribute(&self, value: &AttributeValue) -> bool {
        match value {
            AttributeValue::S(s) => self.in_text(s),
            AttributeValue::Ss(set) => set.iter().any(|s| self.in_text(s)),
            AttributeValue::L(list) => list.iter().any(|v| self.in_attribute(v)),
            AttributeValue::M(map) => map.values().any(|v| self.in_attribute(v)),
            _ => false,
        }
    }

    /// Anywhere in a JSON value; a `data_base64` field (the raw archive's and the
    /// quarantine's form of a record that is not JSON on one line) is decoded and
    /// searched as [`Needles::in_bytes`].
    pub fn in_json(&self, value: &serde_json::Value) -> bool {
        match value {
            serde_json::Value::String(s) => self.in_text(s),
            serde_json::Value::Array(items) => items.iter().any(|v| self.in_json(v)),
            serde_json::Value::Object(map) => map.iter().any(|(k, v)| match (k.as_str(), v) {
                ("data_base64", serde_json::Value::String(b64)) => {
                    STANDARD.decode(b64).map_or_else(|_| self.in_text(b64), |bytes| self.in_bytes(&bytes))
                }
                _ => self.in_json(v),
            }),
            _ => false,
        }
    }

    /// In a record's bytes: as JSON when they parse, else (poison: truncated or
    /// binary) anywhere in them, since a cut-off envelope has no structure to follow.
    pub fn in_bytes(&self, bytes: &[u8]) -> bool {
        match serde_json::from_slice::<serde_json::Value>(bytes) {
            Ok(value) => self.in_json(&value),
            Err(_) => self.0.iter().any(|n| bytes.windows(n.len()).any(|w| w == n.as_bytes())),
        }
    }
}

/// One table's items that mention the needles: their keys, and how many items the
/// scan read.
#[derive(Debug, Clone, Default)]
pub struct Found {
    pub keys: Vec<HashMap<String, AttributeValue>>,
    pub scanned: u64,
}

/// Scans the whole of `table` (paginated) for items mentioning `needles`; calls
/// `progress` with the items read so far after each page.
pub async fn scan_table(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    needles: &Needles,
    mut progress: impl FnMut(u64),
) -> Result<Found, StoreError> {
    let key_names = key_names(client, table).await?;
    let mut found = Found::default();
    let mut pages = client.scan().table_name(table).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| store_error("Scan", table, e))?;
        for item in page.items() {
            found.scanned += 1;
            if item.values().any(|v| needles.in_attribute(v)) {
                let mut key = HashMap::new();
                for name in &key_names {
                    let value = item.get(name).ok_or_else(|| malformed("Scan", table, "key"))?;
                    key.insert(name.clone(), value.clone());
                }
                found.keys.push(key);
            }
        }
        progress(found.scanned);
    }
    Ok(found)
}

/// The table's key attribute names (hash, then range).
async fn key_names(client: &aws_sdk_dynamodb::Client, table: &str) -> Result<Vec<String>, StoreError> {
    let out =
        client.describe_table().table_name(table).send().await.map_err(|e| store_error("DescribeTable", table, e))?;
    let mut schema: Vec<_> = out.table().map(|t| t.key_schema().to_vec()).unwrap_or_default();
    schema.sort_by_key(|k| *k.key_type() != KeyType::Hash);
    if schema.is_empty() {
        return Err(malformed("DescribeTable", table, "KeySchema"));
    }
    Ok(schema.into_iter().map(|k| k.attribute_name().to_owned()).collect())
}

/// How long one call of [`delete_items`] may keep resending unprocessed deletes.
const DELETE_BUDGET: std::time::Duration = std::time::Duration::from_secs(60);

/// Deletes `keys` from `table` with BatchWriteItem, 25 a call; unprocessed deletes
/// are sent again by [`resend_failed`] until none is left (or its budget ends: then
/// the error says how many are left, and running the command again finishes them).
pub async fn delete_items(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    keys: &[HashMap<String, AttributeValue>],
) -> Result<u64, StoreError> {
    let mut deleted = 0;
    for chunk in keys.chunks(DELETES_PER_CALL) {
        let requests: Vec<WriteRequest> = chunk
            .iter()
            .map(|key| {
                let delete = DeleteRequest::builder()
                    .set_key(Some(key.clone()))
                    .build()
                    .map_err(|_| malformed("BatchWriteItem", table, "key"))?;
                Ok(WriteRequest::builder().delete_request(delete).build())
            })
            .collect::<Result<_, StoreError>>()?;
        let deadline = tokio::time::Instant::now() + DELETE_BUDGET;
        let out = resend_failed(table, &Backoff::default(), deadline, requests, |requests| async move {
            let out = client
                .batch_write_item()
                .request_items(table, requests)
                .send()
                .await
                .map_err(|e| store_error("BatchWriteItem", table, e))?;
            Ok::<_, StoreError>(out.unprocessed_items.and_then(|mut u| u.remove(table)).unwrap_or_default())
        })
        .await?;
        if !out.unwritten.is_empty() {
            return Err(StoreError {
                operation: "BatchWriteItem",
                resource: table.to_owned(),
                retryable: true,
                source: format!("{} deletes still unprocessed", out.unwritten.len()).into(),
            });
        }
        deleted += chunk.len() as u64;
    }
    Ok(deleted)
}

/// After a curated file was rewritten: its registry entry's `rows` and `bytes` (a
/// Redshift COPY manifest must give the object's size), if it is registered.
pub async fn update_registered_file(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    file_key: &str,
    rows: u64,
    bytes: u64,
) -> Result<(), StoreError> {
    let update = client
        .update_item()
        .table_name(table)
        .key("file_key", AttributeValue::S(file_key.to_owned()))
        .update_expression("SET #rows = :rows, #bytes = :bytes")
        .condition_expression("attribute_exists(file_key)")
        .expression_attribute_names("#rows", "rows")
        .expression_attribute_names("#bytes", "bytes")
        .expression_attribute_values(":rows", AttributeValue::N(rows.to_string()))
        .expression_attribute_values(":bytes", AttributeValue::N(bytes.to_string()));
    match update.send().await {
        Ok(_) => Ok(()),
        Err(e) if crate::dynamo::is_conditional_check_failed(&e) => Ok(()),
        Err(e) => Err(store_error("UpdateItem", table, e)),
    }
}

/// An object of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub key: String,
    pub size: u64,
}

/// Every object under `prefix` in `bucket` (paginated).
pub async fn list_objects(client: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Result<Vec<Object>, StoreError> {
    let mut out = Vec::new();
    let mut pages = client.list_objects_v2().bucket(bucket).prefix(prefix).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| store_error("ListObjectsV2", bucket, e))?;
        for o in page.contents() {
            if let Some(key) = o.key() {
                out.push(Object {
                    key: key.to_owned(),
                    size: o.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
                });
            }
        }
    }
    Ok(out)
}

/// An object's body and content type.
pub async fn get_object(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<(Vec<u8>, Option<String>), StoreError> {
    let out =
        client.get_object().bucket(bucket).key(key).send().await.map_err(|e| store_error("GetObject", bucket, e))?;
    let content_type = out.content_type().map(str::to_owned);
    let body = out.body.collect().await.map_err(|e| StoreError {
        operation: "GetObject",
        resource: bucket.to_owned(),
        retryable: true,
        source: e.into(),
    })?;
    Ok((body.into_bytes().to_vec(), content_type))
}

/// One version (or delete marker) of an object on a versioned bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub key: String,
    pub version_id: String,
    pub latest: bool,
    pub delete_marker: bool,
}

/// Every version and delete marker under `prefix` (ListObjectVersions has no
/// paginator in the SDK: the markers are followed here).
pub async fn versions(client: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Result<Vec<Version>, StoreError> {
    let mut out = Vec::new();
    let (mut key_marker, mut version_marker) = (None, None);
    loop {
        let page = client
            .list_object_versions()
            .bucket(bucket)
            .prefix(prefix)
            .set_key_marker(key_marker.take())
            .set_version_id_marker(version_marker.take())
            .send()
            .await
            .map_err(|e| store_error("ListObjectVersions", bucket, e))?;
        for v in page.versions() {
            if let (Some(key), Some(id)) = (v.key(), v.version_id()) {
                let latest = v.is_latest() == Some(true);
                out.push(Version { key: key.to_owned(), version_id: id.to_owned(), latest, delete_marker: false });
            }
        }
        for m in page.delete_markers() {
            if let (Some(key), Some(id)) = (m.key(), m.version_id()) {
                let latest = m.is_latest() == Some(true);
                out.push(Version { key: key.to_owned(), version_id: id.to_owned(), latest, delete_marker: true });
            }
        }
        if page.is_truncated() != Some(true) {
            return Ok(out);
        }
        key_marker = page.next_key_marker().map(str::to_owned);
        version_marker = page.next_version_id_marker().map(str::to_owned);
        if key_marker.is_none() {
            return Ok(out);
        }
    }
}

/// Every version id (delete markers included) of exactly `key`.
async fn versions_of(client: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<Vec<String>, StoreError> {
    Ok(versions(client, bucket, key).await?.into_iter().filter(|v| v.key == key).map(|v| v.version_id).collect())
}

/// Replaces `key` with `body` (same content type) and, if the bucket keeps versions,
/// deletes every other version of it; returns the older versions deleted.
///
/// Whether the bucket keeps versions is read from the answers themselves (a PUT on a
/// versioned bucket returns a version id), not from GetBucketVersioning: a bucket
/// whose versioning was suspended still holds older versions.
pub async fn replace_object(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    body: Vec<u8>,
    content_type: Option<&str>,
) -> Result<u64, StoreError> {
    let put = client
        .put_object()
        .bucket(bucket)
        .key(key)
        .set_content_type(content_type.map(str::to_owned))
        .body(ByteStream::from(body))
        .send()
        .await
        .map_err(|e| store_error("PutObject", bucket, e))?;
    // Unversioned: the PUT replaced the one copy ("null" is the new object itself).
    let Some(current) = put.version_id().filter(|id| *id != "null") else { return Ok(0) };
    let old: Vec<String> = versions_of(client, bucket, key).await?.into_iter().filter(|id| id != current).collect();
    delete_versions(client, bucket, key, &old).await
}

/// Deletes `key` and every version of it, delete markers included (so no marker
/// hides an older copy); returns the versions deleted besides the current object.
pub async fn delete_object(client: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<u64, StoreError> {
    client.delete_object().bucket(bucket).key(key).send().await.map_err(|e| store_error("DeleteObject", bucket, e))?;
    // On a versioned bucket the delete left a marker over the older versions.
    let left: Vec<Version> = versions(client, bucket, key).await?.into_iter().filter(|v| v.key == key).collect();
    let ids: Vec<String> = left.iter().map(|v| v.version_id.clone()).collect();
    delete_versions(client, bucket, key, &ids).await?;
    // The newest of them was the object itself.
    Ok(left.iter().filter(|v| !v.delete_marker).count().saturating_sub(1) as u64)
}

async fn delete_versions(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    ids: &[String],
) -> Result<u64, StoreError> {
    let mut deleted = 0;
    for chunk in ids.chunks(OBJECTS_PER_CALL) {
        let objects = chunk
            .iter()
            .map(|id| ObjectIdentifier::builder().key(key).version_id(id).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| malformed("DeleteObjects", bucket, "key"))?;
        let delete = Delete::builder()
            .set_objects(Some(objects))
            .quiet(true)
            .build()
            .map_err(|_| malformed("DeleteObjects", bucket, "objects"))?;
        let out = client
            .delete_objects()
            .bucket(bucket)
            .delete(delete)
            .send()
            .await
            .map_err(|e| store_error("DeleteObjects", bucket, e))?;
        if let Some(failed) = out.errors().first() {
            return Err(StoreError {
                operation: "DeleteObjects",
                resource: bucket.to_owned(),
                retryable: true,
                source: format!("a version was not deleted: {}", failed.code().unwrap_or("unknown error")).into(),
            });
        }
        deleted += chunk.len() as u64;
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needles_match_whole_ids_and_key_parts_never_substrings() {
        let n = Needles::new(["w-1", "band-w-1", "abc123"]);
        assert!(n.in_text("w-1"));
        assert!(!n.in_text("w-10"), "another wearer's id");
        assert!(n.in_text("abc123#L1#R0#cg-1#sms"), "a delivery key of the alert");
        assert!(n.in_text("curated/alerts/dt=2026-11-22/abc123-0011.parquet"), "a path part");
        assert!(!n.in_text("xabc123"));
        let item = AttributeValue::M(HashMap::from([(
            "d".to_owned(),
            AttributeValue::L(vec![AttributeValue::S("band-w-1".into())]),
        )]));
        assert!(n.in_attribute(&item));
        assert!(!n.in_attribute(&AttributeValue::Ss(vec!["w-10".into()])));
    }

    #[test]
    fn json_records_are_searched_and_base64_data_decoded() {
        let n = Needles::new(["band-w-1"]);
        let envelope = serde_json::json!({"device_id": "band-w-1", "readings": []});
        let line = serde_json::json!({"shard_id": "s", "data_base64": STANDARD.encode(envelope.to_string())});
        assert!(n.in_json(&line));
        let cut = &envelope.to_string().into_bytes()[..30];
        assert!(n.in_bytes(cut), "a truncated envelope is searched byte by byte");
        let other = serde_json::json!({"data": {"device_id": "band-w-10"}});
        assert!(!n.in_json(&other));
    }
}
