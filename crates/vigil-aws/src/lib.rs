//! Vigil's AWS adapters: one config factory, one adapter per service, each
//! implementing a port of `vigil-domain`, and one retry policy they all use.
//! LocalStack, moto's server and AWS differ only by `AWS_ENDPOINT_URL`.
//!
//! Each service is a Cargo feature (`kinesis`, `dynamodb`, `s3`, `sns`,
//! `secretsmanager`, `voice`): a function enables what it calls and links nothing else.

pub mod dynamo;
pub mod retry;
pub mod sdk;

#[cfg(feature = "kinesis")]
pub mod kinesis;

// DynamoDB: devices, wearers, caregivers, rule state, alerts, deliveries, curated files, vitals.
#[cfg(feature = "dynamodb")]
pub mod alerts;
#[cfg(feature = "dynamodb")]
pub mod care;
#[cfg(feature = "dynamodb")]
pub mod caregivers;
#[cfg(feature = "dynamodb")]
pub mod curated_files;
#[cfg(feature = "dynamodb")]
pub mod days;
#[cfg(feature = "dynamodb")]
pub mod deliveries;
#[cfg(feature = "dynamodb")]
pub mod registry;
#[cfg(feature = "dynamodb")]
#[cfg(feature = "dynamodb")]
pub mod state;
#[cfg(feature = "dynamodb")]
pub mod vitals;
#[cfg(feature = "dynamodb")]
pub mod wearers;

// S3: the data lake and the quarantine.
#[cfg(feature = "s3")]
pub mod archive;
#[cfg(feature = "s3")]
pub mod quarantine;

// `vigil erase`: every table and bucket, searched and cleaned.
#[cfg(all(feature = "dynamodb", feature = "s3"))]
pub mod erasure;

#[cfg(feature = "sns")]
pub mod sns;

// End User Messaging SMS and Voice v2: voice calls (escalation).
#[cfg(feature = "voice")]
pub mod voice;

// Secrets Manager: the pseudonym key.
#[cfg(feature = "secretsmanager")]
pub mod secrets;
