use aws_lambda_events::event::kinesis::KinesisEvent;
use lambda_runtime::{LambdaEvent, run, service_fn, tracing};
use vigil_alerting::NoSink;
use vigil_aws::alert_path::AlertPathConfig;

use alert_processor::Processor;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tracing::init_default_subscriber();
    let config = AlertPathConfig::from_source(&vigil_aws::env::ProcessEnv)?;
    let sdk = vigil_aws::sdk::load().await;
    let curated = vigil_aws::curated_alerts::from_env(&vigil_aws::env::ProcessEnv, &sdk).await?;
    let processor = Processor { alerting: config.alerting(&sdk), quarantine: config.quarantine(&sdk) };
    let (processor, curated) = (&processor, &curated);
    run(service_fn(move |event: LambdaEvent<KinesisEvent>| async move {
        let response = match curated {
            Some(sink) => processor.handle_with(event.payload, sink).await,
            None => processor.handle_with(event.payload, &NoSink).await,
        };
        Ok::<_, std::convert::Infallible>(response)
    }))
    .await
}
