//! The vitals table on DynamoDB: [`VitalsStore`] with BatchWriteItem.
//!
//! Items and keys are laid out by [`vigil_domain::vitals`]. BatchWriteItem is
//! not atomic: a call can succeed with some items back in `UnprocessedItems`
//! (throttling on a hot partition), and a whole call can be throttled. Only the
//! unprocessed items are sent again, with exponential backoff and full jitter,
//! until every item is written or the deadline passes; then the error names the
//! items left, so the handler reports their records. Nothing is dropped silently.
//!
//! Items go out in calls of 25 (the API's limit) on a few concurrent lanes, so a
//! large batch is not one long queue of round trips.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use chrono::{DateTime, TimeDelta, Utc};
use tokio::time::{Instant, timeout_at};
use vigil_domain::ports::{StoreError, VitalsStore};
use vigil_domain::vitals::{
    Attr, ITEM_SPAN_MINUTES, Rows, Shadow, VitalsItem, VitalsWriteError, WriteReport, attr, key_range, parse_sort_key,
};

use crate::dynamo::{malformed, store_error};
use crate::retry::{Backoff, resend_failed};

/// BatchWriteItem takes at most 25 put or delete requests per call.
pub const MAX_ITEMS_PER_CALL: usize = 25;

/// Calls in flight at once. Four keeps a 10,000-item batch to about a hundred
/// round trips per lane without bursting a new on-demand table into throttling.
pub const LANES: usize = 4;

/// Default time allowed for a `put_items`, resends included.
/// Items per Query page: a day of one-minute uploads (about 160 items) in one call,
/// each short enough to stay well inside one attempt's timeout on a slow endpoint.
pub const QUERY_PAGE_ITEMS: i32 = 500;

/// Items per page of [`DynamoVitalsStore::latest`]: a span of uploads every minute
/// (30 items) and the first item of the span before, in one call.
pub const LATEST_PAGE_ITEMS: i32 = 31;

pub const DEFAULT_BUDGET: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct DynamoVitalsStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
    backoff: Backoff,
    budget: Duration,
}

