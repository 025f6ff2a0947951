use lambda_runtime::{LambdaEvent, run, service_fn, tracing};
use vigil_aws::alert_path::AlertPathConfig;

use offline_detector::{Detector, DetectorConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tracing::init_default_subscriber();
    let source = vigil_aws::env::ProcessEnv;
    let tables = AlertPathConfig::from_source(&source)?;
    let sdk = vigil_aws::sdk::load().await;
    let detector = Detector { alerting: tables.alerting(&sdk), config: DetectorConfig::from_source(&source)? };
    let curated = vigil_aws::curated_alerts::from_env(&source, &sdk).await?;
    let (detector, curated) = (&detector, &curated);
    // The scheduled event carries nothing the detector needs; its clock is the input.
    run(service_fn(move |_: LambdaEvent<serde_json::Value>| async move {
        let now = chrono::Utc::now();
        let summary = match curated {
            Some(sink) => detector.run_with(now, sink).await,
            None => detector.run_with(now, &vigil_alerting::NoSink).await,
        };
        summary.map_err(lambda_runtime::Error::from)
    }))
    .await
}
