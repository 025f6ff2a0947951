use lambda_http::{run, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    vigil_lambda::logging::init();
    let sdk = vigil_aws::sdk::from_env(&vigil_lambda::ProcessEnv)?;
    let link = ack_link::build(&vigil_lambda::ProcessEnv, &sdk).await?;
    let link = &link;
    run(service_fn(move |request| async move { Ok::<_, std::convert::Infallible>(link.handle(request).await) })).await
}
