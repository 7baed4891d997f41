//! A small reader for the shell in RPM scriptlets: enough to find the simple commands
//! (`useradd -r -g x y`, `getent group x >/dev/null || groupadd -r x`) that assembly turns
//! into declarations, and to name the first command it does not understand.
//!
//! It never runs anything. Control words (`if`, `then`, `fi`, ...) and redirections are
//! dropped, quotes are removed, `&&`/`||`/`;`/`|`/newlines separate commands. A word
//! that still holds `$`, a backquote or a glob after quote removal is marked unresolved so
//! that callers refuse to guess its value.

/// One simple command: its words after quote removal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub words: Vec<String>,
    /// Some word depends on a variable, command substitution or glob.
    pub unresolved: bool,
    /// The command as written (for reports).
    pub text: String,
}

impl Command {
    /// The command name without its directory (`/usr/sbin/useradd` -> `useradd`).
    pub fn name(&self) -> &str {
        let w = self.words.first().map(String::as_str).unwrap_or("");
        w.rsplit('/').next().unwrap_or(w)
    }
}

const KEYWORDS: &[&str] = &[
    "if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}", "case",
    "esac",
];

/// Split a script into simple commands.
pub fn commands(script: &str) -> Vec<Command> {
    let mut out = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut unresolved = false;
    let mut text = String::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut word_unresolved = false;
    let chars: Vec<char> = script.chars().collect();
    let mut i = 0;
    let mut skip_next_word = false; // after a redirection operator
    let mut for_loop = false;

    let finish_word = |words: &mut Vec<String>,
                       word: &mut String,
                       in_word: &mut bool,
                       wu: &mut bool,
                       unresolved: &mut bool,
                       skip: &mut bool| {
        if *in_word {
            if *skip {
                *skip = false;
            } else {
                words.push(std::mem::take(word));
                *unresolved |= *wu;
            }
        }
        word.clear();
        *in_word = false;
        *wu = false;
    };
    let mut finish_cmd = |words: &mut Vec<String>,
                          unresolved: &mut bool,
                          text: &mut String,
                          for_loop: &mut bool| {
        // Leading control words belong to the shell's grammar, not to the command.
        let mut w: Vec<String> = std::mem::take(words);
        while w.first().is_some_and(|x| KEYWORDS.contains(&x.as_str())) {
            w.remove(0);
        }
        if w.first().map(String::as_str) == Some("for") {
            *for_loop = true;
            w.clear();
        }
        // `VAR=value cmd`: the assignment is not the command.
        while w.len() > 1 && w[0].contains('=') && !w[0].starts_with('=') && !w[0].starts_with('-')
        {
            w.remove(0);
        }
        if !w.is_empty() {
            out.push(Command {
                words: w,
                unresolved: *unresolved,
                text: text.trim().to_string(),
            });
        }
        *unresolved = false;
        text.clear();
    };

    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' if chars.get(i + 1) == Some(&'\n') => {
                i += 2;
                text.push(' ');
                continue;
            }
            '\\' => {
                if let Some(&n) = chars.get(i + 1) {
                    word.push(n);
                    in_word = true;
                    text.push(c);
                    text.push(n);
                }
                i += 2;
                continue;
            }
            '#' if !in_word => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            '\'' => {
                in_word = true;
                text.push(c);
                i += 1;
                while i < chars.len() && chars[i] != '\'' {
                    word.push(chars[i]);
                    text.push(chars[i]);
                    i += 1;
                }
                text.push('\'');
                i += 1;
                continue;
            }
            '"' => {
                in_word = true;
                text.push(c);
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' && i + 1 < chars.len() {
                        i += 1;
                    } else if chars[i] == '$' || chars[i] == '`' {
                        word_unresolved = true;
                    }
                    word.push(chars[i]);
                    text.push(chars[i]);
                    i += 1;
                }
                text.push('"');
                i += 1;
                continue;
            }
            ' ' | '\t' => {
                finish_word(
                    &mut words,
                    &mut word,
                    &mut in_word,
                    &mut word_unresolved,
                    &mut unresolved,
                    &mut skip_next_word,
                );
                text.push(' ');
            }
            '\n' | ';' | '&' | '|' | '(' | ')' => {
                finish_word(
                    &mut words,
                    &mut word,
                    &mut in_word,
                    &mut word_unresolved,
                    &mut unresolved,
                    &mut skip_next_word,
                );
                // `2>&1`: the `&1` is part of a redirection, not a separator.
                if c == '&'
                    && chars.get(i + 1).is_some_and(|n| n.is_ascii_digit())
                    && text.ends_with('>')
                {
                    i += 2;
                    continue;
                }
                if for_loop && (c == '\n' || c == ';') {
                    // The loop header `for i in a b` ends at the separator; its body follows.
                    for_loop = false;
                    words.clear();
                    text.clear();
                } else {
                    finish_cmd(&mut words, &mut unresolved, &mut text, &mut for_loop);
                }
            }
            '>' | '<' => {
                // A redirection: drop the operator, its fd and its target word.
                if in_word && word.chars().all(|d| d.is_ascii_digit()) {
                    word.clear();
                    in_word = false;
                }
                finish_word(
                    &mut words,
                    &mut word,
                    &mut in_word,
                    &mut word_unresolved,
                    &mut unresolved,
                    &mut skip_next_word,
                );
                while chars.get(i + 1) == Some(&'>') || chars.get(i + 1) == Some(&'<') {
                    i += 1;
                }
                if chars.get(i + 1) == Some(&'&') {
                    i += 1;
                }
                text.push(c);
                skip_next_word = true;
            }
            '$' | '`' | '*' | '?' => {
                in_word = true;
                word_unresolved = true;
                word.push(c);
                text.push(c);
            }
            _ => {
                in_word = true;
                word.push(c);
                text.push(c);
            }
        }
        i += 1;
    }
    finish_word(
        &mut words,
        &mut word,
        &mut in_word,
        &mut word_unresolved,
        &mut unresolved,
        &mut skip_next_word,
    );
    finish_cmd(&mut words, &mut unresolved, &mut text, &mut for_loop);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(s: &str) -> Vec<Vec<String>> {
        commands(s).into_iter().map(|c| c.words).collect()
    }

    #[test]
    fn getent_or_groupadd() {
        assert_eq!(
            names("getent group radiusd >/dev/null || /usr/sbin/groupadd -r radiusd\n"),
            vec![
                vec!["getent".to_string(), "group".into(), "radiusd".into()],
                vec!["/usr/sbin/groupadd".into(), "-r".into(), "radiusd".into()],
            ]
        );
    }

    #[test]
    fn continuation_quotes_and_conditionals() {
        let s = "getent passwd radiusd >/dev/null || /usr/sbin/useradd -r -g radiusd \\\n\t-s /bin/false -c \"Radius daemon\" -d /var/lib/radiusd \\\n\tradiusd\nif [ -x /x ]; then\n  /x mark || : \nfi\n";
        let c = commands(s);
        assert_eq!(c[1].words.last().unwrap(), "radiusd");
        assert!(c[1].words.contains(&"Radius daemon".to_string()));
        assert_eq!(c[2].name(), "[");
        assert_eq!(c[3].name(), "x");
        assert_eq!(c[4].name(), ":");
    }

    #[test]
    fn sysusers_compat_output() {
        let s = "getent group 'apache' >/dev/null || groupadd -f -g '48' -r 'apache' || :\nif ! getent passwd 'apache' >/dev/null ; then\n    useradd -r -u '48' -g 'apache' -d '/usr/share/httpd' -s '/sbin/nologin' -c 'Apache' 'apache' || :\nfi\n";
        let c = commands(s);
        let ua = c.iter().find(|c| c.name() == "useradd").unwrap();
        assert_eq!(ua.words.last().unwrap(), "apache");
        assert!(!ua.unresolved);
        assert_eq!(c[0].name(), "getent");
    }

    #[test]
    fn variables_are_unresolved() {
        let c = commands("useradd -r $USER 2>&1 >/dev/null");
        assert!(c[0].unresolved);
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn for_loops_yield_their_body() {
        let c = commands(
            "for i in pam.d/radiusd ; do\n test -f /etc/${i}.rpmsave && mv -v /etc/${i}.rpmsave /etc/${i}.rpmsave.old ||:\ndone\n",
        );
        let n: Vec<_> = c.iter().map(|c| c.name().to_string()).collect();
        assert_eq!(n, vec!["test", "mv", ":"]);
    }
}
