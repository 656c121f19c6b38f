//! The error body of the contract: `{success:false, data:{message, errorCode}}`.

use serde::{Deserialize, Serialize};

/// The contract's `AB` error codes and the HTTP status each travels with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum ErrorCode {
    AB01,
    AB02,
    AB03,
    AB04,
    AB05,
    AB06,
    AB07,
    AB08,
    AB09,
}

impl ErrorCode {
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::AB01 => 400,
            ErrorCode::AB02 | ErrorCode::AB08 => 404,
            ErrorCode::AB03 => 403,
            ErrorCode::AB04 => 500,
            ErrorCode::AB05 => 401,
            ErrorCode::AB06 => 429,
            ErrorCode::AB07 => 409,
            ErrorCode::AB09 => 402,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ErrorData {
    pub message: String,
    #[serde(rename = "errorCode")]
    pub error_code: ErrorCode,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ErrorBody {
    pub success: bool,
    pub data: ErrorData,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorBody {
            success: false,
            data: ErrorData {
                message: message.into(),
                error_code: code,
            },
        }
    }
}

/// Extracts `(message, code)` from any of the error shapes seen in the wild:
/// the documented wrapper, a top-level `{errorCode, message}`, or `{error:{message, code}}`.
pub fn parse_error_body(body: &serde_json::Value) -> (Option<String>, Option<String>) {
    let pick = |v: &serde_json::Value, msg: &str, code: &str| {
        (
            v.get(msg).and_then(|m| m.as_str()).map(str::to_owned),
            v.get(code).and_then(|c| c.as_str()).map(str::to_owned),
        )
    };
    if let Some(data) = body.get("data").filter(|d| d.is_object()) {
        let found = pick(data, "message", "errorCode");
        if found.0.is_some() || found.1.is_some() {
            return found;
        }
    }
    let top = pick(body, "message", "errorCode");
    if top.0.is_some() || top.1.is_some() {
        return top;
    }
    if let Some(err) = body.get("error") {
        if let Some(s) = err.as_str() {
            return (Some(s.to_owned()), None);
        }
        return pick(err, "message", "code");
    }
    (None, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_every_error_shape() {
        let documented = json!({"success": false, "data": {"message": "m1", "errorCode": "AB01"}});
        assert_eq!(
            parse_error_body(&documented),
            (Some("m1".into()), Some("AB01".into()))
        );
        let top = json!({"errorCode": "AB08", "message": "m2"});
        assert_eq!(
            parse_error_body(&top),
            (Some("m2".into()), Some("AB08".into()))
        );
        let nested =
            json!({"status_code": 400, "error": {"message": "m3", "code": "x"}, "success": false});
        assert_eq!(
            parse_error_body(&nested),
            (Some("m3".into()), Some("x".into()))
        );
        assert_eq!(parse_error_body(&json!({})), (None, None));
    }
}
