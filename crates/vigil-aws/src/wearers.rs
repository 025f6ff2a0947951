//! Wearer profiles on DynamoDB: [`WearerDirectory`] with GetItem, and the
//! wearer's caregivers resolved from their own records with one BatchGetItem.
//!
//! Item layout (table keyed by `wearer_id` S): the [`WearerProfile`] as
//! attributes, through serde_dynamo — `name` S, `time_zone` S, `thresholds` M,
//! `caregivers` L of M (`id`, `level`: only the facts of the link), `snoozes` M
//! (rule → `until`, `by`), `escalation` M. The caregivers' contact details are
//! records of their own ([`crate::caregivers`]): reading a wearer resolves each
//! link into a [`Caregiver`], so a caregiver of two wearers is stored once.
//!
//! An item written before caregivers had records embeds the contact details in
//! its links (`phone`, `language`, ...): when no record exists for the id those
//! are read as before; a record, when there is one, wins. `vigil caregivers
//! migrate` turns them into records and links ([`DynamoWearerDirectory::migrate`]).
//! A link to a caregiver with neither a record nor embedded details is skipped,
//! logged (wearer and count only) and counted ([`DynamoWearerDirectory::skipped_links`]).
//! Personal data: the table is encrypted and nothing read from it is logged.
//!
//! The caregiver links table (keyed `caregiver_sub` S, `wearer_id` S) lists the
//! wearers of a caregiver's account without a Scan; the profile stays the
//! authority ([`DynamoCaregiverLinks`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use vigil_domain::alerts::{RuleKind, Thresholds};
use vigil_domain::care::{Caregiver, Snooze, WearerProfile};
use vigil_domain::ports::{StoreError, WearerDirectory, WearerLimits, WearerPage};
use vigil_domain::registry::validate_wearer;

use crate::caregivers::DynamoCaregiverDirectory;
use crate::dynamo::{is_conditional_check_failed, malformed, store_error};
use crate::registry::WriteError;

/// Profiles per Scan page of [`DynamoWearerDirectory::list`].
const LIST_PAGE: usize = 500;

/// The attributes of a link in a wearer's `caregivers` list; any other is a
/// contact detail embedded by an older writer.
const LINK_ATTRIBUTES: [&str; 2] = ["id", "level"];

/// Reads (and, for the CLI and tests, writes) wearer profiles, resolving their
/// caregivers from the caregivers table.
#[derive(Debug, Clone)]
pub struct DynamoWearerDirectory {
    client: aws_sdk_dynamodb::Client,
    table: String,
    caregivers: DynamoCaregiverDirectory,
    skipped: Arc<AtomicU64>,
}

/// What [`DynamoWearerDirectory::migrate`] did to one wearer's item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Migration {
    /// Nothing embedded: links only already.
    Done,
    /// The embedded details became records (`created` new ones) and the item links only.
    Migrated { created: usize },
    /// Would be migrated (a dry run), creating this many records.
    Would { create: usize },
    /// Left as it is: these embedded caregivers' details differ from their
    /// existing records.
    Conflict(Vec<String>),
    /// Left as it is: an embedded caregiver does not validate (the refusal).
    Invalid(String),
    /// Left as it is: its caregivers changed while it was being migrated (run again).
    Changed,
}

impl DynamoWearerDirectory {
    /// Wearers in `table`, their caregivers' records in `caregivers_table`.
    pub fn new(
        client: aws_sdk_dynamodb::Client,
        table: impl Into<String>,
        caregivers_table: impl Into<String>,
    ) -> Self {
        let caregivers = DynamoCaregiverDirectory::new(client.clone(), caregivers_table);
        Self { client, table: table.into(), caregivers, skipped: Arc::default() }
    }

    /// The caregivers table this directory resolves links with.
    pub fn caregivers(&self) -> &DynamoCaregiverDirectory {
        &self.caregivers
    }

    /// Links to caregivers with no record (and no embedded details) skipped by
    /// this directory's reads so far.
    pub fn skipped_links(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }

