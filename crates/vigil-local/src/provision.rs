//! Creates Vigil's resources on an endpoint, idempotently: running it twice, or
//! against resources that already exist, changes nothing.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};
use aws_sdk_kinesis::types::StreamStatus;

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("creating stream {stream}: {message}")]
    Stream { stream: String, message: String },
    #[error("creating table {table}: {message}")]
    Table { table: String, message: String },
    #[error("creating bucket {bucket}: {message}")]
    Bucket { bucket: String, message: String },
    #[error("stream {stream} did not become ACTIVE within {seconds} s")]
    NotActive { stream: String, seconds: u64 },
}

/// The names of everything Vigil needs on the endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resources {
    pub stream: String,
    pub stream_shards: i32,
    pub devices_table: String,
    /// Wearer profiles, keyed `wearer_id`.
    pub wearers_table: String,
    /// Caregiver records (contact details), keyed `caregiver_id`; never expire.
    pub caregivers_table: String,
    /// Per-wearer rule state, keyed `wearer_id`.
    pub state_table: String,
    /// Alerts, keyed `alert_id`, with the alerts-by-wearer index
    /// ([`vigil_aws::alerts::ALERTS_BY_WEARER_INDEX`]).
    pub alerts_table: String,
    /// Caregiver account → wearers, keyed `caregiver_sub` + `wearer_id`.
    pub caregiver_links_table: String,
    /// "Sent" records of notifications, keyed `delivery_key`.
    pub deliveries_table: String,
    /// Poison stream records.
    pub quarantine_bucket: String,
    /// The data lake: `raw/` (gzip NDJSON, as received) and `curated/` (Parquet,
    /// pseudonymized) prefixes.
    pub data_bucket: String,
    /// Curated files registered for the warehouse loader, keyed `file_key`, with
    /// the `status-created_at-index` the loader queries (see
    /// [`curated_files_index`]).
    pub curated_files_table: String,
    /// Personal vitals (TTL), keyed `wearer_id` + `sk` (time bucket); the newest
    /// items give the wearer's latest state.
    pub vitals_table: String,
    /// Each wearer's daily picture (TTL), keyed `wearer_id` + `date` (local).
    pub days_table: String,
}

impl Resources {
    /// The names the local runner and the CLI use by default.
    pub fn local_defaults() -> Self {
        Self {
            stream: "vigil-readings".into(),
            stream_shards: 2,
            devices_table: "vigil-devices".into(),
            wearers_table: "vigil-wearers".into(),
            caregivers_table: "vigil-caregivers".into(),
            state_table: "vigil-wearer-state".into(),
            alerts_table: "vigil-alerts".into(),
            caregiver_links_table: "vigil-caregiver-links".into(),
            deliveries_table: "vigil-deliveries".into(),
            quarantine_bucket: "vigil-quarantine".into(),
            data_bucket: "vigil-data".into(),
            curated_files_table: "vigil-curated-files".into(),
            vitals_table: "vigil-vitals".into(),
            days_table: "vigil-days".into(),
        }
    }

    /// Fresh names for one test.
    pub fn unique(prefix: &str) -> Self {
        Self {
            stream: crate::endpoint::unique_name(&format!("{prefix}-readings")),
            stream_shards: 2,
            devices_table: crate::endpoint::unique_name(&format!("{prefix}-devices")),
            wearers_table: crate::endpoint::unique_name(&format!("{prefix}-wearers")),
            caregivers_table: crate::endpoint::unique_name(&format!("{prefix}-caregivers")),
            state_table: crate::endpoint::unique_name(&format!("{prefix}-state")),
            alerts_table: crate::endpoint::unique_name(&format!("{prefix}-alerts")),
            caregiver_links_table: crate::endpoint::unique_name(&format!("{prefix}-links")),
            deliveries_table: crate::endpoint::unique_name(&format!("{prefix}-deliveries")),
            // Bucket names: lower case, at most 63 characters.
            quarantine_bucket: crate::endpoint::unique_name(&format!("{prefix}-quarantine")).to_lowercase(),
            data_bucket: crate::endpoint::unique_name(&format!("{prefix}-data")).to_lowercase(),
            curated_files_table: crate::endpoint::unique_name(&format!("{prefix}-curated-files")),
            vitals_table: crate::endpoint::unique_name(&format!("{prefix}-vitals")),
            days_table: crate::endpoint::unique_name(&format!("{prefix}-days")),
        }
    }
}

