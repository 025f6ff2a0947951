//! The list prices the cost model uses, kept in one file (`prices.json` beside this
//! module) with their region and the date they were taken as of. Every price is in US
//! dollars per single unit (one request, one write unit, one GB-month...).

use serde::Deserialize;

/// `prices.json`, compiled in: `vigil cost` needs no file at run time.
pub const PRICES_JSON: &str = include_str!("prices.json");

/// List prices of one region on one date.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prices {
    pub region: String,
    /// The date the prices were published as of (YYYY-MM-DD).
    pub as_of: String,
    /// Where they come from, and the warning to check them.
    pub source: String,
    /// Lambda on arm64, per GB-second of billed duration.
    pub lambda_arm64_gb_second: f64,
    pub lambda_request: f64,
    /// API Gateway HTTP API, per request (in 512 KB units), the first 300 million a month.
    pub http_api_request_first_300m: f64,
    pub http_api_request_after_300m: f64,
    /// Kinesis Data Streams, provisioned mode.
    pub kinesis_shard_hour: f64,
    /// Retention beyond 24 hours (up to 7 days), per shard-hour.
    pub kinesis_extended_retention_shard_hour: f64,
    /// Per 25 KB PUT payload unit.
    pub kinesis_put_payload_unit: f64,
    pub kinesis_efo_consumer_shard_hour: f64,
    pub kinesis_efo_gb: f64,
    pub dynamodb_on_demand_write_unit: f64,
    pub dynamodb_on_demand_read_unit: f64,
    pub dynamodb_provisioned_wcu_hour: f64,
    pub dynamodb_provisioned_rcu_hour: f64,
    pub dynamodb_storage_gb_month: f64,
    /// Point-in-time recovery (continuous backups), per GB-month of table size.
    pub dynamodb_pitr_gb_month: f64,
    /// S3 Standard PUT (and COPY, POST, LIST) requests.
    pub s3_put: f64,
    pub s3_get: f64,
    pub s3_standard_gb_month: f64,
    pub s3_glacier_ir_gb_month: f64,
    /// Lifecycle transition of one object to Glacier Instant Retrieval.
    pub s3_transition_to_glacier_ir: f64,
    /// SNS mobile push, per notification.
    pub sns_mobile_push: f64,
    /// One SMS part to a US number (base price; carrier fees vary and come on top).
    pub sms_message_part_us: f64,
    /// One minute of an outbound voice call to a US number.
    pub voice_minute_us: f64,
    pub redshift_serverless_rpu_hour: f64,
    pub redshift_managed_storage_gb_month: f64,
    pub cloudwatch_logs_ingested_gb: f64,
    /// Ingestion into a log group of the Infrequent Access class (the API access log).
    pub cloudwatch_logs_infrequent_access_ingested_gb: f64,
    pub cloudwatch_logs_stored_gb_month: f64,
    /// One custom metric (name and dimensions), per month; EMF metrics are custom metrics.
    pub cloudwatch_custom_metric_month: f64,
    /// The seed design's EMR cluster: EC2 on-demand and the EMR fee, per instance-hour.
    pub ec2_m5_xlarge_hour: f64,
    pub emr_m5_xlarge_hour: f64,
    pub ec2_m5_2xlarge_hour: f64,
    pub emr_m5_2xlarge_hour: f64,
    pub ebs_gp3_gb_month: f64,
    pub quotas: Quotas,
}

/// Default service quotas of the region, for the capacity table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quotas {
    /// API Gateway's account-level throttle per region.
    pub http_api_requests_per_second: f64,
    /// Lambda's concurrent executions per account and region.
    pub lambda_concurrency: f64,
    /// Kinesis shards per account in the region.
    pub kinesis_shards: f64,
    pub kinesis_shard_write_bytes_per_second: f64,
    pub kinesis_shard_write_records_per_second: f64,
    /// Shared-throughput reads per shard, for all shared consumers together.
    pub kinesis_shard_read_bytes_per_second: f64,
    pub kinesis_efo_consumers_per_stream: f64,
    /// On-demand table throughput, per table.
    pub dynamodb_on_demand_table_write_units_per_second: f64,
    pub dynamodb_on_demand_table_read_units_per_second: f64,
    /// Provisioned write capacity, all tables of the account in the region.
    pub dynamodb_account_provisioned_write_units: f64,
}

impl Prices {
    /// The prices kept in the repository.
    ///
    /// # Errors
    /// If `prices.json` does not parse (a test reads it, so only an edit gets there).
    pub fn list() -> Result<Self, serde_json::Error> {
        serde_json::from_str(PRICES_JSON)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]
    use super::*;

    #[test]
    fn the_price_list_parses_and_says_its_region_and_date() {
        let p = Prices::list().unwrap();
        assert_eq!(p.region, "us-east-1");
        assert!(chrono::NaiveDate::parse_from_str(&p.as_of, "%Y-%m-%d").is_ok());
        assert!(p.source.contains("check before relying on them"));
        assert!(p.lambda_arm64_gb_second > 0.0 && p.dynamodb_on_demand_write_unit > 0.0);
    }
}
