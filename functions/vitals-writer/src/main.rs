use aws_lambda_events::event::kinesis::KinesisEvent;
use lambda_runtime::{LambdaEvent, run, service_fn, tracing};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tracing::init_default_subscriber();
    let sdk = vigil_aws::sdk::load().await;
    let writer = vitals_writer::build(&vigil_lambda::ProcessEnv, &sdk).await?;
    let writer = &writer;
    run(service_fn(move |event: LambdaEvent<KinesisEvent>| async move {
        Ok::<_, std::convert::Infallible>(writer.handle(event.payload).await)
    }))
    .await
}
