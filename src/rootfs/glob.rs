//! Path globs for `exclude_paths` and removals: `*` and `?` stay inside one path
//! component, `**` crosses components, `[abc]`/`[a-z]`/`[!x]` are classes. A pattern
//! also matches everything below a matched directory (`/usr/share/doc` drops its contents).

/// Does `pattern` match `path` or one of its ancestors?
pub fn matches_or_below(pattern: &str, path: &str) -> bool {
    let mut p = path;
    loop {
        if matches(pattern, p) {
            return true;
        }
        match super::paths::parent(p) {
            Some(up) if up != "/" => p = up,
            _ => return false,
        }
    }
}

/// Does `pattern` match the whole of `path`?
pub fn matches(pattern: &str, path: &str) -> bool {
    let pat: Vec<char> = pattern.trim_end_matches('/').chars().collect();
    let s: Vec<char> = path.chars().collect();
    m(&pat, &s)
}

fn m(p: &[char], s: &[char]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some('*') if p.get(1) == Some(&'*') => {
            // `**/` may also match nothing (`/a/**/b` matches `/a/b`).
            let rest = &p[2..];
            if rest.first() == Some(&'/') && m(&rest[1..], s) {
                return true;
            }
            (0..=s.len()).any(|i| m(rest, &s[i..]))
        }
        Some('*') => {
            let rest = &p[1..];
            for i in 0..=s.len() {
                if m(rest, &s[i..]) {
                    return true;
                }
                if i < s.len() && s[i] == '/' {
                    break;
                }
            }
            false
        }
        Some('?') => !s.is_empty() && s[0] != '/' && m(&p[1..], &s[1..]),
        Some('[') => {
            let Some(close) = p.iter().skip(2).position(|&c| c == ']').map(|i| i + 2) else {
                return !s.is_empty() && s[0] == '[' && m(&p[1..], &s[1..]);
            };
            if s.is_empty() || s[0] == '/' {
                return false;
            }
            let class = &p[1..close];
            let (neg, class) = match class.first() {
                Some('!') | Some('^') => (true, &class[1..]),
                _ => (false, class),
            };
            let c = s[0];
            let mut hit = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == '-' {
                    hit |= class[i] <= c && c <= class[i + 2];
                    i += 3;
                } else {
                    hit |= class[i] == c;
                    i += 1;
                }
            }
            hit != neg && m(&p[close + 1..], &s[1..])
        }
        Some(&c) => !s.is_empty() && s[0] == c && m(&p[1..], &s[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(matches("/usr/share/doc/*", "/usr/share/doc/bash"));
        assert!(!matches("/usr/share/doc/*", "/usr/share/doc/bash/README"));
        assert!(matches("/usr/share/**", "/usr/share/doc/bash/README"));
        assert!(matches("/usr/**/README", "/usr/README"));
        assert!(matches("/etc/*.rpm[ns][ea][wv]*", "/etc/x.rpmnew"));
        assert!(matches(
            "/lib/modules/*/kernel/drivers/[!n]*",
            "/lib/modules/5/kernel/drivers/gpu"
        ));
        assert!(!matches(
            "/lib/modules/*/kernel/drivers/[!n]*",
            "/lib/modules/5/kernel/drivers/net"
        ));
        assert!(matches_or_below(
            "/usr/share/man",
            "/usr/share/man/man1/ls.1.gz"
        ));
        assert!(!matches_or_below("/usr/share/man", "/usr/share/mandb"));
    }
}
