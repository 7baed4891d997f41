//! What a Lua scriptlet (`<lua>`) would do, read without running it: the calls that change
//! the system (`posix.mkdir`, `posix.symlink`, `posix.unlink`, `os.remove`, `io.open` for
//! writing, `posix.exec`, `rpm.execute`, `os.execute`, ...), each with its arguments as
//! written. [`super::scriptlets`] judges each effect against the package's own files, so
//! the report says which effect the image lacks instead of "Lua not interpreted".
//!
//! EL9 carries a handful of Lua scriptlets: `filesystem`'s %pretrans makes the `/bin ->
//! usr/bin` style links and `/usr` folders before other payloads unpack (its own payload
//! holds them), `glibc`'s %post execs `ldconfig` and `iconvconfig`, `setup`'s %post drops
//! `.rpmnew` account files and runs `newaliases` when an MTA is there, `bash`'s appends to
//! `/etc/shells`, `crypto-policies`' writes its config and links its `%ghost` back-end
//! configs. The reader is small on purpose: tokens, string literals, calls with their
//! argument lists. A computed argument is kept as its source text (`policypath.."/"..fn`).

/// One argument of a call: a string literal, or an expression as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    Lit(String),
    Expr(String),
}

impl Arg {
    pub fn lit(&self) -> Option<&str> {
        match self {
            Arg::Lit(s) => Some(s),
            Arg::Expr(_) => None,
        }
    }

    fn to_string_raw(&self) -> String {
        match self {
            Arg::Lit(s) | Arg::Expr(s) => s.clone(),
        }
    }
}

impl std::fmt::Display for Arg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Arg::Lit(s) => write!(f, "`{s}`"),
            Arg::Expr(e) => write!(f, "`{e}` (computed)"),
        }
    }
}

/// Something the scriptlet would change (or check) on the installed system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Mkdir(Arg),
    Symlink {
        target: Arg,
        path: Arg,
    },
    Remove(Arg),
    /// `io.open(path, "w"|"a"…)`.
    Write {
        path: Arg,
        append: bool,
    },
    /// `posix.exec`, `rpm.execute`, `rpm.spawn`: the program and its arguments.
    Exec(Vec<Arg>),
    /// `os.execute("shell command")`.
    Shell(Arg),
    /// chmod, chown, rename, link, utime, setenv...: named for the report.
    Other {
        call: String,
        args: Vec<Arg>,
    },
    /// `posix.uname`: looks at the running kernel (glibc's %pre checks its version).
    Uname,
}

/// Calls that only read or print: no effect on the image.
const QUIET: &[&str] = &[
    "print",
    "posix.access",
    "posix.stat",
    "posix.getenv",
    "os.getenv",
    "posix.files",
    "posix.dir",
    "posix.fork",
    "posix.wait",
    "posix.getpid",
    "posix.errno",
    "os.exit",
    "os.time",
    "os.date",
    "rpm.expand",
    "rpm.vercmp",
    "rpm.define",
    "rpm.interactive",
    "rpm.isdefined",
    "rpm.glob",
    "io.write",
    "io.read",
    "io.lines",
    "io.stdout:write",
    "io.stderr:write",
    "string.format",
    "string.find",
    "string.match",
    "string.gsub",
    "string.sub",
    "table.insert",
    "table.concat",
    "ipairs",
    "pairs",
    "tostring",
    "tonumber",
    "assert",
    "error",
    "pcall",
    "type",
];

/// The effects of a Lua script, in the order written.
pub fn effects(src: &str) -> Vec<Effect> {
    let toks = tokens(src);
    let mut out = Vec::new();
    // A local function that execs its parameter (glibc's `post_exec(program, ...)`): its
    // calls are execs of their arguments.
    let mut current: Option<(String, Vec<String>)> = None;
    let mut wrappers: Vec<String> = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let Tok::Name(name) = &toks[i] else {
            i += 1;
            continue;
        };
        if name == "function" {
            if let (Some(Tok::Name(f)), Some(Tok::Punct('('))) = (toks.get(i + 1), toks.get(i + 2))
            {
                let (params, next) = call_args(&toks, i + 2);
                let params = params.iter().map(|p| p.to_string_raw()).collect();
                current = Some((f.clone(), params));
                i = next;
                continue;
            }
        }
        // `cf:write(...)` and `f:close()` on a file handle: the open decided the effect.
        let is_call = matches!(toks.get(i + 1), Some(Tok::Punct('(')));
        if !is_call || name.contains(':') && !name.starts_with("io.") {
            i += 1;
            continue;
        }
        let (args, _) = call_args(&toks, i + 1);
        // Arguments may hold calls too (`assert(posix.exec(...))`): scan them as well.
        i += 2;
        if wrappers.contains(name) {
            out.push(Effect::Exec(args));
            continue;
        }
        match effect(name, args) {
            Some(Effect::Exec(a))
                if current.as_ref().is_some_and(
                    |(_, params)| matches!(a.first(), Some(Arg::Expr(p)) if params.contains(p)),
                ) =>
            {
                if let Some((f, _)) = &current {
                    wrappers.push(f.clone());
                }
            }
            Some(e) => out.push(e),
            None => {}
        }
    }
    out
}