    /// Registers or replaces a wearer's profile with every caregiver in it: each
    /// caregiver's record is created or replaced (for all their wearers) and the
    /// wearer keeps the links. Refused, with every problem, unless [`validate_wearer`]
    /// passes.
    pub async fn put(&self, profile: &WearerProfile) -> Result<(), WriteError> {
        validate_wearer(profile)?;
        for caregiver in &profile.caregivers {
            self.caregivers.put(caregiver).await?;
        }
        self.put_links(profile).await
    }

    /// Writes the wearer's item with only the links (id, level) of its caregivers,
    /// leaving their records alone (they must exist: the caller checked). Refused
    /// unless the whole profile validates.
    pub async fn put_links(&self, profile: &WearerProfile) -> Result<(), WriteError> {
        validate_wearer(profile)?;
        let item = links_item(profile).map_err(|_| malformed("PutItem", &self.table, "profile"))?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| store_error("PutItem", &self.table, e))?;
        Ok(())
    }

    /// Every wearer's profile, sorted by id (an operator's listing): the Scan a
    /// page at a time, each page's caregivers resolved together.
    pub async fn list(&self) -> Result<Vec<WearerProfile>, StoreError> {
        let mut out: Vec<WearerProfile> = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.page(after.as_deref(), LIST_PAGE).await?;
            out.extend(page.wearers);
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        out.sort_by(|a, b| a.wearer_id.cmp(&b.wearer_id));
        Ok(out)
    }

    /// Up to `limit` profiles of the Scan from after wearer `after` (`None`: from
    /// the start), sorted by id within the page, with the caregivers of the whole
    /// page resolved in one [`DynamoCaregiverDirectory::caregivers`] call (one
    /// BatchGetItem per 100 distinct caregivers). `next` is where the following
    /// page starts, `None` at the end of the table. A reader working through the
    /// pages holds one page at a time, whatever the number of wearers.
    pub async fn page(&self, after: Option<&str>, limit: usize) -> Result<WearerPage, StoreError> {
        let out = self
            .client
            .scan()
            .table_name(&self.table)
            .limit(i32::try_from(limit.max(1)).unwrap_or(i32::MAX))
            .set_exclusive_start_key(
                after.map(|id| HashMap::from([("wearer_id".to_owned(), AttributeValue::S(id.to_owned()))])),
            )
            .send()
            .await
            .map_err(|e| store_error("Scan", &self.table, e))?;
        let next =
            out.last_evaluated_key.as_ref().and_then(|key| key.get("wearer_id")).and_then(|id| id.as_s().ok()).cloned();
        let mut wearers = self.resolve_all("Scan", out.items.unwrap_or_default()).await?;
        wearers.sort_by(|a, b| a.wearer_id.cmp(&b.wearer_id));
        Ok(WearerPage { wearers, next })
    }

    /// Deletes a wearer's profile, returning it (`None` if there was none) so the
    /// caller can unlink its caregivers' accounts. The caregivers' records stay.
    pub async fn delete(&self, wearer_id: &str) -> Result<Option<WearerProfile>, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("wearer_id", AttributeValue::S(wearer_id.to_owned()))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| store_error("DeleteItem", &self.table, e))?;
        match out.attributes.filter(|a| !a.is_empty()) {
            Some(item) => Ok(Some(self.resolve("DeleteItem", item).await?)),
            None => Ok(None),
        }
    }

    /// The wearers whose profile links the caregiver `caregiver_id` (see [`Self::links`]).
    pub async fn linked_to(&self, caregiver_id: &str) -> Result<Vec<String>, StoreError> {
        Ok(self.links().await?.remove(caregiver_id).unwrap_or_default())
    }

    /// Caregiver id → the wearers whose profile links them, sorted, from one Scan
    /// of the links only (an operator's question: before deleting a caregiver, or
    /// when their account changes).
    pub async fn links(&self) -> Result<BTreeMap<String, Vec<String>>, StoreError> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (wearer, links) in self.scan_links().await? {
            for link in links {
                out.entry(link.id).or_default().push(wearer.clone());
            }
        }
        out.values_mut().for_each(|w| w.sort());
        Ok(out)
    }

    /// The wearers whose item still embeds caregivers' contact details (written
    /// before caregivers had records), sorted.
    pub async fn embedding(&self) -> Result<Vec<String>, StoreError> {
        let mut out: Vec<String> = self
            .scan_links()
            .await?
            .into_iter()
            .filter(|(_, l)| l.iter().any(|l| l.embedded))
            .map(|(w, _)| w)
            .collect();
        out.sort();
        Ok(out)
    }

    async fn scan_links(&self) -> Result<Vec<(String, Vec<RawLink>)>, StoreError> {
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
            .projection_expression("wearer_id, caregivers")
            .into_paginator()
            .items()
            .send();
        let mut out = Vec::new();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| store_error("Scan", &self.table, e))?;
            let id = item.get("wearer_id").and_then(|v| v.as_s().ok());
            out.push((id.ok_or_else(|| malformed("Scan", &self.table, "wearer_id"))?.clone(), raw_links(&item)));
        }
        Ok(out)
    }

    /// Removes the caregiver `caregiver_id` from the wearer's links (their record
    /// stays); `Ok(false)` if the wearer has no such link. Conditional on the list
    /// entry still being that caregiver, so a concurrent change is never undone.
    pub async fn unlink_caregiver(&self, wearer_id: &str, caregiver_id: &str) -> Result<bool, StoreError> {
        let key = AttributeValue::S(wearer_id.to_owned());
        for _ in 0..5 {
            let item = self.raw_item(wearer_id).await?;
            let Some(index) = item.as_ref().and_then(|i| raw_links(i).iter().position(|l| l.id == caregiver_id)) else {
                return Ok(false);
            };
            let out = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("wearer_id", key.clone())
                .update_expression(format!("REMOVE caregivers[{index}]"))
                .condition_expression(format!("caregivers[{index}].#id = :id"))
                .expression_attribute_names("#id", "id")
                .expression_attribute_values(":id", AttributeValue::S(caregiver_id.to_owned()))
                .send()
                .await;
            match out {
                Ok(_) => return Ok(true),
                Err(e) if is_conditional_check_failed(&e) => continue,
                Err(e) => return Err(store_error("UpdateItem", &self.table, e)),
            }
        }
        Err(StoreError {
            operation: "UpdateItem",
            resource: self.table.clone(),
            retryable: true,
            source: "the wearer's caregivers kept changing".into(),
        })
    }

    /// Turns the contact details an older item embeds into caregiver records and
    /// the item into links only. A record that exists already is kept when it
    /// holds the same details; when it differs the wearer is left as it is and
    /// reported ([`Migration::Conflict`]). The item is rewritten only if its
    /// caregivers did not change meanwhile. `dry_run` changes nothing.
    pub async fn migrate(&self, wearer_id: &str, dry_run: bool) -> Result<Migration, WriteError> {
        let Some(item) = self.raw_item(wearer_id).await? else {
            return Ok(Migration::Done);
        };
        let links = raw_links(&item);
        if !links.iter().any(|l| l.embedded) {
            return Ok(Migration::Done);
        }
        let profile: WearerProfile =
            serde_dynamo::from_item(item.clone()).map_err(|_| malformed("GetItem", &self.table, "profile"))?;
        let embedded: Vec<&Caregiver> =
            profile.caregivers.iter().zip(&links).filter(|(_, l)| l.embedded).map(|(c, _)| c).collect();
        let ids: Vec<&str> = embedded.iter().map(|c| c.id.as_str()).collect();
        let records = self.caregivers.caregivers(&ids).await?;
        let mut conflicts = Vec::new();
        let mut create = Vec::new();
        for c in embedded {
            match records.get(&c.id) {
                Some(record) if *record == Caregiver { level: 1, ..c.clone() } => {}
                Some(_) => conflicts.push(c.id.clone()),
                None => create.push(c),
            }
        }
        if !conflicts.is_empty() {
            return Ok(Migration::Conflict(conflicts));
        }
        for c in &create {
            if let Err(invalid) = vigil_domain::registry::validate_caregiver(c) {
                return Ok(Migration::Invalid(format!("caregiver {}: {invalid}", c.id)));
            }
        }
        if dry_run {
            return Ok(Migration::Would { create: create.len() });
        }
        for c in &create {
            self.caregivers.put(c).await?;
        }
        let old = item.get("caregivers").cloned().ok_or_else(|| malformed("GetItem", &self.table, "caregivers"))?;
        let new = links_value(&profile.caregivers);
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("wearer_id", AttributeValue::S(wearer_id.to_owned()))
            .update_expression("SET caregivers = :new")
            .condition_expression("caregivers = :old")
            .expression_attribute_values(":new", new)
            .expression_attribute_values(":old", old)
            .send()
            .await;
        match out {
            Ok(_) => Ok(Migration::Migrated { created: create.len() }),
            // Changed meanwhile (a new profile was written): the records stand; run again.
            Err(e) if is_conditional_check_failed(&e) => Ok(Migration::Changed),
            Err(e) => Err(store_error("UpdateItem", &self.table, e).into()),
        }
    }

    async fn raw_item(&self, wearer_id: &str) -> Result<Option<HashMap<String, AttributeValue>>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("wearer_id", AttributeValue::S(wearer_id.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", &self.table, e))?;
        Ok(out.item)
    }

    /// The profile in `item` with its links resolved into caregivers (see the module docs).
    async fn resolve(
        &self,
        operation: &'static str,
        item: HashMap<String, AttributeValue>,
    ) -> Result<WearerProfile, StoreError> {
        let mut profiles = self.resolve_all(operation, vec![item]).await?;
        profiles.pop().ok_or_else(|| malformed(operation, &self.table, "profile"))
    }

    /// The profiles in `items`, in their order, with every link resolved from one
    /// read of all their caregivers' records.
    async fn resolve_all(
        &self,
        operation: &'static str,
        items: Vec<HashMap<String, AttributeValue>>,
    ) -> Result<Vec<WearerProfile>, StoreError> {
        let mut parsed = Vec::with_capacity(items.len());
        for item in items {
            let links = raw_links(&item);
            let profile: WearerProfile =
                serde_dynamo::from_item(item).map_err(|_| malformed(operation, &self.table, "profile"))?;
            parsed.push((profile, links));
        }
        let ids: Vec<&str> = parsed.iter().flat_map(|(p, _)| p.caregivers.iter().map(|c| c.id.as_str())).collect();
        let records = if ids.is_empty() { HashMap::new() } else { self.caregivers.caregivers(&ids).await? };
        Ok(parsed.into_iter().map(|(profile, links)| self.attach(profile, &links, &records)).collect())
    }

    /// `profile` with each link replaced by its caregiver's record (see the module docs).
    fn attach(
        &self,
        mut profile: WearerProfile,
        links: &[RawLink],
        records: &HashMap<String, Caregiver>,
    ) -> WearerProfile {
        let mut skipped = 0u64;
        let linked = std::mem::take(&mut profile.caregivers);
        for (i, link) in linked.into_iter().enumerate() {
            match records.get(&link.id) {
                Some(record) => profile.caregivers.push(Caregiver { level: link.level, ..record.clone() }),
                None if links.get(i).is_some_and(|l| l.embedded) => profile.caregivers.push(link),
                None => skipped += 1,
            }
        }
        if skipped > 0 {
            self.skipped.fetch_add(skipped, Ordering::Relaxed);
            tracing::warn!(
                wearer_id = %profile.wearer_id,
                table = %self.caregivers.table(),
                skipped,
                "caregiver links without a record skipped: nobody is told through them (vigil caregivers put)"
            );
        }
        profile
    }
}

