use aws_lambda_events::event::kinesis::KinesisEvent;
use lambda_runtime::{LambdaEvent, run, service_fn, tracing};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tracing::init_default_subscriber();
    let sdk = vigil_aws::sdk::load().await;
    let archiver = raw_archiver::build(&vigil_lambda::ProcessEnv, &sdk).await?;
    let archiver = &archiver;
    run(service_fn(move |event: LambdaEvent<KinesisEvent>| async move {
        Ok::<_, std::convert::Infallible>(archiver.handle(event.payload).await)
    }))
    .await
}
