//! AWS Signature Version 4 (`AWS4-HMAC-SHA256`), as AWS publishes the algorithm: a
//! canonical request, the string to sign, a signing key derived from the secret access
//! key, date, region and service, and the `Authorization` header naming the signed
//! headers. Bedrock's calls sign `host`, `x-amz-content-sha256`, `x-amz-date` (and
//! `x-amz-security-token` with temporary credentials).

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::crypto::hex;

type HmacSha256 = Hmac<Sha256>;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// An access key pair (and the session token of temporary credentials).
#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// What a signature covers besides the request: the credentials, the region and the
/// service (`bedrock`).
#[derive(Clone, Debug)]
pub struct Signer {
    pub credentials: Credentials,
    pub region: String,
    pub service: &'static str,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// RFC 3986 percent-encoding of everything but the unreserved characters
/// (`A-Z a-z 0-9 - _ . ~`), upper-case hex, as SigV4 wants.
pub fn uri_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The canonical URI of a request whose path is `path` as sent (already percent-encoded):
/// each segment encoded once more, as AWS specifies for every service but S3. A Bedrock
/// model id `a.b-v1:0` is sent as `a.b-v1%3A0` and appears as `a.b-v1%253A0` here.
pub fn canonical_uri(path: &str) -> String {
    if path.is_empty() {
        return "/".to_owned();
    }
    path.split('/')
        .map(uri_encode)
        .collect::<Vec<_>>()
        .join("/")
}

/// The canonical query string: parameters sorted by name, then value (both as sent).
pub fn canonical_query(query: Option<&str>) -> String {
    let mut pairs: Vec<(&str, &str)> = query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect();
    pairs.sort_unstable();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The canonical request; `headers` are the signed ones, any case, any order.
/// Returns it with the `SignedHeaders` list.
pub fn canonical_request(
    method: &str,
    canonical_uri: &str,
    canonical_query: &str,
    headers: &[(&str, &str)],
    payload_sha256: &str,
) -> (String, String) {
    let mut h: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| {
            let value = v.split_whitespace().collect::<Vec<_>>().join(" ");
            (k.to_ascii_lowercase(), value)
        })
        .collect();
    h.sort();
    let canonical_headers: String = h.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed = h
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let request = format!(
        "{method}\n{canonical_uri}\n{canonical_query}\n{canonical_headers}\n{signed}\n{payload_sha256}"
    );
    (request, signed)
}

/// `YYYYMMDD/REGION/SERVICE/aws4_request`.
fn scope(amz_date: &str, region: &str, service: &str) -> String {
    format!("{}/{region}/{service}/aws4_request", &amz_date[..8])
}

pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    )
}

/// The signing key: HMAC chain over date, region, service and `aws4_request`.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

impl Signer {
    /// Signs the canonical request made of these parts at `amz_date`
    /// (`YYYYMMDDTHHMMSSZ`); returns the `Authorization` header value.
    pub fn authorization(
        &self,
        amz_date: &str,
        method: &str,
        canonical_uri: &str,
        canonical_query: &str,
        headers: &[(&str, &str)],
        payload_sha256: &str,
    ) -> String {
        let (request, signed) = canonical_request(
            method,
            canonical_uri,
            canonical_query,
            headers,
            payload_sha256,
        );
        let scope = scope(amz_date, &self.region, self.service);
        let key = signing_key(
            &self.credentials.secret_access_key,
            &amz_date[..8],
            &self.region,
            self.service,
        );
        let signature = hex(&hmac(
            &key,
            string_to_sign(amz_date, &scope, &request).as_bytes(),
        ));
        format!(
            "{ALGORITHM} Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
            self.credentials.access_key_id
        )
    }

    /// The headers that sign a request to `url` carrying exactly `body`, at `amz_date`:
    /// `x-amz-date`, `x-amz-content-sha256`, `x-amz-security-token` (temporary
    /// credentials) and `authorization`. `host` is signed as the URL gives it, which is
    /// what the HTTP client sends.
    pub fn sign(
        &self,
        method: &str,
        url: &reqwest::Url,
        body: &[u8],
        amz_date: &str,
    ) -> Vec<(&'static str, String)> {
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => String::new(),
        };
        let payload = sha256_hex(body);
        let mut headers = vec![
            ("host", host.as_str()),
            ("x-amz-content-sha256", payload.as_str()),
            ("x-amz-date", amz_date),
        ];
        if let Some(token) = &self.credentials.session_token {
            headers.push(("x-amz-security-token", token.as_str()));
        }
        let authorization = self.authorization(
            amz_date,
            method,
            &canonical_uri(url.path()),
            &canonical_query(url.query()),
            &headers,
            &payload,
        );
        let mut out = vec![
            ("x-amz-date", amz_date.to_owned()),
            ("x-amz-content-sha256", payload.clone()),
        ];
        if let Some(token) = &self.credentials.session_token {
            out.push(("x-amz-security-token", token.clone()));
        }
        out.push(("authorization", authorization));
        out
    }
}