impl DynamoVitalsStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into(), backoff: Backoff::default(), budget: DEFAULT_BUDGET }
    }

    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// How long one `put_items` may keep resending before it gives up.
    pub fn with_budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    /// The items of `wearer_id` that may hold readings of `from..=to`, in key order, a page
    /// of at most [`QUERY_PAGE_ITEMS`] per call.
    pub async fn query_range(
        &self,
        wearer_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<VitalsItem>, StoreError> {
        let (low, high) = key_range(from, to);
        let mut items = Vec::new();
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#w = :w AND #sk BETWEEN :low AND :high")
            .expression_attribute_names("#w", attr::WEARER_ID)
            .expression_attribute_names("#sk", attr::SK)
            .expression_attribute_values(":w", AttributeValue::S(wearer_id.to_owned()))
            .expression_attribute_values(":low", AttributeValue::S(low))
            .expression_attribute_values(":high", AttributeValue::S(high))
            .limit(QUERY_PAGE_ITEMS)
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| store_error("Query", &self.table, e))?;
            items.push(from_item(&item).map_err(|attribute| malformed("Query", &self.table, attribute))?);
        }
        Ok(items)
    }

    /// The wearer's latest state: the newest reading of the items of the newest span,
    /// read newest key first, a page of [`LATEST_PAGE_ITEMS`] per call, until the span
    /// changes. Strongly consistent, so an upload's readings show once it is stored.
    ///
    /// Items written before 2026-12-04 span ten minutes, so an older item can start
    /// after a newer half-hour item and hold older readings: at each change of span,
    /// the items read so far give the newest reading, and the next span is read too
    /// only if a span starting there can reach past it.
    pub async fn latest(&self, wearer_id: &str) -> Result<Option<Shadow>, StoreError> {
        let newest =
            |items: &[VitalsItem]| Shadow::latest(items).map_err(|_| malformed("Query", &self.table, attr::READINGS));
        let mut read: Vec<VitalsItem> = Vec::new();
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#w = :w")
            .expression_attribute_names("#w", attr::WEARER_ID)
            .expression_attribute_values(":w", AttributeValue::S(wearer_id.to_owned()))
            .scan_index_forward(false)
            .consistent_read(true)
            .limit(LATEST_PAGE_ITEMS)
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| store_error("Query", &self.table, e))?;
            let item = from_item(&item).map_err(|attribute| malformed("Query", &self.table, attribute))?;
            if read.last().is_some_and(|last| last.start != item.start) {
                let shadow = newest(&read)?;
                let reach = item.start + TimeDelta::minutes(ITEM_SPAN_MINUTES);
                if shadow.as_ref().is_none_or(|s| reach <= s.last_seen) {
                    return Ok(shadow);
                }
            }
            read.push(item);
        }
        newest(&read)
    }

    /// One lane: its share of the calls, one after another.
    async fn lane(&self, items: &[VitalsItem], calls: &[Vec<usize>], deadline: Instant) -> Outcome {
        let mut outcome = Outcome::default();
        for call in calls {
            let done = self.put_call(items, call, deadline).await;
            outcome.merge(done);
        }
        outcome
    }

    /// Writes the items `indexes` in one call, resending what comes back
    /// unprocessed until all are written or the deadline passes.
    async fn put_call(&self, items: &[VitalsItem], indexes: &[usize], deadline: Instant) -> Outcome {
        let calls = AtomicU32::new(0);
        let result = resend_failed(&self.table, &self.backoff, deadline, indexes.to_vec(), |pending| {
            let calls = &calls;
            async move {
                let requests = pending.iter().map(|&i| put_request(&items[i])).collect::<Result<Vec<_>, _>>();
                let requests = requests.map_err(|err| {
                    // Only an item without attributes fails to build: a bug, not data.
                    let source = err.into();
                    (StoreError { operation: "BatchWriteItem", resource: self.table.clone(), retryable: false, source }, pending.clone())
                })?;
                calls.fetch_add(1, Ordering::Relaxed);
                let call = self.client.batch_write_item().request_items(&self.table, requests).send();
                Ok(match timeout_at(deadline, call).await {
                    // Out of time mid-call: the outcome is unknown; rewriting is harmless.
                    Err(_elapsed) => pending,
                    Ok(Ok(out)) => {
                        let back = out.unprocessed_items.unwrap_or_default().remove(&self.table).unwrap_or_default();
                        unprocessed_indexes(items, &pending, &back).unwrap_or_else(|| {
                            // Keys we did not send: trust nothing of this answer.
                            tracing::warn!(table = %self.table, sent = pending.len(), "UnprocessedItems does not match the request, resending it");
                            pending
                        })
                    }
                    Ok(Err(err)) => {
                        let err = store_error("BatchWriteItem", &self.table, err);
                        if !err.retryable {
                            return Err((err, pending));
                        }
                        tracing::warn!(table = %self.table, error = %err, source = ?std::error::Error::source(&err).map(ToString::to_string), items = pending.len(), "BatchWriteItem call failed, will resend");
                        pending
                    }
                })
            }
        })
        .await;
        let calls = calls.into_inner();
        match result {
            Ok(resent) => Outcome {
                report: WriteReport { calls, retries: resent.resent },
                unwritten: resent.unwritten,
                error: None,
            },
            Err((err, pending)) => {
                Outcome { report: WriteReport { calls, retries: 0 }, unwritten: pending, error: Some(err) }
            }
        }
    }
}

impl VitalsStore for DynamoVitalsStore {
    async fn put_items(&self, items: &[VitalsItem]) -> Result<WriteReport, VitalsWriteError> {
        let deadline = Instant::now() + self.budget;
        // One request per key: BatchWriteItem rejects a call that repeats a key,
        // and the same key in two lanes would race. The last occurrence wins, as
        // sequential PutItems would have it.
        let mut last: HashMap<(&str, String), usize> = HashMap::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            last.insert((item.wearer_id.as_str(), item.sort_key()), i);
        }
        let mut representative: Vec<usize> = Vec::with_capacity(items.len());
        for item in items {
            representative.push(last[&(item.wearer_id.as_str(), item.sort_key())]);
        }
        let mut unique: Vec<usize> = last.into_values().collect();
        unique.sort_unstable();

