use aws_lambda_events::event::sns::SnsEvent;
use lambda_runtime::{LambdaEvent, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    vigil_lambda::logging::init();
    let sdk = vigil_aws::sdk::from_env(&vigil_lambda::ProcessEnv)?;
    let reply = sms_reply::build(&vigil_lambda::ProcessEnv, &sdk).await?;
    let reply = &reply;
    // An SNS subscription invokes asynchronously: an error here makes Lambda retry the
    // event (twice), and the handler recognizes what an earlier attempt did.
    run(service_fn(move |event: LambdaEvent<SnsEvent>| async move {
        let deadline = vigil_lambda::Deadline::of(&event.context, sms_reply::DEADLINE_MARGIN);
        reply.handle_within(event.payload, chrono::Utc::now(), deadline).await.map_err(lambda_runtime::Error::from)
    }))
    .await
}
