//! An HTTP proxy in front of moto that answers a fixed 30 % of requests with
//! EC2's `RequestLimitExceeded` (HTTP 503) before they reach moto, so the
//! SDK's own retry is what gets tested.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const THROTTLED: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
<Response><Errors><Error><Code>RequestLimitExceeded</Code>\
<Message>Request limit exceeded.</Message></Error></Errors>\
<RequestID>throttled</RequestID></Response>";

pub struct ThrottlingProxy {
    pub endpoint: String,
    requests: Arc<AtomicU64>,
    throttled: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl ThrottlingProxy {
    /// Proxies to `upstream` (`http://host:port`); requests number 0, 3 and 6
    /// of every ten are throttled.
    pub async fn start(upstream: &str) -> Self {
        let upstream = upstream.trim_start_matches("http://").to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicU64::new(0));
        let throttled = Arc::new(AtomicU64::new(0));
        let (r, t) = (requests.clone(), throttled.clone());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (upstream, r, t) = (upstream.clone(), r.clone(), t.clone());
                tokio::spawn(async move {
                    let _ = serve(client, &upstream, &r, &t).await;
                });
            }
        });
        Self {
            endpoint,
            requests,
            throttled,
            task,
        }
    }

    pub fn counts(&self) -> (u64, u64) {
        let load = |c: &AtomicU64| c.load(Ordering::SeqCst);
        (load(&self.requests), load(&self.throttled))
    }
}

impl Drop for ThrottlingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One request per connection; every response closes it.
async fn serve(
    mut client: TcpStream,
    upstream: &str,
    requests: &AtomicU64,
    throttled: &AtomicU64,
) -> std::io::Result<()> {
    let request = read_request(&mut client).await?;
    if request.is_empty() {
        return Ok(());
    }
    let n = requests.fetch_add(1, Ordering::SeqCst);
    if matches!(n % 10, 0 | 3 | 6) {
        throttled.fetch_add(1, Ordering::SeqCst);
        let response = format!(
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/xml\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{THROTTLED}",
            THROTTLED.len()
        );
        return client.write_all(response.as_bytes()).await;
    }
    let mut server = TcpStream::connect(upstream).await?;
    server.write_all(&request).await?;
    let mut response = Vec::new();
    server.read_to_end(&mut response).await?;
    client.write_all(&response).await
}

/// The request's head and body, by its Content-Length.
async fn read_request(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(Vec::new());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(buf)
}