pub async fn provision(sdk: &SdkConfig, resources: &Resources) -> Result<(), ProvisionError> {
    create_stream(&aws_sdk_kinesis::Client::new(sdk), &resources.stream, resources.stream_shards).await?;
    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    create_table(&dynamodb, &resources.devices_table, "device_id", None).await?;
    create_table(&dynamodb, &resources.wearers_table, "wearer_id", None).await?;
    create_table(&dynamodb, &resources.caregivers_table, "caregiver_id", None).await?;
    create_table(&dynamodb, &resources.state_table, "wearer_id", None).await?;
    ensure_index(&dynamodb, &resources.state_table, &state_check_index()).await?;
    create_table(&dynamodb, &resources.alerts_table, "alert_id", None).await?;
    ensure_index(&dynamodb, &resources.alerts_table, &alerts_by_wearer_index()).await?;
    create_table(&dynamodb, &resources.caregiver_links_table, "caregiver_sub", Some("wearer_id")).await?;
    create_table(&dynamodb, &resources.deliveries_table, "delivery_key", None).await?;
    for index in deliveries_indexes() {
        ensure_index(&dynamodb, &resources.deliveries_table, &index).await?;
    }
    create_bucket(sdk, &resources.quarantine_bucket).await?;
    create_bucket(sdk, &resources.data_bucket).await?;
    create_table(&dynamodb, &resources.curated_files_table, "file_key", None).await?;
    ensure_index(&dynamodb, &resources.curated_files_table, &curated_files_index()).await?;
    create_table(&dynamodb, &resources.vitals_table, "wearer_id", Some("sk")).await?;
    create_table(&dynamodb, &resources.days_table, "wearer_id", Some("date")).await?;
    // The tables whose items expire, as the CDK app declares them (docs/storage.md, "Retention").
    for table in [
        &resources.state_table,
        &resources.alerts_table,
        &resources.deliveries_table,
        &resources.curated_files_table,
        &resources.vitals_table,
        &resources.days_table,
    ] {
        enable_ttl(&dynamodb, table).await?;
    }
    Ok(())
}

/// Turns on DynamoDB TTL on `expires_at` unless it is on already.
pub async fn enable_ttl(client: &aws_sdk_dynamodb::Client, table: &str) -> Result<(), ProvisionError> {
    use aws_sdk_dynamodb::types::{TimeToLiveSpecification, TimeToLiveStatus};
    let attribute = vigil_domain::retention::EXPIRES_AT;
    let err = |message: String| ProvisionError::Table { table: table.to_owned(), message };
    let current = client
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .map_err(|e| err(format!("{}", aws_sdk_dynamodb::error::DisplayErrorContext(&e))))?;
    let ttl = current.time_to_live_description();
    if ttl.and_then(|d| d.time_to_live_status()) == Some(&TimeToLiveStatus::Enabled)
        && ttl.and_then(|d| d.attribute_name()) == Some(attribute)
    {
        return Ok(());
    }
    let spec = TimeToLiveSpecification::builder()
        .attribute_name(attribute)
        .enabled(true)
        .build()
        .map_err(|e| err(e.to_string()))?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(spec)
        .send()
        .await
        .map_err(|e| err(format!("{}", aws_sdk_dynamodb::error::DisplayErrorContext(&e))))?;
    Ok(())
}

/// Creates a bucket unless it exists.
pub async fn create_bucket(sdk: &SdkConfig, bucket: &str) -> Result<(), ProvisionError> {
    let quarantine = vigil_aws::quarantine::S3Quarantine::new(vigil_aws::sdk::s3(sdk), bucket);
    quarantine.create_bucket().await.map_err(|e| {
        // The whole chain: the service's code and message are in the sources.
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            message.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        ProvisionError::Bucket { bucket: bucket.to_owned(), message }
    })
}

/// Creates a stream unless it exists, then waits until it is ACTIVE.
pub async fn create_stream(client: &aws_sdk_kinesis::Client, stream: &str, shards: i32) -> Result<(), ProvisionError> {
    let err = |message: String| ProvisionError::Stream { stream: stream.to_owned(), message };
    if let Err(e) = client.create_stream().stream_name(stream).shard_count(shards).send().await {
        let exists = e.as_service_error().is_some_and(|s| s.is_resource_in_use_exception());
        if !exists {
            return Err(err(format!("{}", aws_sdk_kinesis::error::DisplayErrorContext(&e))));
        }
    }
    for _ in 0..120 {
        let summary = client
            .describe_stream_summary()
            .stream_name(stream)
            .send()
            .await
            .map_err(|e| err(format!("{}", aws_sdk_kinesis::error::DisplayErrorContext(&e))))?;
        if summary.stream_description_summary().map(|d| d.stream_status()) == Some(&StreamStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(ProvisionError::NotActive { stream: stream.to_owned(), seconds: 60 })
}

/// Creates an on-demand table with a string hash key (and optional string range
/// key) unless it exists.
pub async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    hash_key: &str,
    range_key: Option<&str>,
) -> Result<(), ProvisionError> {
    let err = |message: String| ProvisionError::Table { table: table.to_owned(), message };
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder().attribute_name(name).key_type(kind).build().map_err(|e| err(e.to_string()))
    };
    let attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|e| err(e.to_string()))
    };
    let mut request = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(hash_key, KeyType::Hash)?)
        .attribute_definitions(attr(hash_key)?);
    if let Some(range) = range_key {
        request = request.key_schema(key(range, KeyType::Range)?).attribute_definitions(attr(range)?);
    }
    match request.send().await {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("ResourceInUseException") => Ok(()),
        Err(e) => Err(err(format!("{}", aws_sdk_dynamodb::error::DisplayErrorContext(&e)))),
    }
}

