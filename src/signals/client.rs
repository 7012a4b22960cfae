//! A bounded Prometheus client: instant queries over HTTP(S) with a time
//! limit, a response-size limit and a short back-off after a failure.
//!
//! It rides on the same hyper + rustls stack as ChatOps' outbound
//! requests ([`crate::chatops::outbound`]). Every failure is a value
//! ([`PromError`]); callers diagnose without metrics and say why. After a
//! timeout or an unreachable server the client answers
//! [`PromError::BackingOff`] for [`BACKOFF`] without asking again, so a
//! hung Prometheus costs one time limit, not one per crash.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use http::{Method, StatusCode};

use super::parse::{self, ParseError, RawSeries};
use crate::chatops::outbound::{Http, HttpError};

/// How long the client stops asking after Prometheus timed out or could
/// not be reached.
pub const BACKOFF: Duration = Duration::from_secs(10);

/// Why a query gave nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromError {
    /// The configured URL is not an `http(s)://host[:port][/prefix]` URL.
    #[error("the Prometheus URL is not a valid http(s) URL")]
    BadUrl,
    /// No answer within the time limit.
    #[error("Prometheus did not answer within {0:?}")]
    Timeout(Duration),
    /// Connecting or exchanging failed.
    #[error("Prometheus could not be reached: {0}")]
    Unreachable(String),
    /// The answer was larger than allowed.
    #[error("Prometheus' answer exceeded {0} bytes")]
    TooLarge(usize),
    /// An HTTP error status.
    #[error("Prometheus answered HTTP {0}: {1}")]
    Status(u16, String),
    /// The answer was not a usable query result.
    #[error(transparent)]
    Answer(#[from] ParseError),
    /// A recent failure; not asked again yet.
    #[error("{reason} ({ago}s ago; not asked again for {BACKOFF:?})")]
    BackingOff {
        /// The failure.
        reason: String,
        /// Seconds since.
        ago: u64,
    },
}

impl PromError {
    /// A bounded code for metrics.
    pub fn code(&self) -> &'static str {
        match self {
            PromError::BadUrl => "bad_url",
            PromError::Timeout(_) => "timeout",
            PromError::Unreachable(_) => "unreachable",
            PromError::TooLarge(_) => "too_large",
            PromError::Status(..) => "status",
            PromError::Answer(_) => "answer",
            PromError::BackingOff { .. } => "backing_off",
        }
    }

    fn backs_off(&self) -> bool {
        matches!(self, PromError::Timeout(_) | PromError::Unreachable(_))
    }
}

/// Limits of the client.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Base URL, e.g. `http://prometheus.monitoring:9090` (a path prefix is kept).
    pub url: String,
    /// Time limit of one query (also sent to Prometheus as `timeout`).
    pub timeout: Duration,
    /// Largest answer read, bytes.
    pub max_bytes: usize,
}

/// A Prometheus HTTP API client.
pub struct Prometheus {
    http: Http,
    base: String,
    timeout: Duration,
    failed: Mutex<Option<(Instant, String)>>,
}

impl std::fmt::Debug for Prometheus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prometheus").field("timeout", &self.timeout).finish_non_exhaustive()
    }
}

impl Prometheus {
    /// A client for `settings` (the URL is checked here, not on first use).
    pub fn new(settings: &Settings) -> Result<Self, PromError> {
        let base = settings.url.trim_end_matches('/').to_owned();
        let uri: http::Uri = base.parse().map_err(|_| PromError::BadUrl)?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() || uri.query().is_some() {
            return Err(PromError::BadUrl);
        }
        let http = Http::new(settings.timeout)
            .map_err(|e| PromError::Unreachable(e.to_string()))?
            .with_max_body(settings.max_bytes);
        Ok(Prometheus { http, base, timeout: settings.timeout, failed: Mutex::new(None) })
    }

    /// Evaluates `promql` at `time` (unix seconds) with `/api/v1/query`.
    /// A range selector (`x[10m]`) gives every raw sample in its range.
    pub async fn query(&self, promql: &str, time: f64) -> Result<Vec<RawSeries>, PromError> {
        if let Some((at, reason)) = self.failed.lock().map(|g| g.clone()).unwrap_or_default()
            && at.elapsed() < BACKOFF
        {
            return Err(PromError::BackingOff { reason, ago: at.elapsed().as_secs() });
        }
        let result = self.query_now(promql, time).await;
        if let Err(e) = &result
            && e.backs_off()
            && let Ok(mut g) = self.failed.lock()
        {
            *g = Some((Instant::now(), e.to_string()));
        } else if result.is_ok()
            && let Ok(mut g) = self.failed.lock()
        {
            *g = None;
        }
        result
    }

