//! The local AWS-compatible endpoint: where it is, whether it answers, and an
//! SDK config pointed at it.

use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;

/// LocalStack's port, which moto's server also takes here.
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:4566";

/// `AWS_ENDPOINT_URL`, or the local default.
pub fn url() -> String {
    std::env::var("AWS_ENDPOINT_URL").ok().filter(|v| !v.is_empty()).unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned())
}

/// Checks that something listens at the endpoint, with a message that says how
/// to start it when nothing does.
pub fn check(url: &str) -> Result<(), String> {
    let authority = url.split("://").nth(1).unwrap_or(url).split('/').next().unwrap_or("");
    let reachable = authority
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .is_some_and(|addr| TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok());
    if reachable {
        Ok(())
    } else {
        Err(format!(
            "no AWS-compatible endpoint answers at {url}. Start moto's server with \
             `bash localstack/endpoint.sh start` (or `make endpoint`), or LocalStack with \
             `docker compose -f localstack/docker-compose.yml up -d`, or set AWS_ENDPOINT_URL"
        ))
    }
}

/// An SDK config for the endpoint with the emulators' dummy credentials.
pub async fn sdk_config(url: &str) -> SdkConfig {
    let loader = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(url)
        .region(Region::new(std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".to_owned())))
        .credentials_provider(Credentials::new("test", "test", None, None, "vigil-local"));
    vigil_aws::sdk::configure(loader).load().await
}

/// For integration tests: the endpoint's SDK config, or a panic that says how to start it.
pub async fn require() -> SdkConfig {
    let url = url();
    if let Err(message) = check(&url) {
        panic!("{message}");
    }
    sdk_config(&url).await
}

/// A resource name unique to this process and call, so tests never share state.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}-{:08x}", std::process::id(), fastrand::u32(..))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_endpoint_is_reported_with_how_to_start_one() {
        // Port 9 (discard) is not served on loopback here.
        let message = check("http://127.0.0.1:9").unwrap_err();
        assert!(message.contains("http://127.0.0.1:9"), "{message}");
        assert!(message.contains("bash localstack/endpoint.sh start"), "{message}");
        assert!(check("not a url at all").is_err());
    }

    #[test]
    fn unique_names_differ() {
        assert_ne!(unique_name("t"), unique_name("t"));
    }
}
