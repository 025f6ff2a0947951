//! An endpoint that accepts TCP connections and never answers: what a stalled
//! AWS service or database looks like to a client. Point SDK clients at
//! [`Stalled::url`] to see a function keep to its time budget.

use tokio::net::TcpListener;

/// A listener on 127.0.0.1 that accepts every connection, reads nothing and
/// writes nothing, keeping each one open until it is dropped.
#[derive(Debug)]
pub struct Stalled {
    addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Stalled {
    /// Starts listening on a free port (within a Tokio runtime).
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        Self { addr, task }
    }

    /// `http://127.0.0.1:<port>`, for `AWS_ENDPOINT_URL` or an SDK config.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }
}

impl Drop for Stalled {
    fn drop(&mut self) {
        self.task.abort();
    }
}
