use lambda_http::{run, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    vigil_lambda::logging::init();
    let sdk = vigil_aws::sdk::from_env(&vigil_lambda::ProcessEnv)?;
    let care = care_api::build(&vigil_lambda::ProcessEnv, &sdk).await?;
    let care = &care;
    run(service_fn(move |request| async move { Ok::<_, std::convert::Infallible>(care.handle(request).await) })).await
}
