//! The three frame kinds: `req`, `res` and `event`, one JSON object per WebSocket text message.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ErrorShape;

/// `{"type":"req","id":S,"method":S,"params":any?}`: a call from client to gateway.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestFrame {
    /// Caller-chosen id, echoed on every `res` for this request.
    pub id: String,
    /// Method name, e.g. `health`.
    pub method: String,
    /// Method parameters; absent and `null` are treated alike.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Value>,
}

/// `{"type":"res","id":S,"ok":bool,"payload"?,"error"?}`: the answer to a request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResponseFrame {
    /// The request id this answers.
    pub id: String,
    /// Whether the call succeeded; exactly one of `payload` / `error` goes with it.
    pub ok: bool,
    /// Result on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
    /// Error on failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorShape>,
}

impl ResponseFrame {
    /// A successful response.
    pub fn ok(id: impl Into<String>, payload: Value) -> Self {
        Self {
            id: id.into(),
            ok: true,
            payload: Some(payload),
            error: None,
        }
    }

    /// A failed response.
    pub fn err(id: impl Into<String>, error: ErrorShape) -> Self {
        Self {
            id: id.into(),
            ok: false,
            payload: None,
            error: Some(error),
        }
    }
}

/// `{"type":"event","event":S,"payload"?,"seq"?,"stateVersion"?}`: pushed by the gateway.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventFrame {
    /// Event name, e.g. `tick`.
    pub event: String,
    /// Event body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
    /// Per-connection monotonic sequence number; a gap means events were dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// Versions of the presence and health state the event reflects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_version: Option<Value>,
}

/// Any frame, tagged by its `type` field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Frame {
    /// A request.
    Req(RequestFrame),
    /// A response.
    Res(ResponseFrame),
    /// An event.
    Event(EventFrame),
}

/// Why a text message could not be read as a frame.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FrameError {
    /// The text is not JSON at all.
    #[error("frame is not valid JSON: {0}")]
    NotJson(String),
    /// The text is JSON but not a well-formed frame. `id` is the request id when one could be
    /// read, so the error can still be answered on it.
    #[error("invalid request frame: {reason}")]
    BadShape {
        /// The `id` field when it was a string.
        id: Option<String>,
        /// What was wrong.
        reason: String,
    },
}

impl Frame {
    /// Parses one text message. Distinguishes "not JSON" from "JSON of the wrong shape"
    /// because the gateway treats them differently before and after the handshake.
    pub fn parse(text: &str) -> Result<Frame, FrameError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| FrameError::NotJson(e.to_string()))?;
        Self::from_value(value)
    }

    /// Like [`Frame::parse`], from an already-parsed JSON value.
    pub fn from_value(value: Value) -> Result<Frame, FrameError> {
        let id = value.get("id").and_then(Value::as_str).map(str::to_owned);
        if !value.is_object() {
            return Err(FrameError::BadShape {
                id,
                reason: "a frame must be a JSON object".into(),
            });
        }
        let frame: Frame = serde_json::from_value(value).map_err(|e| FrameError::BadShape {
            id: id.clone(),
            reason: e.to_string(),
        })?;
        if let Frame::Req(req) = &frame {
            if req.id.is_empty() {
                return Err(FrameError::BadShape {
                    id,
                    reason: "request id must be a non-empty string".into(),
                });
            }
            if req.method.is_empty() {
                return Err(FrameError::BadShape {
                    id,
                    reason: "request method must be a non-empty string".into(),
                });
            }
        }
        Ok(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_request() {
        let f = Frame::parse(r#"{"type":"req","id":"1","method":"health","params":{}}"#).unwrap();
        match f {
            Frame::Req(r) => {
                assert_eq!(r.method, "health");
                assert_eq!(r.params, Some(json!({})));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn distinguishes_bad_json_from_bad_shape() {
        assert!(matches!(Frame::parse("{nope"), Err(FrameError::NotJson(_))));
        match Frame::parse(r#"{"type":"req","id":"7"}"#) {
            Err(FrameError::BadShape { id, .. }) => assert_eq!(id.as_deref(), Some("7")),
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            Frame::parse(r#"[1,2]"#),
            Err(FrameError::BadShape { id: None, .. })
        ));
        assert!(matches!(
            Frame::parse(r#"{"type":"req","id":"","method":"x"}"#),
            Err(FrameError::BadShape { .. })
        ));
    }

    #[test]
    fn response_serializes_without_empty_fields() {
        let s = serde_json::to_string(&Frame::Res(ResponseFrame::ok("a", json!(1)))).unwrap();
        assert_eq!(s, r#"{"type":"res","id":"a","ok":true,"payload":1}"#);
    }
}
