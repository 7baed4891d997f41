//! Canonical JSON: object keys in bytewise order, no insignificant whitespace (or, for
//! human-read files, two-space indentation), whatever map type serde_json was built with.
//! OCI configs, manifests and indexes are hashed, so their bytes must be a function of their
//! content (oci-spec keeps annotations in a HashMap, which changes order between runs).

use serde_json::Value;

/// Compact canonical bytes.
pub fn to_vec(v: &Value) -> Vec<u8> {
    let mut out = String::new();
    write(v, &mut out, None, 0);
    out.into_bytes()
}

/// Indented, keys sorted, with a final newline (manifest.json, kea-dhcp4.conf).
pub fn to_pretty(v: &Value) -> Vec<u8> {
    let mut out = String::new();
    write(v, &mut out, Some(2), 0);
    out.push('\n');
    out.into_bytes()
}

fn newline(out: &mut String, indent: Option<usize>, depth: usize) {
    if let Some(n) = indent {
        out.push('\n');
        out.extend(std::iter::repeat_n(' ', n * depth));
    }
}

fn write(v: &Value, out: &mut String, indent: Option<usize>, depth: usize) {
    match v {
        Value::Object(m) => {
            if m.is_empty() {
                out.push_str("{}");
                return;
            }
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, indent, depth + 1);
                out.push_str(&Value::String((*k).clone()).to_string());
                out.push(':');
                if indent.is_some() {
                    out.push(' ');
                }
                write(&m[*k], out, indent, depth + 1);
            }
            newline(out, indent, depth);
            out.push('}');
        }
        Value::Array(a) => {
            if a.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, indent, depth + 1);
                write(x, out, indent, depth + 1);
            }
            newline(out, indent, depth);
            out.push(']');
        }
        // Scalars: serde_json's own rendering (numbers are integers here; strings escaped).
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_sorted_compact_and_pretty() {
        let v = json!({"b": 1, "a": {"z": [1, "x\"y"], "c": {}}, "A": []});
        assert_eq!(
            String::from_utf8(to_vec(&v)).unwrap(),
            r#"{"A":[],"a":{"c":{},"z":[1,"x\"y"]},"b":1}"#
        );
        let p = String::from_utf8(to_pretty(&v)).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&p).unwrap(), v);
        assert!(
            p.starts_with("{\n  \"A\": [],\n  \"a\": {\n    \"c\": {},"),
            "{p}"
        );
    }
}
