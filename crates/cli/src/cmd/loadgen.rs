//! A lean HTTP/1.1 load generator for `shinrai bench store`: keep-alive connections on loopback
//! posting pre-built requests, so the client's own CPU takes as little as possible from the
//! server it measures on the same cores.
//!
//! Each connection sends one request, reads the whole answer (status line, headers up to the
//! blank line, then `Content-Length` bytes of body), records the latency and sends the next: a
//! closed-loop client like `wrk` with one request in flight per connection. Only what the
//! benchmark needs of HTTP is parsed; an answer it cannot frame (no `Content-Length`, chunked,
//! a closed connection) is an error, never a guess.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What to post: one path and header block for every body.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Request target, e.g. `/entries`.
    pub path: String,
    /// Extra header lines (`Name: value`), e.g. authorization and content type.
    pub headers: Vec<String>,
    /// Request bodies, posted in order, each once.
    pub bodies: Arc<Vec<Vec<u8>>>,
    /// Status every answer must have.
    pub expect_status: u16,
}

/// The outcome of a run.
#[derive(Debug)]
pub struct Outcome {
    /// Wall time from the first request to the last answer.
    pub elapsed: Duration,
    /// Latency of each request (send to the end of the answer), in no particular order.
    pub latencies: Vec<Duration>,
}

/// Posts every body of `plan` to `addr` over `connections` keep-alive connections.
pub async fn run(addr: SocketAddr, plan: Plan, connections: usize) -> Result<Outcome> {
    let mut head = format!("POST {} HTTP/1.1\r\nHost: {addr}\r\n", plan.path);
    for h in &plan.headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str("Content-Length: ");
    let head: Arc<[u8]> = Arc::from(head.into_bytes());
    let next = Arc::new(AtomicUsize::new(0));
    let mut streams = Vec::with_capacity(connections);
    for _ in 0..connections.max(1) {
        let s = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        s.set_nodelay(true)?;
        streams.push(s);
    }
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(streams.len());
    for s in streams {
        let (head, next, bodies) = (head.clone(), next.clone(), plan.bodies.clone());
        let expect = plan.expect_status;
        tasks.push(tokio::spawn(async move {
            connection(s, &head, &next, &bodies, expect).await
        }));
    }
    let mut latencies = Vec::with_capacity(plan.bodies.len());
    for t in tasks {
        latencies.extend(t.await.map_err(|e| anyhow!("load task: {e}"))??);
    }
    Ok(Outcome {
        elapsed: start.elapsed(),
        latencies,
    })
}

async fn connection(
    mut s: TcpStream,
    head: &[u8],
    next: &AtomicUsize,
    bodies: &[Vec<u8>],
    expect: u16,
) -> Result<Vec<Duration>> {
    let mut out = Vec::new();
    let mut req = Vec::with_capacity(head.len() + 2048);
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(body) = bodies.get(i) else {
            return Ok(out);
        };
        req.clear();
        req.extend_from_slice(head);
        req.extend_from_slice(body.len().to_string().as_bytes());
        req.extend_from_slice(b"\r\n\r\n");
        req.extend_from_slice(body);
        let t = Instant::now();
        s.write_all(&req).await.context("sending a request")?;
        let status = read_response(&mut s, &mut buf).await?;
        if status != expect {
            bail!("request {i} answered {status}, expected {expect}");
        }
        out.push(t.elapsed());
    }
}