/// One entry of a stored `caregivers` list, as stored.
struct RawLink {
    id: String,
    /// Contact details embedded by an older writer.
    embedded: bool,
}

fn raw_links(item: &HashMap<String, AttributeValue>) -> Vec<RawLink> {
    let Some(AttributeValue::L(list)) = item.get("caregivers") else {
        return Vec::new();
    };
    list.iter()
        .map(|entry| match entry {
            AttributeValue::M(m) => RawLink {
                id: m.get("id").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default(),
                embedded: m.keys().any(|k| !LINK_ATTRIBUTES.contains(&k.as_str())),
            },
            _ => RawLink { id: String::new(), embedded: false },
        })
        .collect()
}

fn links_value(caregivers: &[Caregiver]) -> AttributeValue {
    AttributeValue::L(
        caregivers
            .iter()
            .map(|c| {
                AttributeValue::M(HashMap::from([
                    ("id".to_owned(), AttributeValue::S(c.id.clone())),
                    ("level".to_owned(), AttributeValue::N(c.level.to_string())),
                ]))
            })
            .collect(),
    )
}

/// The stored form of a wearer: the profile with only the links of its caregivers
/// (their records are [`crate::caregivers::to_item`]).
pub fn links_item(profile: &WearerProfile) -> Result<HashMap<String, AttributeValue>, serde_dynamo::Error> {
    let mut item: HashMap<String, AttributeValue> = serde_dynamo::to_item(profile)?;
    item.insert("caregivers".to_owned(), links_value(&profile.caregivers));
    Ok(item)
}

