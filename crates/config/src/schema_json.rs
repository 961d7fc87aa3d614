//! The JSON Schema of the config file, for editors (completion and validation of
//! `openclaw.json`), the control UI's settings form and `openclaw config schema`.
//!
//! Generated from the same Rust types that parse the file, so it cannot drift from what
//! the loader accepts: serde renames become property names, `deny_unknown_fields`
//! becomes `additionalProperties: false`, doc comments become descriptions and
//! `Default` impls become `default` values. Semantic rules checked only by
//! [`crate::Config::validate`] (port ≠ 0, known providers, …) are not expressible here.

use serde_json::Value;

use crate::schema::Config;

/// The JSON Schema (draft 2020-12) of the whole config file.
///
/// Secret fields are `string | SecretRef`; agent model chains are
/// `string | { primary, fallbacks }`. Shared types live under `$defs` and are referenced
/// with `$ref`.
pub fn json_schema() -> Value {
    schemars::schema_for!(Config).to_value()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Follows a local `$ref` (`#/$defs/Name`) if `schema` is one.
    fn deref<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let pointer = r.strip_prefix('#').unwrap_or(r);
                root.pointer(pointer).unwrap_or(schema)
            }
            None => schema,
        }
    }

    /// The schema of property `name` of an object schema.
    fn property<'a>(root: &'a Value, schema: &'a Value, name: &str) -> &'a Value {
        let schema = deref(root, schema);
        deref(root, &schema["properties"][name])
    }

    /// Every `type` a schema admits, looking through `$ref`, `anyOf` and `oneOf`.
    fn types(root: &Value, schema: &Value, out: &mut Vec<String>) {
        let schema = deref(root, schema);
        match schema.get("type") {
            Some(Value::String(t)) => out.push(t.clone()),
            Some(Value::Array(ts)) => {
                out.extend(ts.iter().filter_map(Value::as_str).map(String::from))
            }
            _ => {}
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(Value::Array(alts)) = schema.get(key) {
                for alt in alts {
                    types(root, alt, out);
                }
            }
        }
    }

    #[test]
    fn schema_shape() {
        let root = json_schema();
        assert_eq!(root["type"], "object");
        assert!(
            root["$schema"]
                .as_str()
                .is_some_and(|s| s.contains("2020-12")),
            "{}",
            root["$schema"]
        );
        assert_eq!(root["additionalProperties"], false);
        let gateway = property(&root, &root, "gateway");
        assert_eq!(gateway["type"], "object", "{gateway}");
        assert_eq!(gateway["additionalProperties"], false);
        assert!(gateway["properties"]["customBindHost"].is_object());
        assert!(gateway["properties"]["trustedProxies"].is_object());

        let auth = property(&root, gateway, "auth");
        for field in ["token", "password"] {
            let mut ts = Vec::new();
            types(&root, &auth["properties"][field], &mut ts);
            assert!(ts.contains(&"string".to_string()), "{field}: {ts:?}");
            assert!(ts.contains(&"object".to_string()), "{field}: {ts:?}");
        }

        let secret_ref = &root["$defs"]["SecretRef"];
        assert_eq!(secret_ref["additionalProperties"], false);
        assert_eq!(secret_ref["required"], serde_json::json!(["source", "id"]));
        let source = deref(&root, &secret_ref["properties"]["source"]);
        let text = source.to_string();
        for s in ["env", "file", "exec"] {
            assert!(text.contains(&format!("\"{s}\"")), "{text}");
        }

        let provider = &root["$defs"]["ProviderEntry"];
        assert!(provider["properties"]["baseUrl"].is_object(), "{provider}");
        let mut ts = Vec::new();
        types(&root, &provider["properties"]["apiKey"], &mut ts);
        assert!(ts.contains(&"object".to_string()), "{ts:?}");

        let mut ts = Vec::new();
        types(&root, &root["$defs"]["ModelRef"], &mut ts);
        assert!(ts.contains(&"string".to_string()) && ts.contains(&"object".to_string()));

        let auth_mode = root["$defs"]["AuthMode"].to_string();
        assert!(auth_mode.contains("trusted-proxy"), "{auth_mode}");
    }
}
