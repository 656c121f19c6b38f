//! The least a gateway can add, for the gateway benchmark (`benches/gateway/run`): two
//! relays in front of one upstream, on the runtime `catalog serve` uses (a multi-threaded
//! tokio runtime with the same number of workers), so that what `catalog serve` adds can
//! be read against what the machine itself costs a proxy.
//!
//! ```sh
//! cargo run --release --example bare_relay -- --mode bytes|http --listen 127.0.0.1:0 \
//!     --upstream 127.0.0.1:PORT
//! ```
//! - `bytes` copies each HTTP/1.1 request to the upstream and the answer back, reading no
//!   more of them than where each one ends (its `Content-Length`); one upstream
//!   connection per client connection. No proxy can add less.
//! - `http` is axum and reqwest, the stack `catalog serve` is built on, with nothing
//!   between them: every request is posted to the upstream's `/v1/chat/completions` and
//!   its answer passed back.
//!
//! Prints `listening on http://ADDR` on stdout once bound, then serves until killed.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn main() {
    let mut mode = String::new();
    let mut listen = "127.0.0.1:0".to_owned();
    let mut upstream = String::new();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "--mode" => mode = value(),
            "--listen" => listen = value(),
            "--upstream" => upstream = value(),
            "-h" | "--help" => usage(""),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    let listen: SocketAddr = listen
        .parse()
        .unwrap_or_else(|_| usage("--listen takes IP:PORT"));
    if upstream.parse::<SocketAddr>().is_err() {
        usage("--upstream takes IP:PORT");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(catalog::commands::serve::default_workers())
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async move {
        let listener = TcpListener::bind(listen).await.expect("the listen address");
        println!("listening on http://{}", listener.local_addr().unwrap());
        std::io::stdout().flush().unwrap();
        match mode.as_str() {
            "bytes" => relay_bytes(listener, upstream).await,
            "http" => relay_http(listener, upstream).await,
            _ => usage("--mode takes bytes or http"),
        }
    });
}

async fn relay_bytes(listener: TcpListener, upstream: String) {
    loop {
        let Ok((mut client, _)) = listener.accept().await else {
            continue;
        };
        let upstream = upstream.clone();
        tokio::spawn(async move {
            let Ok(mut server) = TcpStream::connect(&upstream).await else {
                return;
            };
            let _ = (client.set_nodelay(true), server.set_nodelay(true));
            let (mut from_client, mut from_server) = (Vec::new(), Vec::new());
            while let Some(request) = message(&mut client, &mut from_client).await {
                let Some(answer) = async {
                    server.write_all(&request).await.ok()?;
                    message(&mut server, &mut from_server).await
                }
                .await
                else {
                    return;
                };
                if client.write_all(&answer).await.is_err() {
                    return;
                }
            }
        });
    }
}

/// The next HTTP/1.1 message read from `stream` (head and `Content-Length` body), with
/// `buffer` keeping what arrived after it; `None` when the stream ends.
async fn message(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<Vec<u8>> {
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let whole = end + 4 + content_length(&buffer[..end]);
            if buffer.len() >= whole {
                let rest = buffer.split_off(whole);
                return Some(std::mem::replace(buffer, rest));
            }
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
}

fn content_length(head: &[u8]) -> usize {
    String::from_utf8_lossy(head)
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0)
}

async fn relay_http(listener: TcpListener, upstream: String) {
    use axum::serve::ListenerExt;
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("an HTTP client");
    let url: Arc<str> = format!("http://{upstream}/v1/chat/completions").into();
    let app = axum::Router::new()
        .route("/v1/chat/completions", axum::routing::post(forward))
        .with_state((client, url));
    let listener = listener.tap_io(|s| {
        let _ = s.set_nodelay(true);
    });
    axum::serve(listener, app).await.expect("serving");
}

async fn forward(
    State((client, url)): State<(reqwest::Client, Arc<str>)>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    let mut request = client.post(&*url).body(body);
    for name in ["authorization", "content-type"] {
        if let Some(value) = headers.get(name) {
            request = request.header(name, value);
        }
    }
    let Ok(answer) = request.send().await else {
        return Response::builder().status(502).body("".into()).unwrap();
    };
    let mut response = Response::builder().status(answer.status());
    if let Some(kind) = answer.headers().get("content-type") {
        response = response.header("content-type", kind);
    }
    let body = answer.bytes().await.unwrap_or_default();
    response.body(body.into()).unwrap()
}

fn usage(problem: &str) -> ! {
    if !problem.is_empty() {
        eprintln!("bare_relay: {problem}");
    }
    eprintln!("usage: bare_relay --mode bytes|http [--listen IP:PORT] --upstream IP:PORT");
    std::process::exit(2);
}
