//! `PRAGMA data_version` without a statement while nothing has committed.
//!
//! SQLite's `data_version` changes whenever a connection other than the asking one has
//! committed, but asking runs a statement that takes the WAL's read lock (two `fcntl`
//! calls and a snapshot), about 10 µs. Every commit, by any process, rewrites the header
//! of the WAL index (the `-shm` file beside the database, whose layout SQLite documents
//! in "WAL-mode File Format", section 2.1) and increments its change counter. So a header
//! equal to the one read before the last `data_version` proves that nothing committed
//! since, and the answer stands; a header that differs, is being written (its two copies
//! disagree) or cannot be read means only that SQLite is asked again.

use std::fs::File;
use std::path::Path;

use rusqlite::Connection;

/// The WAL index header: two copies of 48 bytes, the second written after the first.
const HEADER: usize = 96;

/// The `data_version` of one connection, with the WAL index header read before it.
pub struct DataVersion {
    /// The `-shm` file, opened once SQLite has created it.
    index: Option<File>,
    shm: std::path::PathBuf,
    seen: Option<([u8; HEADER], i64)>,
}

impl DataVersion {
    /// For connections to the database file at `db`.
    pub fn new(db: &Path) -> DataVersion {
        let mut shm = db.as_os_str().to_owned();
        shm.push("-shm");
        DataVersion {
            index: None,
            shm: shm.into(),
            seen: None,
        }
    }

    /// `conn`'s `data_version`; `conn` is the same connection at every call.
    pub fn get(&mut self, conn: &Connection) -> rusqlite::Result<i64> {
        // Read before SQLite is asked: a commit in between makes the next call ask again.
        let header = self.header();
        if let (Some(header), Some((seen, version))) = (&header, &self.seen) {
            if header == seen {
                return Ok(*version);
            }
        }
        let version = conn
            .prepare_cached("PRAGMA data_version")
            .and_then(|mut s| s.query_row([], |r| r.get(0)))?;
        self.seen = header.map(|h| (h, version));
        Ok(version)
    }

    /// The header, when both of its copies agree.
    fn header(&mut self) -> Option<[u8; HEADER]> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileExt;
            if self.index.is_none() {
                self.index = File::open(&self.shm).ok();
            }
            let mut header = [0u8; HEADER];
            self.index.as_ref()?.read_exact_at(&mut header, 0).ok()?;
            let (first, second) = header.split_at(HEADER / 2);
            // `isInit` (byte 12) is set once SQLite has written a valid header.
            (first == second && first[12] == 1).then_some(header)
        }
        #[cfg(not(unix))]
        {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wal(path: &Path) -> Connection {
        let c = Connection::open(path).unwrap();
        c.pragma_update(None, "journal_mode", "WAL").unwrap();
        c
    }

    #[test]
    fn another_connections_commit_changes_it_and_nothing_else_does() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("c.db");
        let other = wal(&db);
        other.execute_batch("CREATE TABLE t(x)").unwrap();
        let mine = wal(&db);
        let mut version = DataVersion::new(&db);
        let first = version.get(&mine).unwrap();
        assert!(version.seen.is_some(), "the WAL index header was not read");
        assert_eq!(version.get(&mine).unwrap(), first);
        for i in 0..3 {
            other.execute("INSERT INTO t VALUES (?1)", [i]).unwrap();
            let next = version.get(&mine).unwrap();
            assert_ne!(next, first, "commit {i} by another connection went unseen");
            assert_eq!(version.get(&mine).unwrap(), next);
        }
        // This connection's own commits leave it as it was, as SQLite's pragma does.
        let before = version.get(&mine).unwrap();
        mine.execute("INSERT INTO t VALUES (9)", []).unwrap();
        assert_eq!(version.get(&mine).unwrap(), before);
    }

    #[test]
    fn without_an_index_file_sqlite_is_asked_every_time() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("c.db");
        let conn = Connection::open(&db).unwrap(); // rollback journal: no `-shm`
        conn.execute_batch("CREATE TABLE t(x)").unwrap();
        let mut version = DataVersion::new(&db);
        version.get(&conn).unwrap();
        assert!(version.seen.is_none());
    }
}
