//! The fake upstream LLM provider of the integration tests as a server of its own, for the
//! gateway benchmark (`benches/gateway/run`).
//!
//! ```sh
//! cargo run --release --example fake_upstream -- --listen 127.0.0.1:0 --threads 1 \
//!     --latency-ms 0 [--ttfb-ms N] [--chunk-delay-ms N] [--chunks N] [--record]
//! ```
//! Prints `listening on http://ADDR` on stdout once bound, then serves until killed.
//! Recording requests is off unless `--record` (the record would grow without bound).

#[allow(dead_code, unused_imports)]
#[path = "../tests/it/upstream/mod.rs"]
mod upstream;

use std::io::Write;
use std::time::Duration;

use upstream::{Behaviour, Upstream};

fn main() {
    let mut listen = "127.0.0.1:0".to_owned();
    let mut threads = 1usize;
    let mut behaviour = Behaviour {
        record: false,
        ..Behaviour::default()
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("{flag} needs a value")))
        };
        let ms = |v: String| {
            Duration::from_millis(v.parse().unwrap_or_else(|_| usage("not a number of ms")))
        };
        let k = &mut behaviour.default;
        match flag.as_str() {
            "--listen" => listen = value(),
            "--threads" => threads = value().parse().unwrap_or_else(|_| usage("--threads N")),
            "--latency-ms" => k.latency = ms(value()),
            "--ttfb-ms" => k.ttfb = ms(value()),
            "--chunk-delay-ms" => k.chunk_delay = ms(value()),
            "--chunks" => k.chunks = value().parse().unwrap_or_else(|_| usage("--chunks N")),
            "--record" => behaviour.record = true,
            "-h" | "--help" => usage(""),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    let addr = listen
        .parse()
        .unwrap_or_else(|_| usage("--listen takes IP:PORT"));
    let up = Upstream::start_on(addr, threads, behaviour);
    println!("listening on {}", up.url());
    std::io::stdout().flush().unwrap();
    loop {
        std::thread::park();
    }
}

fn usage(problem: &str) -> ! {
    if !problem.is_empty() {
        eprintln!("fake_upstream: {problem}");
    }
    eprintln!(
        "usage: fake_upstream [--listen IP:PORT] [--threads N] [--latency-ms MS] [--ttfb-ms MS] [--chunk-delay-ms MS] [--chunks N] [--record]"
    );
    std::process::exit(2);
}