impl DynamoWearerDirectory {
    /// Sets the snooze of `rule` in the profile, leaving other rules' snoozes
    /// alone (two caregivers snoozing two rules at once both stand); `Ok(false)`
    /// if there is no such profile (a snooze never creates one).
    pub async fn snooze(&self, wearer_id: &str, rule: RuleKind, snooze: &Snooze) -> Result<bool, StoreError> {
        let value: AttributeValue =
            serde_dynamo::to_attribute_value(snooze).map_err(|_| malformed("UpdateItem", &self.table, "snooze"))?;
        let key = AttributeValue::S(wearer_id.to_owned());
        // The map may not exist yet; a nested SET needs it, so the first snooze creates it whole.
        for first in [false, true] {
            let update = self.client.update_item().table_name(&self.table).key("wearer_id", key.clone());
            let update = if first {
                let map = AttributeValue::M(HashMap::from([(rule.as_str().to_owned(), value.clone())]));
                update
                    .update_expression("SET snoozes = :map")
                    .condition_expression("attribute_exists(wearer_id) AND attribute_not_exists(snoozes)")
                    .expression_attribute_values(":map", map)
            } else {
                update
                    .update_expression("SET snoozes.#r = :s")
                    .condition_expression("attribute_exists(wearer_id) AND attribute_exists(snoozes)")
                    .expression_attribute_names("#r", rule.as_str())
                    .expression_attribute_values(":s", value.clone())
            };
            match update.send().await {
                Ok(_) => return Ok(true),
                Err(e) if is_conditional_check_failed(&e) => continue,
                Err(e) => return Err(store_error("UpdateItem", &self.table, e)),
            }
        }
        // Neither condition held: no profile (or the map appeared between the two calls: rare, the client retries).
        Ok(self.wearer(wearer_id).await?.is_some_and(|p| p.snoozes.get(&rule) == Some(snooze)))
    }
}

