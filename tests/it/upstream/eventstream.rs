//! The AWS event-stream binary framing (`application/vnd.amazon.eventstream`) that Bedrock's
//! `converse-stream` answers in: an encoder for the fake and a checking decoder for tests.
//!
//! A message: total length (u32 BE), headers length (u32 BE), CRC32 of those 8 bytes,
//! headers, payload, CRC32 of everything before it. A header: name length (u8), name,
//! value type (u8; 7 = string), value length (u16 BE), value.

/// CRC-32 (IEEE 802.3, as zlib), bitwise.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// One decoded message; header values of every type are given as text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub headers: Vec<(String, String)>,
    pub payload: Vec<u8>,
}

impl Message {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// `:event-type` (or `:exception-type` for exceptions).
    pub fn event_type(&self) -> Option<&str> {
        self.header(":event-type")
            .or_else(|| self.header(":exception-type"))
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.payload).unwrap_or(serde_json::Value::Null)
    }
}

/// Encodes a message whose header values are all strings.
pub fn encode(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut h = Vec::new();
    for (name, value) in headers {
        h.push(name.len() as u8);
        h.extend_from_slice(name.as_bytes());
        h.push(7);
        h.extend_from_slice(&(value.len() as u16).to_be_bytes());
        h.extend_from_slice(value.as_bytes());
    }
    let total = 12 + h.len() + payload.len() + 4;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.extend_from_slice(&(h.len() as u32).to_be_bytes());
    let prelude_crc = crc32(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(payload);
    let crc = crc32(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

/// An event message (`:message-type` event) with a JSON payload.
pub fn event(event_type: &str, payload: &serde_json::Value) -> Vec<u8> {
    encode(
        &[
            (":event-type", event_type),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        payload.to_string().as_bytes(),
    )
}

/// An exception message (`:message-type` exception) with a JSON payload.
pub fn exception(exception_type: &str, payload: &serde_json::Value) -> Vec<u8> {
    encode(
        &[
            (":exception-type", exception_type),
            (":content-type", "application/json"),
            (":message-type", "exception"),
        ],
        payload.to_string().as_bytes(),
    )
}

/// Decodes every whole message in `buf`, checking both CRCs and the lengths. Returns the
/// messages and the bytes consumed (a trailing partial message is left).
pub fn decode(buf: &[u8]) -> Result<(Vec<Message>, usize), String> {
    let mut at = 0;
    let mut out = Vec::new();
    while buf.len() - at >= 12 {
        let b = &buf[at..];
        let total = u32::from_be_bytes(b[0..4].try_into().unwrap()) as usize;
        let headers_len = u32::from_be_bytes(b[4..8].try_into().unwrap()) as usize;
        let prelude_crc = u32::from_be_bytes(b[8..12].try_into().unwrap());
        if crc32(&b[0..8]) != prelude_crc {
            return Err(format!("prelude CRC mismatch at byte {at}"));
        }
        if total < 16 || headers_len > total - 16 {
            return Err(format!(
                "bad lengths at byte {at}: total {total}, headers {headers_len}"
            ));
        }
        if b.len() < total {
            break;
        }
        let message_crc = u32::from_be_bytes(b[total - 4..total].try_into().unwrap());
        if crc32(&b[..total - 4]) != message_crc {
            return Err(format!("message CRC mismatch at byte {at}"));
        }
        let headers = decode_headers(&b[12..12 + headers_len])?;
        out.push(Message {
            headers,
            payload: b[12 + headers_len..total - 4].to_vec(),
        });
        at += total;
    }
    Ok((out, at))
}

fn decode_headers(mut h: &[u8]) -> Result<Vec<(String, String)>, String> {
    fn take<'a>(h: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
        if h.len() < n {
            return Err("truncated header".to_owned());
        }
        let (a, b) = h.split_at(n);
        *h = b;
        Ok(a)
    }
    let mut out = Vec::new();
    while !h.is_empty() {
        let n = take(&mut h, 1)?[0] as usize;
        let name = String::from_utf8_lossy(take(&mut h, n)?).into_owned();
        let kind = take(&mut h, 1)?[0];
        let value = match kind {
            0 => "true".to_owned(),
            1 => "false".to_owned(),
            2 => (take(&mut h, 1)?[0] as i8).to_string(),
            3 => i16::from_be_bytes(take(&mut h, 2)?.try_into().unwrap()).to_string(),
            4 => i32::from_be_bytes(take(&mut h, 4)?.try_into().unwrap()).to_string(),
            5 | 8 => i64::from_be_bytes(take(&mut h, 8)?.try_into().unwrap()).to_string(),
            6 | 7 => {
                let len = u16::from_be_bytes(take(&mut h, 2)?.try_into().unwrap()) as usize;
                String::from_utf8_lossy(take(&mut h, len)?).into_owned()
            }
            9 => take(&mut h, 16)?
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
            other => return Err(format!("unknown header value type {other}")),
        };
        out.push((name, value));
    }
    Ok(out)
}