        let calls: Vec<Vec<usize>> = unique.chunks(MAX_ITEMS_PER_CALL).map(<[usize]>::to_vec).collect();
        let mut lanes: [Vec<Vec<usize>>; LANES] = Default::default();
        for (n, call) in calls.into_iter().enumerate() {
            lanes[n % LANES].push(call);
        }
        let (a, b, c, d) = tokio::join!(
            self.lane(items, &lanes[0], deadline),
            self.lane(items, &lanes[1], deadline),
            self.lane(items, &lanes[2], deadline),
            self.lane(items, &lanes[3], deadline),
        );
        let mut outcome = a;
        outcome.merge(b);
        outcome.merge(c);
        outcome.merge(d);

        if outcome.unwritten.is_empty() {
            return Ok(outcome.report);
        }
        // Every item whose representative was not written is not stored either.
        let left: std::collections::HashSet<usize> = outcome.unwritten.iter().copied().collect();
        let unwritten: Vec<usize> = (0..items.len()).filter(|&i| left.contains(&representative[i])).collect();
        let total = items.len();
        Err(match outcome.error {
            Some(source) => VitalsWriteError::Failed { total, unwritten, report: outcome.report, source },
            None => VitalsWriteError::Deadline { table: self.table.clone(), total, unwritten, report: outcome.report },
        })
    }
}

#[derive(Debug, Default)]
struct Outcome {
    report: WriteReport,
    unwritten: Vec<usize>,
    error: Option<StoreError>,
}

impl Outcome {
    fn merge(&mut self, other: Outcome) {
        self.report.calls += other.report.calls;
        self.report.retries += other.report.retries;
        self.unwritten.extend(other.unwritten);
        if self.error.is_none() {
            self.error = other.error;
        }
    }
}

/// The indexes of `pending` whose items came back unprocessed; `None` if the
/// answer names an item that was not sent.
fn unprocessed_indexes(items: &[VitalsItem], pending: &[usize], back: &[WriteRequest]) -> Option<Vec<usize>> {
    if back.is_empty() {
        return Some(Vec::new());
    }
    let by_key: HashMap<(&str, String), usize> =
        pending.iter().map(|&i| ((items[i].wearer_id.as_str(), items[i].sort_key()), i)).collect();
    let mut left = Vec::with_capacity(back.len());
    for request in back {
        let item = request.put_request().map(|p| p.item())?;
        let wearer = item.get(attr::WEARER_ID).and_then(|v| v.as_s().ok())?;
        let sk = item.get(attr::SK).and_then(|v| v.as_s().ok())?;
        left.push(*by_key.get(&(wearer.as_str(), sk.clone()))?);
    }
    left.sort_unstable();
    left.dedup();
    Some(left)
}

fn put_request(item: &VitalsItem) -> Result<WriteRequest, aws_sdk_dynamodb::error::BuildError> {
    let put = PutRequest::builder().set_item(Some(to_item(item))).build()?;
    Ok(WriteRequest::builder().put_request(put).build())
}

/// The stored form of an item.
pub fn to_item(item: &VitalsItem) -> HashMap<String, AttributeValue> {
    item.attributes()
        .into_iter()
        .map(|(name, value)| {
            let value = match value {
                Attr::S(s) => AttributeValue::S(s),
                Attr::N(n) => AttributeValue::N(n),
                Attr::B(b) => AttributeValue::B(Blob::new(b)),
            };
            (name.to_owned(), value)
        })
        .collect()
}

