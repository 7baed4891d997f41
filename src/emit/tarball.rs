//! A minimal, explicit tar writer for OCI layers and the oci-archive: every header field is
//! set here (no host mtime, uid, user name or mode leaks in, symlinks are never followed),
//! entries are written in the order given (callers sort), ustar format with a PAX `path`
//! record for names ustar cannot hold.

use std::io::{self, Write};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TarKind {
    Dir,
    File(Vec<u8>),
    /// A file streamed from disk (large artifacts such as the initramfs).
    FileFrom {
        path: std::path::PathBuf,
        size: u64,
    },
    Symlink(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TarEntry {
    /// Relative path without a leading `/` (directories without a trailing `/`).
    pub path: String,
    pub kind: TarKind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// Write `entries` as a tar stream with every mtime set to `mtime`, ending with the two
/// zero blocks.
pub fn write<W: Write>(mut w: W, entries: &[TarEntry], mtime: u64) -> io::Result<W> {
    for e in entries {
        let name = match e.kind {
            TarKind::Dir => format!("{}/", e.path),
            _ => e.path.clone(),
        };
        let (size, typeflag, link): (u64, u8, &str) = match &e.kind {
            TarKind::Dir => (0, b'5', ""),
            TarKind::File(d) => (d.len() as u64, b'0', ""),
            TarKind::FileFrom { size, .. } => (*size, b'0', ""),
            TarKind::Symlink(t) => (0, b'2', t.as_str()),
        };
        let split = split_ustar(&name);
        if split.is_none() || link.len() > 100 {
            let mut records = Vec::new();
            if split.is_none() {
                records.extend(pax_record("path", &name));
            }
            if link.len() > 100 {
                records.extend(pax_record("linkpath", link));
            }
            let hdr = header(
                "pax_header",
                b'x',
                records.len() as u64,
                0o644,
                0,
                0,
                mtime,
                "",
                "",
            )?;
            w.write_all(&hdr)?;
            w.write_all(&records)?;
            pad(&mut w, records.len() as u64)?;
        }
        let (prefix, short) = split.unwrap_or(("", truncate(&name, 100)));
        let link = truncate(link, 100);
        let hdr = header(
            short,
            typeflag,
            size,
            e.mode & 0o7777,
            e.uid,
            e.gid,
            mtime,
            link,
            prefix,
        )?;
        w.write_all(&hdr)?;
        match &e.kind {
            TarKind::File(d) => {
                w.write_all(d)?;
                pad(&mut w, d.len() as u64)?;
            }
            TarKind::FileFrom { path, size } => {
                let f = fs_err::File::open(path)?;
                let copied = copy_big(&mut io::Read::take(f, *size), &mut w)?;
                if copied != *size {
                    return Err(io::Error::other(format!(
                        "`{}` changed while archiving ({copied} bytes, expected {size})",
                        path.display()
                    )));
                }
                pad(&mut w, *size)?;
            }
            _ => {}
        }
    }
    w.write_all(&[0u8; 1024])?;
    Ok(w)
}

/// `io::copy` through a 1 MiB buffer: a layer holds the whole initramfs, and 8 KiB reads
/// (io::copy's buffer) cost a syscall each.
fn copy_big(r: &mut impl io::Read, w: &mut impl Write) -> io::Result<u64> {
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        w.write_all(&buf[..n])?;
        total += n as u64;
    }
}

fn truncate(s: &str, n: usize) -> &str {
    let mut end = s.len().min(n);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// ustar keeps up to 100 bytes of name plus 155 of prefix, split at a `/`.
fn split_ustar(name: &str) -> Option<(&str, &str)> {
    if name.len() <= 100 {
        return Some(("", name));
    }
    let bytes = name.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'/' && i <= 155 && name.len() - i - 1 <= 100 && i > 0 && i + 1 < name.len() {
            return Some((&name[..i], &name[i + 1..]));
        }
    }
    None
}

fn pax_record(key: &str, value: &str) -> Vec<u8> {
    // "<len> <key>=<value>\n" where len counts itself.
    let body = format!(" {key}={value}\n");
    let mut len = body.len() + 1;
    while format!("{len}").len() + body.len() != len {
        len += 1;
    }
    format!("{len}{body}").into_bytes()
}

fn pad<W: Write>(w: &mut W, len: u64) -> io::Result<()> {
    let n = ((512 - len % 512) % 512) as usize;
    w.write_all(&vec![0u8; n])
}

fn octal(field: &mut [u8], v: u64) -> io::Result<()> {
    let s = format!("{:0width$o}", v, width = field.len() - 1);
    if s.len() > field.len() - 1 {
        return Err(io::Error::other(format!(
            "value {v} does not fit a tar header field"
        )));
    }
    field[..s.len()].copy_from_slice(s.as_bytes());
    field[s.len()] = 0;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn header(
    name: &str,
    typeflag: u8,
    size: u64,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: u64,
    link: &str,
    prefix: &str,
) -> io::Result<[u8; 512]> {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    octal(&mut h[100..108], mode as u64)?;
    octal(&mut h[108..116], uid as u64)?;
    octal(&mut h[116..124], gid as u64)?;
    octal(&mut h[124..136], size)?;
    octal(&mut h[136..148], mtime)?;
    h[156] = typeflag;
    h[157..157 + link.len()].copy_from_slice(link.as_bytes());
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    // uname/gname stay empty: numeric owners only. devmajor/devminor as zeros.
    octal(&mut h[329..337], 0)?;
    octal(&mut h[337..345], 0)?;
    h[345..345 + prefix.len()].copy_from_slice(prefix.as_bytes());
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|b| *b as u32).sum();
    let s = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(s.as_bytes());
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn read_back_by_tar_crate() {
        let long = format!("a/{}/{}", "d".repeat(120), "f".repeat(90));
        let entries = vec![
            TarEntry {
                path: "a".into(),
                kind: TarKind::Dir,
                mode: 0o755,
                uid: 0,
                gid: 0,
            },
            TarEntry {
                path: "a/s".into(),
                kind: TarKind::File(b"secret".to_vec()),
                mode: 0o4750,
                uid: 5,
                gid: 7,
            },
            TarEntry {
                path: "a/l".into(),
                kind: TarKind::Symlink("s".into()),
                mode: 0o777,
                uid: 0,
                gid: 0,
            },
            TarEntry {
                path: long.clone(),
                kind: TarKind::File(vec![1; 600]),
                mode: 0o644,
                uid: 0,
                gid: 0,
            },
        ];
        let bytes = write(Vec::new(), &entries, 1_700_000_000).unwrap();
        assert_eq!(bytes.len() % 512, 0);
        let mut ar = tar::Archive::new(&bytes[..]);
        let mut seen = Vec::new();
        for e in ar.entries().unwrap() {
            let mut e = e.unwrap();
            let h = e.header().clone();
            let p = e.path().unwrap().to_string_lossy().into_owned();
            let mut d = Vec::new();
            e.read_to_end(&mut d).unwrap();
            seen.push((
                p,
                h.mode().unwrap(),
                h.uid().unwrap(),
                h.mtime().unwrap(),
                d.len(),
            ));
        }
        assert_eq!(seen[0], ("a/".into(), 0o755, 0, 1_700_000_000, 0));
        assert_eq!(seen[1], ("a/s".into(), 0o4750, 5, 1_700_000_000, 6));
        assert_eq!(seen[3].0, long);
        assert_eq!(seen[3].4, 600);
    }
}
