//! `rpmdb.sqlite` as rpm 4.16+ writes it (lib/backend/sqlite.c): the same tables, indexes
//! and rows, made reproducible.
//!
//! The schema is created with rpm's own statements in the order `rpmdb --initdb` runs them
//! (Packages, then the index tables in `dbiTags` order, each followed by its indexes: on
//! `key` for string tags, on `hnum` for array tags), so `sqlite_master` reads as rpm's
//! (less the `sqlite_stat1` table rpm's closing `PRAGMA optimize` adds).
//! Rows go in as `rpmdbAdd` puts them: a package's blob (hnum from AUTOINCREMENT, 1 up in
//! install order), then its rows table by table. The pragmas rpm sets are per connection
//! (secure_delete, case_sensitive_like) or would make the file depend on timing (WAL);
//! none is stored, and rpm sets no `user_version` or `application_id`.
//!
//! Reproducibility: the file is written in one transaction with no journal, 4096-byte
//! pages and the rollback-journal file format (rpm switches it to WAL itself the first
//! time it opens it for writing), so its bytes depend only on the statements, which
//! depend only on the packages, and on the bundled SQLite version (pinned in Cargo.lock).
//! No `VACUUM`: it would list all tables before all indexes in `sqlite_master`, unlike
//! rpm, and save about 2%.

use super::index::{TABLES, is_array};
use rusqlite::Connection;
use rusqlite::types::{ToSqlOutput, ValueRef};
use std::path::Path;

/// One installed package: its header blob and its rows, per table of [`TABLES`].
pub struct Package {
    pub blob: Vec<u8>,
    pub rows: Vec<Vec<super::index::Row>>,
}

/// rpm's `CREATE` statements, in `--initdb` order.
pub fn schema() -> Vec<String> {
    let mut out = vec![
        "CREATE TABLE IF NOT EXISTS 'Packages' (hnum INTEGER PRIMARY KEY AUTOINCREMENT,blob BLOB NOT NULL)"
            .to_string(),
    ];
    for (name, tag, text) in TABLES {
        out.push(format!(
            "CREATE TABLE IF NOT EXISTS '{name}' (key '{}' NOT NULL, hnum INTEGER NOT NULL, idx INTEGER NOT NULL, FOREIGN KEY (hnum) REFERENCES 'Packages'(hnum))",
            if text { "TEXT" } else { "BLOB" }
        ));
        if text {
            out.push(format!(
                "CREATE INDEX IF NOT EXISTS '{name}_key_idx' ON '{name}'(key ASC)"
            ));
        }
        if is_array(tag) {
            out.push(format!(
                "CREATE INDEX IF NOT EXISTS '{name}_hnum_idx' ON '{name}'(hnum ASC)"
            ));
        }
    }
    out
}

/// Write the database of `packages` (in hnum order) to `out`, a new or empty file.
pub fn write(packages: &[Package], out: &Path) -> rusqlite::Result<()> {
    let conn = Connection::open(out)?;
    conn.execute_batch(
        "PRAGMA page_size = 4096; PRAGMA encoding = 'UTF-8'; PRAGMA journal_mode = OFF; \
         PRAGMA synchronous = OFF; PRAGMA locking_mode = EXCLUSIVE;",
    )?;
    conn.execute_batch("BEGIN")?;
    for stmt in schema() {
        conn.execute(&stmt, [])?;
    }
    {
        let mut put_pkg = conn.prepare("INSERT OR REPLACE INTO 'Packages' VALUES(?, ?)")?;
        let mut put_row = TABLES
            .iter()
            .map(|(name, _, _)| conn.prepare(&format!("INSERT INTO '{name}' VALUES(?, ?, ?)")))
            .collect::<rusqlite::Result<Vec<_>>>()?;
        for (n, p) in packages.iter().enumerate() {
            put_pkg.execute(rusqlite::params![None::<i64>, p.blob])?;
            let hnum = n as i64 + 1;
            for (t, rows) in p.rows.iter().enumerate() {
                let text = TABLES[t].2;
                for (key, idx) in rows {
                    // rpm binds keys of string tags as TEXT with their raw bytes (file
                    // names need not be UTF-8), other keys as BLOB.
                    let key = if text {
                        ToSqlOutput::Borrowed(ValueRef::Text(key))
                    } else {
                        ToSqlOutput::Borrowed(ValueRef::Blob(key))
                    };
                    put_row[t].execute(rusqlite::params![key, hnum, i64::from(*idx)])?;
                }
            }
        }
    }
    conn.execute_batch("COMMIT")?;
    conn.close().map_err(|(_, e)| e)
}