/// An item read back; `Err` names the first missing or malformed attribute.
pub fn from_item(item: &HashMap<String, AttributeValue>) -> Result<VitalsItem, &'static str> {
    let s = |name: &'static str| item.get(name).and_then(|v| v.as_s().ok()).ok_or(name);
    let n = |name: &'static str| -> Result<Option<&String>, &'static str> {
        match item.get(name) {
            None => Ok(None),
            Some(v) => v.as_n().map(Some).map_err(|_| name),
        }
    };
    fn parsed<T: std::str::FromStr>(v: Option<&String>, name: &'static str) -> Result<Option<T>, &'static str> {
        v.map(|v| v.parse().map_err(|_| name)).transpose()
    }
    let sk = s(attr::SK)?;
    let (start, device_id, first_seq) = parse_sort_key(sk).ok_or(attr::SK)?;
    Ok(VitalsItem {
        wearer_id: s(attr::WEARER_ID)?.clone(),
        start,
        device_id: device_id.to_owned(),
        first_seq,
        count: parsed(n(attr::COUNT)?, attr::COUNT)?.ok_or(attr::COUNT)?,
        hr_min: parsed(n(attr::HR_MIN)?, attr::HR_MIN)?,
        hr_avg: parsed(n(attr::HR_AVG)?, attr::HR_AVG)?,
        hr_max: parsed(n(attr::HR_MAX)?, attr::HR_MAX)?,
        spo2_min: parsed(n(attr::SPO2_MIN)?, attr::SPO2_MIN)?,
        steps: parsed(n(attr::STEPS)?, attr::STEPS)?,
        // v2 rows are binary, v1 rows text.
        readings: match item.get(attr::READINGS) {
            Some(AttributeValue::B(b)) => Rows::Packed(b.clone().into_inner()),
            Some(AttributeValue::S(text)) => Rows::Text(text.clone()),
            _ => return Err(attr::READINGS),
        },
        app_version: item
            .get(attr::APP_VERSION)
            .map_or(Ok(String::new()), |v| v.as_s().cloned().map_err(|_| attr::APP_VERSION))?,
        expires_at: parsed(n(attr::EXPIRES_AT)?, attr::EXPIRES_AT)?.ok_or(attr::EXPIRES_AT)?,
    })
}

