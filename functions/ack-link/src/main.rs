use lambda_http::{run, service_fn, tracing};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tracing::init_default_subscriber();
    let sdk = vigil_aws::sdk::load().await;
    let link = ack_link::build(&vigil_lambda::ProcessEnv, &sdk).await?;
    let link = &link;
    run(service_fn(move |request| async move { Ok::<_, std::convert::Infallible>(link.handle(request).await) })).await
}