    async fn query_now(&self, promql: &str, time: f64) -> Result<Vec<RawSeries>, PromError> {
        let qs = form_urlencoded::Serializer::new(String::new())
            .append_pair("query", promql)
            .append_pair("time", &format!("{time:.3}"))
            .append_pair("timeout", &format!("{}ms", self.timeout.as_millis().max(1)))
            .finish();
        let url = format!("{}/api/v1/query?{qs}", self.base);
        let (status, _, body) =
            self.http.send(Method::GET, &url, &[("accept", "application/json".into())], None).await.map_err(
                |e| match e {
                    HttpError::BadUrl => PromError::BadUrl,
                    HttpError::Timeout => PromError::Timeout(self.timeout),
                    HttpError::Transport(m) => PromError::Unreachable(m),
                    HttpError::TooLarge(n) => PromError::TooLarge(n),
                },
            )?;
        // Prometheus answers 400/422/503 with a JSON error body: prefer its message.
        match parse::parse(&body) {
            Ok(series) if status.is_success() => Ok(series),
            Err(e @ ParseError::Refused { .. }) => Err(PromError::Answer(e)),
            Err(e) if status.is_success() => Err(PromError::Answer(e)),
            _ => Err(PromError::Status(status.as_u16(), status_text(status, &body))),
        }
    }
}

fn status_text(status: StatusCode, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        status.canonical_reason().unwrap_or("no reason").to_owned()
    } else {
        crate::util::truncate(text, 200).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: &str) -> Settings {
        Settings { url: url.into(), timeout: Duration::from_millis(500), max_bytes: 1 << 20 }
    }

    #[test]
    fn urls_are_checked_up_front() {
        for bad in ["", "prometheus:9090", "ftp://x", "http://", "http://x/?q=1", "not a url"] {
            assert_eq!(Prometheus::new(&settings(bad)).unwrap_err(), PromError::BadUrl, "{bad}");
        }
        for good in ["http://127.0.0.1:9090", "https://prom.example/prefix/", "http://prometheus.monitoring"] {
            assert!(Prometheus::new(&settings(good)).is_ok(), "{good}");
        }
    }

    #[tokio::test]
    async fn a_closed_port_is_unreachable_then_backs_off() {
        // Bind then drop: nothing listens on the port afterwards.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let p = Prometheus::new(&settings(&format!("http://127.0.0.1:{port}"))).unwrap();
        let first = p.query("up", 0.0).await.unwrap_err();
        assert!(matches!(first, PromError::Unreachable(_)), "{first:?}");
        let second = p.query("up", 0.0).await.unwrap_err();
        assert!(matches!(second, PromError::BackingOff { .. }), "{second:?}");
        assert!(second.to_string().contains("not asked again"), "{second}");
    }

    #[tokio::test]
    async fn a_silent_server_times_out_and_a_huge_answer_is_refused() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let mut n = 0;
            while let Ok((mut sock, _)) = listener.accept().await {
                n += 1;
                let first = n == 1;
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = sock.read(&mut buf).await;
                    if first {
                        // Never answer.
                        tokio::time::sleep(Duration::from_secs(5)).await;
                    } else {
                        let body = format!(
                            "{{\"status\":\"success\",\"data\":{{\"resultType\":\"vector\",\"result\":[{}]}}}}",
                            vec![r#"{"metric":{"pod":"p"},"value":[1,"1"]}"#; 40_000].join(",")
                        );
                        let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len());
                        let _ = sock.write_all(head.as_bytes()).await;
                        let _ = sock.write_all(body.as_bytes()).await;
                    }
                });
            }
        });
        let p = Prometheus::new(&settings(&format!("http://{addr}"))).unwrap();
        assert_eq!(p.query("up", 0.0).await.unwrap_err(), PromError::Timeout(Duration::from_millis(500)));
        // Backing off now; a fresh client asks again and gets the oversized answer.
        let p = Prometheus::new(&settings(&format!("http://{addr}"))).unwrap();
        assert_eq!(p.query("up", 0.0).await.unwrap_err(), PromError::TooLarge(1 << 20));
    }
}
