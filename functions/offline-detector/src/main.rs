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
    let detector = &detector;
    // The scheduled event carries nothing the detector needs; its clock is the input.
    run(service_fn(move |_: LambdaEvent<serde_json::Value>| async move {
        detector.run(chrono::Utc::now()).await.map_err(lambda_runtime::Error::from)
    }))
    .await
}
