//! The templating of `[[file]] template = true` (and `[[host.file]]`): `{{ field }}` is
//! replaced with one of the host's fields, nothing else. Hand-rolled on purpose: four
//! names and no logic are all it does, and a template engine would accept (and an admin
//! would then expect) loops, filters and includes the overlay cannot honour.

use std::fmt::Write;

/// The names a template may use.
pub const FIELDS: [&str; 4] = ["hostname", "ip", "mac", "name"];

/// What the errors suggest.
pub const HINT: &str = "templates know `{{ hostname }}`, `{{ ip }}`, `{{ mac }}` and `{{ name }}` (the `[[host]]` fields); set `template = false` to write the text as it is";

/// The values of one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostValues {
    pub name: String,
    pub hostname: String,
    pub ip: String,
    pub mac: String,
}

impl HostValues {
    fn get(&self, field: &str) -> Option<&str> {
        Some(match field {
            "hostname" => &self.hostname,
            "ip" => &self.ip,
            "mac" => &self.mac,
            "name" => &self.name,
            _ => return None,
        })
    }
}

/// Split `text` into literal text and `{{ field }}` names, checking every name.
fn parts(text: &str) -> Result<Vec<(bool, &str)>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        out.push((false, &rest[..open]));
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            let line = text[..text.len() - rest.len() + open].matches('\n').count() + 1;
            return Err(format!("`{{{{` on line {line} is not closed with `}}}}`"));
        };
        let name = after[..close].trim();
        if !FIELDS.contains(&name) {
            return Err(format!("unknown template field `{{{{ {name} }}}}`"));
        }
        out.push((true, name));
        rest = &after[close + 2..];
    }
    out.push((false, rest));
    Ok(out)
}

/// Is `text` a valid template?
pub fn check(text: &str) -> Result<(), String> {
    parts(text).map(|_| ())
}

/// `text` with every `{{ field }}` replaced by the host's value.
pub fn render(text: &str, host: &HostValues) -> Result<String, String> {
    let mut s = String::with_capacity(text.len());
    for (field, t) in parts(text)? {
        if field {
            // Checked by `parts`.
            let _ = write!(s, "{}", host.get(t).unwrap_or_default());
        } else {
            s.push_str(t);
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n1() -> HostValues {
        HostValues {
            name: "n1".into(),
            hostname: "n1.cluster".into(),
            ip: "10.0.0.11".into(),
            mac: "52:54:00:00:00:01".into(),
        }
    }

    #[test]
    fn fields_are_replaced_with_or_without_spaces() {
        let t = "{{ hostname }} {{ip}} {{  mac }} {{name }}\n{ not } {{";
        assert!(check(t).is_err());
        let t = "{{ hostname }} {{ip}} {{  mac }} {{name }}\n{ not } }}";
        assert_eq!(
            render(t, &n1()).unwrap(),
            "n1.cluster 10.0.0.11 52:54:00:00:00:01 n1\n{ not } }}"
        );
    }

    #[test]
    fn unknown_and_unclosed_fields_are_errors() {
        assert_eq!(
            check("a {{ hostnme }}").unwrap_err(),
            "unknown template field `{{ hostnme }}`"
        );
        assert_eq!(
            check("a\nb {{ ip").unwrap_err(),
            "`{{` on line 2 is not closed with `}}`"
        );
        assert_eq!(render("plain", &n1()).unwrap(), "plain");
    }
}
