//! Server-sent events, incrementally: bytes arrive in arbitrary pieces and complete
//! events leave as soon as their blank line has been read.

/// One event: its `event:` name (if any) and its `data:` lines joined by `\n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub name: Option<String>,
    pub data: String,
}

/// Splits a byte stream into events.
#[derive(Debug, Default)]
pub struct Splitter {
    buffer: Vec<u8>,
}

impl Splitter {
    /// Adds `bytes`; returns every event they completed, in order.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Event> {
        self.buffer.extend_from_slice(bytes);
        let mut events = Vec::new();
        while let Some((end, skip)) = boundary(&self.buffer) {
            let block: Vec<u8> = self.buffer.drain(..end + skip).take(end).collect();
            if let Some(event) = parse(&String::from_utf8_lossy(&block)) {
                events.push(event);
            }
        }
        events
    }

    /// Whether bytes of an unfinished event are waiting.
    pub fn has_partial(&self) -> bool {
        self.buffer.iter().any(|b| !b.is_ascii_whitespace())
    }
}

/// The end of the first complete event block and the length of its terminator.
fn boundary(buffer: &[u8]) -> Option<(usize, usize)> {
    let lf = find(buffer, b"\n\n").map(|i| (i, 2));
    let crlf = find(buffer, b"\r\n\r\n").map(|i| (i, 4));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn parse(block: &str) -> Option<Event> {
    let mut name = None;
    let mut data: Vec<&str> = Vec::new();
    for line in block.lines() {
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => name = Some(value.to_owned()),
            "data" => data.push(value),
            _ => {}
        }
    }
    (name.is_some() || !data.is_empty()).then(|| Event {
        name,
        data: data.join("\n"),
    })
}

/// An event as bytes on the wire: `data: <json>\n\n`.
pub fn data(json: &str) -> Vec<u8> {
    format!("data: {json}\n\n").into_bytes()
}

/// The OpenAI end-of-stream marker.
pub const DONE: &[u8] = b"data: [DONE]\n\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_pieces_come_out_whole() {
        let mut s = Splitter::default();
        assert!(s.push(b"event: message_start\nda").is_empty());
        let out = s.push(b"ta: {\"a\":1}\n\ndata: x\r\n\r\n: comment\n\ndata: partial");
        assert_eq!(
            out,
            vec![
                Event {
                    name: Some("message_start".into()),
                    data: "{\"a\":1}".into()
                },
                Event {
                    name: None,
                    data: "x".into()
                },
            ]
        );
        assert!(s.has_partial());
        assert_eq!(s.push(b"\n\n")[0].data, "partial");
        assert!(!s.has_partial());
    }
}