/// A global secondary index with string keys, as the CDK app declares it.
#[derive(Debug, Clone)]
pub struct Index {
    pub name: &'static str,
    pub hash_key: &'static str,
    pub range_key: &'static str,
    /// Non-key attributes projected; `None` projects every attribute, `Some(&[])` the keys only.
    pub include: Option<&'static [&'static str]>,
}

/// The warehouse loader's index of the curated-files table
/// ([`vigil_warehouse::aws::registry::PENDING_INDEX`]).
pub fn curated_files_index() -> Index {
    use vigil_warehouse::aws::registry::{PENDING_INDEX, PENDING_INDEX_ATTRIBUTES};
    Index { name: PENDING_INDEX, hash_key: "status", range_key: "created_at", include: Some(&PENDING_INDEX_ATTRIBUTES) }
}

/// The offline detector's index of the state table: the wearers due for a check
/// ([`vigil_aws::state::CHECK_INDEX`], keys only).
pub fn state_check_index() -> Index {
    Index { name: vigil_aws::state::CHECK_INDEX, hash_key: "check_shard", range_key: "check_at", include: Some(&[]) }
}

/// The caregivers' API's index of the alerts table.
pub fn alerts_by_wearer_index() -> Index {
    Index {
        name: vigil_aws::alerts::ALERTS_BY_WEARER_INDEX,
        hash_key: "wearer_id",
        range_key: "raised_at",
        include: None,
    }
}

/// The deliveries table's indexes: what is due (escalation steps, quiet hours) and
/// the SMS sent to a number (to match a reply).
pub fn deliveries_indexes() -> [Index; 2] {
    use vigil_aws::deliveries::{DUE_INDEX, PHONE_INDEX};
    [
        Index { name: DUE_INDEX, hash_key: "due_shard", range_key: "not_before", include: None },
        Index {
            name: PHONE_INDEX,
            hash_key: "phone",
            range_key: "sent_at",
            include: Some(&["alert_id", "caregiver_id"]),
        },
    ]
}

/// Adds `index` to `table` unless it has it (a table created before the index existed gets it too).
pub async fn ensure_index(client: &aws_sdk_dynamodb::Client, table: &str, index: &Index) -> Result<(), ProvisionError> {
    use aws_sdk_dynamodb::types::{
        CreateGlobalSecondaryIndexAction, GlobalSecondaryIndexUpdate, Projection, ProjectionType,
    };

    let err = |message: String| ProvisionError::Table { table: table.to_owned(), message };
    let described = client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(|e| err(format!("{}", aws_sdk_dynamodb::error::DisplayErrorContext(&e))))?;
    let has_index = described
        .table()
        .map(|t| t.global_secondary_indexes())
        .is_some_and(|indexes| indexes.iter().any(|i| i.index_name() == Some(index.name)));
    if has_index {
        return Ok(());
    }
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder().attribute_name(name).key_type(kind).build().map_err(|e| err(e.to_string()))
    };
    let attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|e| err(e.to_string()))
    };
    let projection = match index.include {
        Some([]) => Projection::builder().projection_type(ProjectionType::KeysOnly).build(),
        Some(attributes) => Projection::builder()
            .projection_type(ProjectionType::Include)
            .set_non_key_attributes(Some(attributes.iter().map(|a| (*a).to_owned()).collect()))
            .build(),
        None => Projection::builder().projection_type(ProjectionType::All).build(),
    };
    let create = CreateGlobalSecondaryIndexAction::builder()
        .index_name(index.name)
        .key_schema(key(index.hash_key, KeyType::Hash)?)
        .key_schema(key(index.range_key, KeyType::Range)?)
        .projection(projection)
        .build()
        .map_err(|e| err(e.to_string()))?;
    match client
        .update_table()
        .table_name(table)
        .attribute_definitions(attr(index.hash_key)?)
        .attribute_definitions(attr(index.range_key)?)
        .global_secondary_index_updates(GlobalSecondaryIndexUpdate::builder().create(create).build())
        .send()
        .await
    {
        Ok(_) => Ok(()),
        // Another provision added it meanwhile.
        Err(e)
            if e.code() == Some("ValidationException") && e.message().is_some_and(|m| m.contains("already exists")) =>
        {
            Ok(())
        }
        Err(e) => Err(err(format!("{}", aws_sdk_dynamodb::error::DisplayErrorContext(&e)))),
    }
}
