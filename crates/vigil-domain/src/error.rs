//! The errors every storage adapter shares. Not a port itself (the ports
//! re-export it): the types the ports speak in use it too, and must not import
//! the ports.

/// Boxed source error of an adapter, kept for logs, never shown to clients.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A storage adapter's failure, with whether trying again can help (throttling,
/// timeouts, 5xx) so stream handlers can report the record for retry.
#[derive(Debug, thiserror::Error)]
#[error("{operation} on {resource} failed")]
pub struct StoreError {
    pub operation: &'static str,
    pub resource: String,
    pub retryable: bool,
    #[source]
    pub source: BoxError,
}