/// Now as SigV4 writes it: `YYYYMMDDTHHMMSSZ`.
pub fn amz_date_now() -> String {
    chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    fn signer(service: &'static str) -> Signer {
        Signer {
            credentials: Credentials {
                access_key_id: "AKIDEXAMPLE".into(),
                secret_access_key: SECRET.into(),
                session_token: None,
            },
            region: "us-east-1".into(),
            service,
        }
    }

    /// AWS's worked example ("Create a signed AWS API request"): IAM ListUsers.
    #[test]
    fn the_published_iam_list_users_example_signs_as_aws_says() {
        let headers = [
            (
                "Content-Type",
                "application/x-www-form-urlencoded; charset=utf-8",
            ),
            ("Host", "iam.amazonaws.com"),
            ("X-Amz-Date", "20150830T123600Z"),
        ];
        let empty = sha256_hex(b"");
        assert_eq!(
            empty,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let query = canonical_query(Some("Version=2010-05-08&Action=ListUsers"));
        assert_eq!(query, "Action=ListUsers&Version=2010-05-08");
        let (request, signed) = canonical_request("GET", "/", &query, &headers, &empty);
        assert_eq!(signed, "content-type;host;x-amz-date");
        assert_eq!(
            sha256_hex(request.as_bytes()),
            "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"
        );
        assert_eq!(
            hex(&signing_key(SECRET, "20150830", "us-east-1", "iam")),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
        );
        let auth =
            signer("iam").authorization("20150830T123600Z", "GET", "/", &query, &headers, &empty);
        assert_eq!(
            auth,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date, \
             Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        );
        // Any change to what is signed changes the signature.
        let other = signer("iam").authorization(
            "20150830T123600Z",
            "GET",
            "/",
            "Action=ListUsers&Version=2010-05-09",
            &headers,
            &empty,
        );
        assert!(
            !other.ends_with("5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7")
        );
    }

    #[test]
    fn a_bedrock_call_signs_host_hash_and_date_with_the_model_id_encoded_in_the_path() {
        let url = reqwest::Url::parse(
            "http://127.0.0.1:8080/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse",
        )
        .unwrap();
        assert_eq!(
            canonical_uri(url.path()),
            "/model/anthropic.claude-3-5-sonnet-20240620-v1%253A0/converse"
        );
        let body = br#"{"messages":[]}"#;
        let mut s = signer("bedrock");
        let headers = s.sign("POST", &url, body, "20240102T030405Z");
        let get = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(get("x-amz-content-sha256"), sha256_hex(body));
        assert_eq!(get("x-amz-date"), "20240102T030405Z");
        let auth = get("authorization");
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240102/us-east-1/bedrock/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature="),
            "{auth}"
        );
        // The signature is over these exact parts.
        let payload = sha256_hex(body);
        let expected = s.authorization(
            "20240102T030405Z",
            "POST",
            "/model/anthropic.claude-3-5-sonnet-20240620-v1%253A0/converse",
            "",
            &[
                ("host", "127.0.0.1:8080"),
                ("x-amz-content-sha256", &payload),
                ("x-amz-date", "20240102T030405Z"),
            ],
            &payload,
        );
        assert_eq!(auth, expected);
        // A different body signs differently.
        let other = s.sign("POST", &url, b"{}", "20240102T030405Z");
        assert_ne!(other.last().unwrap().1, auth);
        // Temporary credentials sign their session token too.
        s.credentials.session_token = Some("TOKEN".into());
        let with_token = s.sign("POST", &url, body, "20240102T030405Z");
        assert!(with_token
            .iter()
            .any(|(k, v)| *k == "x-amz-security-token" && v == "TOKEN"));
        assert!(with_token
            .last()
            .unwrap()
            .1
            .contains("SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,"));
    }
}