/// Reads only the limits of wearers' profiles (ingest-api's upload policy): one
/// GetItem of `thresholds`, no caregivers, nothing personal.
#[derive(Debug, Clone)]
pub struct DynamoWearerLimits {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoWearerLimits {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }
}

impl WearerLimits for DynamoWearerLimits {
    async fn limits(&self, wearer_id: &str) -> Result<Option<Thresholds>, StoreError> {
        #[derive(serde::Deserialize)]
        struct Limits {
            #[serde(default)]
            thresholds: Thresholds,
        }
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("wearer_id", AttributeValue::S(wearer_id.to_owned()))
            .projection_expression("wearer_id, thresholds")
            .send()
            .await
            .map_err(|e| store_error("GetItem", &self.table, e))?;
        match out.item {
            Some(item) => serde_dynamo::from_item::<_, Limits>(item)
                .map(|l| Some(l.thresholds))
                .map_err(|_| malformed("GetItem", &self.table, "thresholds")),
            None => Ok(None),
        }
    }
}

/// Caregiver account → wearers, the table [`crate::wearers`] describes.
#[derive(Debug, Clone)]
pub struct DynamoCaregiverLinks {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoCaregiverLinks {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// Links every caregiver of `profile` that has an account to the wearer.
    pub async fn link(&self, profile: &WearerProfile) -> Result<usize, StoreError> {
        let mut linked = 0;
        for sub in profile.caregivers.iter().filter_map(|c| c.sub.as_deref()).filter(|s| !s.is_empty()) {
            self.client
                .put_item()
                .table_name(&self.table)
                .item("caregiver_sub", AttributeValue::S(sub.to_owned()))
                .item("wearer_id", AttributeValue::S(profile.wearer_id.clone()))
                .send()
                .await
                .map_err(|e| store_error("PutItem", &self.table, e))?;
            linked += 1;
        }
        Ok(linked)
    }

