//! Running Vigil on one machine: talking to a local AWS-compatible endpoint
//! (moto's server or LocalStack on :4566), provisioning resources on any
//! endpoint (AWS included), and reading the stream back for tests and demos.

pub mod chaos;
pub mod declaration;
pub mod endpoint;
pub mod esm;
pub mod moto;
pub mod provision;
pub mod stream;
pub mod voice;