fn effect(name: &str, args: Vec<Arg>) -> Option<Effect> {
    let first = || args.first().cloned().unwrap_or(Arg::Expr(String::new()));
    Some(match name {
        "posix.mkdir" => Effect::Mkdir(first()),
        "posix.symlink" => Effect::Symlink {
            target: first(),
            path: args.get(1).cloned().unwrap_or(Arg::Expr(String::new())),
        },
        "posix.unlink" | "os.remove" | "posix.rmdir" => Effect::Remove(first()),
        "io.open" => {
            let mode = args.get(1).and_then(Arg::lit).unwrap_or("r");
            if !mode.contains(['w', 'a']) {
                return None;
            }
            Effect::Write {
                path: first(),
                append: mode.contains('a'),
            }
        }
        "posix.exec" | "rpm.execute" | "rpm.spawn" | "posix.execp" => Effect::Exec(args),
        "os.execute" => Effect::Shell(first()),
        "posix.uname" => Effect::Uname,
        n if QUIET.contains(&n) => return None,
        // Local functions (glibc's `post_exec(...)`) are followed through their bodies,
        // which the scan reads too; unknown library calls are named.
        n if n.starts_with("posix.")
            || n.starts_with("os.")
            || n.starts_with("rpm.")
            || n.starts_with("io.") =>
        {
            Effect::Other {
                call: n.to_string(),
                args,
            }
        }
        _ => return None,
    })
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// A name with its dots and colons (`posix.symlink`, `io.stdout:write`).
    Name(String),
    Str(String),
    /// Any other character outside strings and comments (`(`, `,`, `.` of `..`).
    Punct(char),
    /// A number or other word kept for expression text.
    Word(String),
}

/// The arguments of the call whose `(` is `toks[open]`, and the index after its `)`.
fn call_args<'t>(toks: &'t [Tok], open: usize) -> (Vec<Arg>, usize) {
    let mut depth = 0usize;
    // Never empty: a `,` starts the next argument.
    let mut args: Vec<Vec<&'t Tok>> = vec![Vec::new()];
    let push = |args: &mut Vec<Vec<&'t Tok>>, t: &'t Tok| {
        if let Some(a) = args.last_mut() {
            a.push(t);
        }
    };
    let mut i = open;
    while i < toks.len() {
        let t = &toks[i];
        match t {
            Tok::Punct('(' | '{' | '[') => {
                depth += 1;
                if depth > 1 {
                    push(&mut args, t);
                }
            }
            Tok::Punct(')' | '}' | ']') => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    i += 1;
                    break;
                }
                push(&mut args, t);
            }
            Tok::Punct(',') if depth == 1 => args.push(Vec::new()),
            _ => push(&mut args, t),
        }
        i += 1;
    }
    let args = args
        .into_iter()
        .filter(|a| !a.is_empty())
        .map(|a| match a.as_slice() {
            [Tok::Str(s)] => Arg::Lit(s.clone()),
            toks => Arg::Expr(render(toks)),
        })
        .collect();
    (args, i)
}

/// An expression's tokens back as text: strings quoted, `..` joined.
fn render(toks: &[&Tok]) -> String {
    let mut s = String::new();
    for t in toks {
        match t {
            Tok::Name(n) | Tok::Word(n) => s.push_str(n),
            Tok::Str(v) => {
                s.push('"');
                s.push_str(v);
                s.push('"');
            }
            Tok::Punct(c) => s.push(*c),
        }
    }
    s
}

