//! An HTTP proxy in front of moto that answers requests with EC2's
//! `RequestLimitExceeded` (HTTP 503) before they reach moto: a fixed 30 % of
//! them, so that the SDK's own retry is what gets tested, or those EC2's
//! request buckets would refuse (the strict model's `Buckets`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::strict::{Buckets, Op};

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

/// Which requests are throttled.
enum Policy {
    /// Requests number 0, 3 and 6 of every ten.
    ThreeInTen,
    /// Those EC2's buckets refuse, by the request's `Action`.
    Buckets(Mutex<Buckets>),
}

impl Policy {
    fn throttles(&self, n: u64, request: &[u8]) -> bool {
        match self {
            Self::ThreeInTen => matches!(n % 10, 0 | 3 | 6),
            Self::Buckets(buckets) => {
                let body = String::from_utf8_lossy(request);
                let action = body.split("Action=").nth(1).unwrap_or_default();
                let action = action.split('&').next().unwrap_or_default();
                let Some(op) = Op::of_action(action) else {
                    return false;
                };
                let now = tokio::time::Instant::now();
                !buckets.lock().unwrap().take(op, now)
            }
        }
    }
}

impl ThrottlingProxy {
    /// Proxies to `upstream` (`http://host:port`); requests number 0, 3 and 6
    /// of every ten are throttled.
    pub async fn start(upstream: &str) -> Self {
        Self::with(upstream, Policy::ThreeInTen).await
    }

    /// Proxies to `upstream`, throttling what `buckets` refuse.
    pub async fn with_buckets(upstream: &str, buckets: Buckets) -> Self {
        Self::with(upstream, Policy::Buckets(Mutex::new(buckets))).await
    }

    async fn with(upstream: &str, policy: Policy) -> Self {
        let upstream = upstream.trim_start_matches("http://").to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicU64::new(0));
        let throttled = Arc::new(AtomicU64::new(0));
        let (r, t, policy) = (requests.clone(), throttled.clone(), Arc::new(policy));
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (upstream, r, t, p) = (upstream.clone(), r.clone(), t.clone(), policy.clone());
                tokio::spawn(async move {
                    let _ = serve(client, &upstream, &r, &t, &p).await;
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
    policy: &Policy,
) -> std::io::Result<()> {
    let request = read_request(&mut client).await?;
    if request.is_empty() {
        return Ok(());
    }
    let n = requests.fetch_add(1, Ordering::SeqCst);
    if policy.throttles(n, &request) {
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