/// BatchWriteItem answers scripted with aws-smithy-mocks: resending exactly the
/// unprocessed items, giving up at the deadline with their count, and what
/// throttled or refused calls mean.
#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on broken fixtures")]

    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use aws_sdk_dynamodb::Client;
    use aws_sdk_dynamodb::error::ErrorMetadata;
    use aws_sdk_dynamodb::operation::batch_write_item::{BatchWriteItemError, BatchWriteItemOutput};
    use aws_sdk_dynamodb::types::error::ProvisionedThroughputExceededException;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use chrono::TimeDelta;
    use vigil_domain::Envelope;
    use vigil_domain::reading::Reading;
    use vigil_domain::vitals::{ITEM_SPAN_MINUTES, vitals_items};

    use super::*;

    const TABLE: &str = "vitals";

    fn no_retries(c: aws_sdk_dynamodb::config::Builder) -> aws_sdk_dynamodb::config::Builder {
        c.retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
    }

    fn fast() -> Backoff {
        Backoff { base: Duration::from_millis(1), max: Duration::from_millis(5) }
    }

    /// `count` items of one wearer: a minute of 12 readings in each of `count` spans.
    fn items_of(count: usize) -> Vec<VitalsItem> {
        let start = DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z").unwrap();
        let readings = (0..count * 12)
            .map(|i| {
                let at = start
                    + TimeDelta::minutes(ITEM_SPAN_MINUTES * (i / 12) as i64)
                    + TimeDelta::seconds(5 * (i % 12) as i64);
                let mut r = Reading::at(at, 1000 + i as u64);
                r.heart_rate_bpm = Some(70);
                r
            })
            .collect();
        let envelope = Envelope {
            v: 1,
            batch_id: "b".into(),
            part: 0,
            parts: 1,
            device_id: "band-0001".into(),
            wearer_id: "wearer-42".into(),
            app_version: "1.4.2".into(),
            received_at: Utc::now(),
            readings,
        };
        vitals_items(&envelope, TimeDelta::days(30))
    }

    fn sk_of(request: &WriteRequest) -> String {
        request.put_request().unwrap().item()[attr::SK].as_s().unwrap().clone()
    }

    /// Records every sort key each call carried, in call order.
    type Seen = Arc<Mutex<Vec<Vec<String>>>>;

    fn unprocessed(requests: Vec<WriteRequest>) -> BatchWriteItemOutput {
        BatchWriteItemOutput::builder().unprocessed_items(TABLE, requests).build()
    }

    fn throttled() -> BatchWriteItemError {
        BatchWriteItemError::ProvisionedThroughputExceededException(
            ProvisionedThroughputExceededException::builder()
                .message("mocked")
                .meta(ErrorMetadata::builder().code("ProvisionedThroughputExceededException").build())
                .build(),
        )
    }

    #[tokio::test]
    async fn unprocessed_items_are_resent_until_every_item_is_written_exactly_once() {
        let items = items_of(10);
        let seen: Seen = Arc::default();
        let (s1, s2, s3) = (seen.clone(), seen.clone(), seen.clone());
        // Call 1: 7 of 10 come back. Call 2: 2 of those 7 come back. Call 3: done.
        let first = mock!(Client::batch_write_item)
            .match_requests(move |r| {
                s1.lock().unwrap().push(r.request_items().unwrap()[TABLE].iter().map(sk_of).collect());
                true
            })
            .then_output(|| {
                let all = items_of(10);
                unprocessed(all[3..].iter().map(|i| put_request(i).unwrap()).collect())
            });
        let second = mock!(Client::batch_write_item)
            .match_requests(move |r| {
                s2.lock().unwrap().push(r.request_items().unwrap()[TABLE].iter().map(sk_of).collect());
                true
            })
            .then_output(|| {
                let all = items_of(10);
                unprocessed(all[8..].iter().map(|i| put_request(i).unwrap()).collect())
            });
        let third = mock!(Client::batch_write_item)
            .match_requests(move |r| {
                s3.lock().unwrap().push(r.request_items().unwrap()[TABLE].iter().map(sk_of).collect());
                true
            })
            .then_output(|| BatchWriteItemOutput::builder().build());
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&first, &second, &third], no_retries);
        let store = DynamoVitalsStore::new(client, TABLE).with_backoff(fast());

        let report = store.put_items(&items).await.unwrap();
        assert_eq!((first.num_calls(), second.num_calls(), third.num_calls()), (1, 1, 1));
        assert_eq!(report, WriteReport { calls: 3, retries: 7 + 2 });

        let calls = seen.lock().unwrap().clone();
        let keys: Vec<String> = items.iter().map(VitalsItem::sort_key).collect();
        assert_eq!(calls[0], keys);
        assert_eq!(calls[1], keys[3..].to_vec(), "only the unprocessed items are resent");
        assert_eq!(calls[2], keys[8..].to_vec());
        // Each item is written exactly once: by the last call that carried it.
        let mut written: BTreeMap<&str, usize> = BTreeMap::new();
        for (n, call) in calls.iter().enumerate() {
            let answered_back: &[String] = match n {
                0 => &keys[3..],
                1 => &keys[8..],
                _ => &[],
            };
            for sk in call.iter().filter(|sk| !answered_back.contains(sk)) {
                *written.entry(sk).or_default() += 1;
            }
        }
        assert_eq!(written.len(), 10);
        assert!(written.values().all(|&n| n == 1), "{written:?}");
    }

    #[tokio::test]
    async fn more_than_25_items_go_out_in_calls_of_25_at_most() {
        let items = items_of(60);
        let sizes: Arc<Mutex<Vec<usize>>> = Arc::default();
        let s = sizes.clone();
        let rule = mock!(Client::batch_write_item)
            .match_requests(move |r| {
                s.lock().unwrap().push(r.request_items().unwrap()[TABLE].len());
                true
            })
            .then_output(|| BatchWriteItemOutput::builder().build());
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&rule], no_retries);
        let report = DynamoVitalsStore::new(client, TABLE).put_items(&items).await.unwrap();
        assert_eq!(report.calls, 3);
        let mut sizes = sizes.lock().unwrap().clone();
        sizes.sort_unstable();
        assert_eq!(sizes, vec![10, 25, 25]);
    }

    #[tokio::test]
    async fn items_sharing_a_key_are_sent_once_and_the_last_one_wins() {
        let mut items = items_of(2);
        let mut later = items[0].clone();
        later.hr_max = Some(99);
        items.push(later);
        let rule = mock!(Client::batch_write_item)
            .match_requests(|r| {
                let sent = &r.request_items().unwrap()[TABLE];
                sent.len() == 2
                    && sent
                        .iter()
                        .any(|w| w.put_request().unwrap().item().get(attr::HR_MAX).unwrap().as_n().unwrap() == "99")
            })
            .then_output(|| BatchWriteItemOutput::builder().build());
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&rule], no_retries);
        DynamoVitalsStore::new(client, TABLE).put_items(&items).await.unwrap();
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn items_still_unprocessed_at_the_deadline_are_named_not_dropped() {
        let items = items_of(5);
        let rule = mock!(Client::batch_write_item).then_output(|| {
            let all = items_of(5);
            unprocessed(vec![put_request(&all[1]).unwrap(), put_request(&all[4]).unwrap()])
        });
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&rule], no_retries);
        let store = DynamoVitalsStore::new(client, TABLE).with_backoff(fast()).with_budget(Duration::from_millis(600));
        let err = store.put_items(&items).await.unwrap_err();
        assert!(matches!(err, VitalsWriteError::Deadline { .. }), "{err:?}");
        assert_eq!(err.unwritten(), &[1, 4]);
        assert!(err.retryable());
        assert!(rule.num_calls() > 2, "resent until the deadline: {}", rule.num_calls());
        let text = err.to_string();
        assert!(text.starts_with("2 of 5 vitals items not written to vitals"), "{text}");
    }

    #[tokio::test]
    async fn a_throttled_call_is_resent_and_past_the_deadline_names_every_item() {
        let items = items_of(3);
        let rule = mock!(Client::batch_write_item).then_error(throttled);
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&rule], no_retries);
        // A budget of many backoffs (1–5 ms each): the first call alone may take hundreds of
        // ms on a busy machine (a CI run of the whole workspace on 2 cores).
        let store = DynamoVitalsStore::new(client, TABLE).with_backoff(fast()).with_budget(Duration::from_secs(3));
        let err = store.put_items(&items).await.unwrap_err();
        assert_eq!(err.unwritten(), &[0, 1, 2]);
        assert!(err.retryable());
        assert!(rule.num_calls() > 1);

        // Throttled once, then accepted.
        let throttle = mock!(Client::batch_write_item).then_error(throttled);
        let ok = mock!(Client::batch_write_item).then_output(|| BatchWriteItemOutput::builder().build());
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&throttle, &ok], no_retries);
        let report = DynamoVitalsStore::new(client, TABLE).with_backoff(fast()).put_items(&items).await.unwrap();
        assert_eq!(report, WriteReport { calls: 2, retries: 3 });
    }

    #[tokio::test]
    async fn a_refused_call_fails_at_once_and_is_not_retryable() {
        let items = items_of(2);
        let rule = mock!(Client::batch_write_item).then_error(|| {
            BatchWriteItemError::generic(ErrorMetadata::builder().code("AccessDeniedException").message("no").build())
        });
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&rule], no_retries);
        let err = DynamoVitalsStore::new(client, TABLE).put_items(&items).await.unwrap_err();
        assert_eq!(rule.num_calls(), 1);
        assert_eq!(err.unwritten(), &[0, 1]);
        assert!(!err.retryable());
        let VitalsWriteError::Failed { source, .. } = err else { panic!("{err:?}") };
        assert_eq!((source.operation, source.resource.as_str()), ("BatchWriteItem", TABLE));
    }

    #[test]
    fn items_round_trip_through_their_stored_form() {
        for item in items_of(3) {
            assert_eq!(from_item(&to_item(&item)).unwrap(), item);
        }
        let mut broken = to_item(&items_of(1)[0]);
        broken.insert(attr::COUNT.into(), AttributeValue::S("twelve".into()));
        assert_eq!(from_item(&broken), Err(attr::COUNT));
        // v2 rows are binary; an item written before 2026-12-04 has v1 text rows.
        let stored = to_item(&items_of(1)[0]);
        assert!(stored[attr::READINGS].is_b() && stored[attr::FORMAT] == AttributeValue::N("2".into()));
        let mut v1 = stored.clone();
        v1.insert(attr::FORMAT.into(), AttributeValue::N("1".into()));
        v1.insert(attr::READINGS.into(), AttributeValue::S("0,0,72".into()));
        let read = from_item(&v1).unwrap();
        assert_eq!(read.readings, Rows::Text("0,0,72".into()));
        assert_eq!(read.rows().unwrap()[0].heart_rate_bpm, Some(72));
        let mut wrong = stored;
        wrong.insert(attr::READINGS.into(), AttributeValue::N("7".into()));
        assert_eq!(from_item(&wrong), Err(attr::READINGS));
    }
}