    /// Makes the links of the wearer's caregivers' accounts match `new` (a wearer's
    /// profile just written, or `None` when it was deleted), given the profile it
    /// replaced: links the accounts of `new`, and removes those of `old` that are
    /// no longer there. Returns (linked, unlinked).
    pub async fn relink(
        &self,
        old: Option<&WearerProfile>,
        new: Option<&WearerProfile>,
    ) -> Result<(usize, usize), StoreError> {
        let linked = match new {
            Some(profile) => self.link(profile).await?,
            None => 0,
        };
        let mut unlinked = 0;
        if let Some(old) = old {
            let kept =
                |sub: &str| new.is_some_and(|n| n.wearer_id == old.wearer_id && n.caregiver_by_sub(sub).is_some());
            for sub in old.caregivers.iter().filter_map(|c| c.sub.as_deref()).filter(|s| !s.is_empty() && !kept(s)) {
                self.unlink(sub, &old.wearer_id).await?;
                unlinked += 1;
            }
        }
        Ok((linked, unlinked))
    }

    /// Moves the wearers' links from the account `old` to `new` (a caregiver's
    /// account changed, or was added or removed), so the care API follows the
    /// caregiver's record. Returns how many links were written and removed.
    pub async fn move_account(
        &self,
        old: Option<&str>,
        new: Option<&str>,
        wearers: &[String],
    ) -> Result<(usize, usize), StoreError> {
        let (old, new) = (old.filter(|s| !s.is_empty()), new.filter(|s| !s.is_empty()));
        if old == new {
            return Ok((0, 0));
        }
        let (mut linked, mut unlinked) = (0, 0);
        for wearer in wearers {
            if let Some(sub) = new {
                self.client
                    .put_item()
                    .table_name(&self.table)
                    .item("caregiver_sub", AttributeValue::S(sub.to_owned()))
                    .item("wearer_id", AttributeValue::S(wearer.clone()))
                    .send()
                    .await
                    .map_err(|e| store_error("PutItem", &self.table, e))?;
                linked += 1;
            }
            if let Some(sub) = old {
                self.unlink(sub, wearer).await?;
                unlinked += 1;
            }
        }
        Ok((linked, unlinked))
    }

    async fn unlink(&self, sub: &str, wearer_id: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("caregiver_sub", AttributeValue::S(sub.to_owned()))
            .key("wearer_id", AttributeValue::S(wearer_id.to_owned()))
            .send()
            .await
            .map_err(|e| store_error("DeleteItem", &self.table, e))?;
        Ok(())
    }

    /// The wearers linked to the account `sub`.
    pub async fn wearers_of(&self, sub: &str) -> Result<Vec<String>, StoreError> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("caregiver_sub = :s")
            .expression_attribute_values(":s", AttributeValue::S(sub.to_owned()))
            .into_paginator()
            .items()
            .send();
        let mut out = Vec::new();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| store_error("Query", &self.table, e))?;
            let id = item
                .get("wearer_id")
                .and_then(|v| v.as_s().ok())
                .ok_or_else(|| malformed("Query", &self.table, "wearer_id"))?;
            out.push(id.clone());
        }
        Ok(out)
    }
}

impl WearerDirectory for DynamoWearerDirectory {
    async fn wearer(&self, wearer_id: &str) -> Result<Option<WearerProfile>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("wearer_id", AttributeValue::S(wearer_id.to_owned()))
            .send()
            .await
            .map_err(|e| store_error("GetItem", &self.table, e))?;
        match out.item {
            Some(item) => Ok(Some(self.resolve("GetItem", item).await?)),
            None => Ok(None),
        }
    }
}
