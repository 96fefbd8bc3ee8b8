//! The WebSocket upgrade of `/sync`, done here rather than by axum's extractor so that an idle
//! socket holds little: tungstenite keeps a read buffer of its configured size on every socket
//! for its whole life, so the server gives it a small one, and reads from the network through
//! [`Spill`], which takes a whole chunk in one read and holds what tungstenite has no room for
//! only until tungstenite takes it.

use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Version, header};
use axum::response::Response;
use futures_util::FutureExt;
use futures_util::future::Either;
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use crate::api::AppError;

/// The socket a `/sync` connection speaks over once upgraded.
pub type Socket = WebSocketStream<Spill<TokioIo<Upgraded>>>;

/// A request to upgrade to a WebSocket (RFC 6455 over HTTP/1.1), checked.
pub struct Upgrade {
    key: HeaderValue,
    on_upgrade: OnUpgrade,
}

impl<S: Send + Sync> FromRequestParts<S> for Upgrade {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AppError> {
        let bad = |what: &str| {
            Err(AppError::BadRequest(format!(
                "not a WebSocket upgrade: {what}"
            )))
        };
        if parts.version > Version::HTTP_11 {
            return bad("sync connections are offered over HTTP/1.1 only");
        }
        if parts.method != Method::GET {
            return bad("the method must be GET");
        }
        if !header_has(&parts.headers, header::CONNECTION, "upgrade") {
            return bad("`Connection` must name `upgrade`");
        }
        if !header_has(&parts.headers, header::UPGRADE, "websocket") {
            return bad("`Upgrade` must be `websocket`");
        }
        if !header_has(&parts.headers, header::SEC_WEBSOCKET_VERSION, "13") {
            return bad("`Sec-WebSocket-Version` must be 13");
        }
        let Some(key) = parts.headers.get(header::SEC_WEBSOCKET_KEY).cloned() else {
            return bad("`Sec-WebSocket-Key` is missing");
        };
        let Some(on_upgrade) = parts.extensions.remove::<OnUpgrade>() else {
            return bad("this connection cannot be upgraded");
        };
        Ok(Self { key, on_upgrade })
    }
}

impl Upgrade {
    /// Answers `101 Switching Protocols` and, once the client has it, runs `serve` on the
    /// socket (configured by `config`) in a task of its own.
    pub fn on_upgrade<F, Fut>(self, config: WebSocketConfig, serve: F) -> Response
    where
        F: FnOnce(Socket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let accept = derive_accept_key(self.key.as_bytes());
        let on_upgrade = self.on_upgrade;
        // Boxed: the task keeps what it captured for its whole life.
        let config = Box::new(config);
        // Combinators, not an async block: each stage's state replaces the one before, where
        // a block would keep the upgrade's result and the socket beside the serving future.
        let task = on_upgrade
            .then(move |upgraded| connect(upgraded, config))
            .then(move |socket| match socket {
                Some(socket) => Either::Left(serve(socket)),
                None => Either::Right(std::future::ready(())),
            });
        tokio::spawn(task);
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        if let Ok(accept) = HeaderValue::from_str(&accept) {
            headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
        }
        response
    }
}

/// The socket once the client has the `101` (`None`: the upgrade failed).
async fn connect(
    upgraded: Result<Upgraded, hyper::Error>,
    config: Box<WebSocketConfig>,
) -> Option<Socket> {
    match upgraded {
        Ok(upgraded) => {
            let io = Spill::new(TokioIo::new(upgraded));
            Some(WebSocketStream::from_raw_socket(io, Role::Server, Some(*config)).await)
        }
        Err(err) => {
            tracing::debug!(%err, "the WebSocket upgrade failed");
            None
        }
    }
}

/// Whether the comma-separated header `name` holds `token` (ASCII case-insensitive).
fn header_has(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Bytes read from the network at a time when the reader asks for fewer.
const CHUNK: usize = 16 * 1024;

/// Reads `io` a chunk at a time whatever the reader asks for, and keeps the part of a chunk
/// the reader had no room for until it asks again, then frees it. A reader with a small
/// buffer (tungstenite's, on every socket for its life) thus costs one system call per chunk
/// and no memory while the socket is idle. Writes go straight through.
pub struct Spill<S> {
    io: S,
    /// What the last read brought beyond the reader's room, from `at` on.
    spilled: Vec<u8>,
    at: usize,
}

impl<S> Spill<S> {
    /// Reads and writes `io`.
    pub fn new(io: S) -> Self {
        Self {
            io,
            spilled: Vec::new(),
            at: 0,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Spill<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.at < this.spilled.len() {
            let n = (this.spilled.len() - this.at).min(buf.remaining());
            buf.put_slice(&this.spilled[this.at..this.at + n]);
            this.at += n;
            if this.at == this.spilled.len() {
                this.spilled = Vec::new();
                this.at = 0;
            }
            return Poll::Ready(Ok(()));
        }
        if buf.remaining() >= CHUNK {
            return Pin::new(&mut this.io).poll_read(cx, buf);
        }
        let mut chunk = [MaybeUninit::<u8>::uninit(); CHUNK];
        let mut read = ReadBuf::uninit(&mut chunk);
        ready!(Pin::new(&mut this.io).poll_read(cx, &mut read))?;
        let got = read.filled();
        let n = got.len().min(buf.remaining());
        buf.put_slice(&got[..n]);
        if n < got.len() {
            this.spilled = got[n..].to_vec();
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Spill<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test]
    async fn a_small_reader_gets_every_byte_in_order_and_nothing_stays_held() {
        let (mut far, near) = tokio::io::duplex(64 * 1024);
        let sent: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
        far.write_all(&sent).await.expect("write");
        drop(far);
        let mut spill = Spill::new(near);
        let mut got = Vec::new();
        let mut small = [0u8; 100];
        loop {
            let n = spill.read(&mut small).await.expect("read");
            if n == 0 {
                break;
            }
            assert!(spill.spilled.len() < CHUNK, "at most one chunk is held");
            got.extend_from_slice(&small[..n]);
        }
        assert_eq!(got, sent);
        assert_eq!(spill.spilled.capacity(), 0, "the spill is freed once taken");
    }

    #[tokio::test]
    async fn a_reader_with_room_reads_straight_through_and_writes_pass() {
        let (mut far, near) = tokio::io::duplex(64 * 1024);
        let mut spill = Spill::new(near);
        far.write_all(b"hello").await.expect("write");
        let mut big = vec![0u8; CHUNK];
        let n = spill.read(&mut big).await.expect("read");
        assert_eq!(&big[..n], b"hello");
        assert!(spill.spilled.is_empty());
        spill.write_all(b"back").await.expect("write back");
        spill.flush().await.expect("flush");
        let mut four = [0u8; 4];
        far.read_exact(&mut four).await.expect("read back");
        assert_eq!(&four, b"back");
    }
}
