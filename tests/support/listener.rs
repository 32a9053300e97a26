//! A local stand-in for CloudFormation's presigned S3 URL (docs/design.md, T5): it
//! records every request (method, headers, body) and answers 200, or 500 for
//! the first `failures` requests, or a redirect.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Lower-case names.
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

impl Recorded {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("the body is JSON")
    }
}

pub struct Listener {
    pub url: String,
    recorded: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Listener {
    pub async fn start() -> Self {
        Self::failing_first(0).await
    }

    /// Answers 500 to the first `failures` requests.
    pub async fn failing_first(failures: usize) -> Self {
        Self::answering(failures, None).await
    }

    /// Answers every request with a redirect to `location`.
    pub async fn redirecting_to(location: &str) -> Self {
        Self::answering(0, Some(location.to_string())).await
    }

    /// Answers every request with `status` and the XML error `body`, as an
    /// AWS query API refuses a call.
    pub async fn refusing(status: &str, body: &str) -> Self {
        let answer = Answer::Refuse(status.to_string(), body.to_string());
        Self::with(0, answer).await
    }

    async fn answering(failures: usize, redirect: Option<String>) -> Self {
        let answer = redirect.map_or(Answer::Ok, Answer::Redirect);
        Self::with(failures, answer).await
    }

    async fn with(failures: usize, answer: Answer) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/response?X-Amz-Signature=secret",
            listener.local_addr().unwrap()
        );
        let recorded = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::new(AtomicUsize::new(0));
        let log = recorded.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (log, seen, answer) = (log.clone(), seen.clone(), answer.clone());
                tokio::spawn(async move {
                    let (status, body) =
                        match (seen.fetch_add(1, Ordering::SeqCst) < failures, answer) {
                            (true, _) => ("500 Internal Server Error".to_string(), String::new()),
                            (false, Answer::Redirect(to)) => (
                                format!("307 Temporary Redirect\r\nLocation: {to}"),
                                String::new(),
                            ),
                            (false, Answer::Refuse(status, body)) => (status, body),
                            (false, Answer::Ok) => ("200 OK".to_string(), String::new()),
                        };
                    read(stream, &log, &status, &body).await
                });
            }
        });
        Self {
            url,
            recorded,
            task,
        }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.recorded.lock().unwrap().clone()
    }
}

/// What the listener answers once past its failures.
#[derive(Clone)]
enum Answer {
    Ok,
    Redirect(String),
    /// A status and an XML error body.
    Refuse(String, String),
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads one request, records it, then answers (so a test that has its
/// answer finds it recorded).
async fn read(
    mut stream: TcpStream,
    log: &Mutex<Vec<Recorded>>,
    status: &str,
    answer: &str,
) -> Option<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.lines();
    let mut request_line = lines.next()?.split_whitespace();
    let (method, path) = (
        request_line.next()?.to_string(),
        request_line.next()?.to_string(),
    );
    let headers: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[head_end..]).to_string();
    log.lock().unwrap().push(Recorded {
        method,
        path,
        headers,
        body,
    });
    let length = answer.len();
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/xml\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all((head + answer).as_bytes()).await.ok()
}