/// Reads one response; returns its status. `buf` is scratch space (grown if a head is larger).
async fn read_response(s: &mut TcpStream, buf: &mut Vec<u8>) -> Result<u16> {
    let mut filled = 0;
    let head_end = loop {
        if filled == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let n = s.read(&mut buf[filled..]).await.context("reading")?;
        if n == 0 {
            bail!("the server closed the connection");
        }
        let from = filled.saturating_sub(3);
        filled += n;
        if let Some(p) = find(&buf[from..filled], b"\r\n\r\n") {
            break from + p + 4;
        }
    };
    let (status, length) = parse_head(&buf[..head_end])?;
    let mut remaining = length.saturating_sub(filled - head_end);
    if filled - head_end > length {
        bail!("the server sent more than one answer to one request");
    }
    while remaining > 0 {
        let want = remaining.min(buf.len());
        let n = s.read(&mut buf[..want]).await.context("reading a body")?;
        if n == 0 {
            bail!("the server closed the connection mid-body");
        }
        remaining -= n;
    }
    Ok(status)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Status code and `Content-Length` of a response head.
fn parse_head(head: &[u8]) -> Result<(u16, usize)> {
    let text = std::str::from_utf8(head).context("response head is not UTF-8")?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| anyhow!("not an HTTP/1.1 status line: {status_line:?}"))?;
    let mut length = None;
    for l in lines {
        let Some((name, value)) = l.split_once(':') else {
            continue;
        };
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(
                value
                    .trim()
                    .parse::<usize>()
                    .context("bad Content-Length")?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            bail!("chunked answers are not supported by the load generator");
        }
    }
    Ok((
        status,
        length.ok_or_else(|| anyhow!("answer without Content-Length"))?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_and_length() {
        let (s, n) =
            parse_head(b"HTTP/1.1 201 Created\r\ncontent-type: x\r\ncontent-length: 42\r\n\r\n")
                .expect("a valid head");
        assert_eq!((s, n), (201, 42));
    }

    #[test]
    fn refuses_unframed_answers() {
        assert!(parse_head(b"HTTP/1.1 200 OK\r\n\r\n").is_err());
        assert!(parse_head(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n").is_err());
        assert!(parse_head(b"SSH-2.0\r\n\r\n").is_err());
    }

    #[tokio::test]
    async fn posts_every_body_once_and_checks_the_status() {
        use tokio::io::AsyncBufReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("test server");
        let addr = listener.local_addr().expect("test server");
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen2 = seen.clone();
        tokio::spawn(async move {
            loop {
                let (s, _) = listener.accept().await.expect("test server");
                let seen = seen2.clone();
                tokio::spawn(async move {
                    let mut r = tokio::io::BufReader::new(s);
                    loop {
                        let mut len = 0;
                        let mut line = String::new();
                        loop {
                            line.clear();
                            if r.read_line(&mut line).await.expect("test server") == 0 {
                                return;
                            }
                            if line == "\r\n" {
                                break;
                            }
                            if let Some(v) =
                                line.to_ascii_lowercase().strip_prefix("content-length:")
                            {
                                len = v.trim().parse().expect("test server");
                            }
                        }
                        let mut body = vec![0; len];
                        r.read_exact(&mut body).await.expect("test server");
                        let status = if body == b"bad" { 400 } else { 201 };
                        seen.lock().expect("test server").push(body);
                        let answer =
                            format!("HTTP/1.1 {status} X\r\nContent-Length: 5\r\n\r\nhello");
                        r.get_mut()
                            .write_all(answer.as_bytes())
                            .await
                            .expect("test server");
                    }
                });
            }
        });
        let bodies: Vec<Vec<u8>> = (0..50).map(|i| format!("body-{i}").into_bytes()).collect();
        let plan = Plan {
            path: "/entries".into(),
            headers: vec!["Content-Type: application/json".into()],
            bodies: Arc::new(bodies.clone()),
            expect_status: 201,
        };
        let out = run(addr, plan.clone(), 4).await.expect("the run succeeds");
        assert_eq!(out.latencies.len(), 50);
        let mut got = seen.lock().expect("lock").clone();
        got.sort();
        let mut want = bodies;
        want.sort();
        assert_eq!(got, want);
        let bad = Plan {
            bodies: Arc::new(vec![b"bad".to_vec()]),
            ..plan
        };
        let e = run(addr, bad, 1).await.expect_err("a 400 fails the run");
        assert!(e.to_string().contains("answered 400"), "{e}");
    }
}