/// Lua's tokens, as far as this reader needs them: comments dropped, strings decoded
/// (`"…"`, `'…'`, `[[…]]`, `[==[…]==]`), names with dots and colons kept whole.
fn tokens(src: &str) -> Vec<Tok> {
    let b: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '-' && b.get(i + 1) == Some(&'-') {
            i += 2;
            if let Some(end) = long_bracket(&b, i) {
                i = end.1;
            } else {
                while i < b.len() && b[i] != '\n' {
                    i += 1;
                }
            }
        } else if c == '"' || c == '\'' {
            let mut s = String::new();
            i += 1;
            while i < b.len() && b[i] != c && b[i] != '\n' {
                if b[i] == '\\' && i + 1 < b.len() {
                    i += 1;
                    s.push(match b[i] {
                        'n' => '\n',
                        't' => '\t',
                        other => other,
                    });
                } else {
                    s.push(b[i]);
                }
                i += 1;
            }
            i += 1;
            out.push(Tok::Str(s));
        } else if c == '[' && matches!(b.get(i + 1), Some('[' | '=')) {
            match long_bracket(&b, i) {
                Some((s, end)) => {
                    out.push(Tok::Str(s));
                    i = end;
                }
                None => {
                    out.push(Tok::Punct('['));
                    i += 1;
                }
            }
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < b.len()
                && (b[i].is_alphanumeric()
                    || b[i] == '_'
                    || (matches!(b[i], '.' | ':')
                        && b.get(i + 1).is_some_and(|n| n.is_alphabetic() || *n == '_')
                        && b.get(i.wrapping_sub(1)) != Some(&'.')))
            {
                i += 1;
            }
            out.push(Tok::Name(b[start..i].iter().collect()));
        } else if c.is_ascii_digit() {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == '.') {
                i += 1;
            }
            out.push(Tok::Word(b[start..i].iter().collect()));
        } else {
            out.push(Tok::Punct(c));
            i += 1;
        }
    }
    out
}

/// A long bracket `[==[ … ]==]` starting at `b[i]`: its content and the index after it.
fn long_bracket(b: &[char], i: usize) -> Option<(String, usize)> {
    if b.get(i) != Some(&'[') {
        return None;
    }
    let mut j = i + 1;
    let mut level = 0;
    while b.get(j) == Some(&'=') {
        level += 1;
        j += 1;
    }
    if b.get(j) != Some(&'[') {
        return None;
    }
    let start = j + 1;
    let mut k = start;
    while k < b.len() {
        if b[k] == ']' {
            let mut m = k + 1;
            let mut l = 0;
            while b.get(m) == Some(&'=') {
                l += 1;
                m += 1;
            }
            if l == level && b.get(m) == Some(&']') {
                return Some((b[start..k].iter().collect(), m + 1));
            }
        }
        k += 1;
    }
    Some((b[start..].iter().collect(), b.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> Arg {
        Arg::Lit(s.into())
    }

    #[test]
    fn calls_with_literal_and_computed_arguments() {
        let src = r#"
-- a comment with posix.mkdir("/nope")
--[[ a long comment: posix.unlink("/nope") ]]
posix.mkdir("/usr")
posix.symlink('usr/bin', "/bin")
local cf = io.open("/etc/x", "w")
if cf then cf:write("DEFAULT\n") cf:close() end
local r = io.open("/proc/sys/crypto/fips_enabled", "r")
for fn in posix.files(p) do
  posix.unlink(cfgfn)
  posix.symlink(policypath.."/"..fn, cfgfn)
end
posix.exec("/sbin/ldconfig")
rpm.execute("/usr/sbin/iconvconfig", "-o", "/usr/lib64/gconv/gconv-modules.cache")
os.execute([[/usr/bin/true]])
posix.chmod("/etc/y", "0600")
print("done")
"#;
        assert_eq!(
            effects(src),
            vec![
                Effect::Mkdir(lit("/usr")),
                Effect::Symlink {
                    target: lit("usr/bin"),
                    path: lit("/bin")
                },
                Effect::Write {
                    path: lit("/etc/x"),
                    append: false
                },
                Effect::Remove(Arg::Expr("cfgfn".into())),
                Effect::Symlink {
                    target: Arg::Expr("policypath..\"/\"..fn".into()),
                    path: Arg::Expr("cfgfn".into())
                },
                Effect::Exec(vec![lit("/sbin/ldconfig")]),
                Effect::Exec(vec![
                    lit("/usr/sbin/iconvconfig"),
                    lit("-o"),
                    lit("/usr/lib64/gconv/gconv-modules.cache")
                ]),
                Effect::Shell(lit("/usr/bin/true")),
                Effect::Other {
                    call: "posix.chmod".into(),
                    args: vec![lit("/etc/y"), lit("0600")]
                },
            ]
        );
    }

    #[test]
    fn a_local_exec_helper_is_followed() {
        // As glibc's %post does it.
        let src = r#"
function post_exec (program, ...)
  local pid = posix.fork ()
  if pid == 0 then
    assert (posix.exec (program, ...))
  elseif pid > 0 then
    posix.wait (pid)
  end
end
if posix.access ("/sbin/ldconfig", "x") then
  post_exec ("/sbin/ldconfig")
end
"#;
        assert_eq!(
            effects(src),
            vec![Effect::Exec(vec![lit("/sbin/ldconfig")])]
        );
    }

    #[test]
    fn unterminated_input_ends_quietly() {
        for src in [
            "posix.mkdir(\"/x",
            "posix.symlink(",
            "[[",
            "--[==[",
            "io.open(",
            "'",
        ] {
            let _ = effects(src);
        }
    }
}
