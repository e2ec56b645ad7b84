//! The embedded SQLite backend (WAL, `synchronous=FULL`): one writer connection used by the
//! sequencer and administration, a small pool of reader connections for queries.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use shinrai_scu::{Algorithm, PublicKey};

use crate::merkle::Hash;
use crate::statement::{IndexRecord, OrgKey, Subject};
use crate::storage::{
    Batch, Direction, EdgeRow, EntryBytes, IndexStorage, LogStorage, Page, Registry, SearchQuery,
    StoredCheckpoint, StoredEntry,
};
use crate::{Error, Result};

/// Schema version written to `meta`; a different version refuses to open.
const SCHEMA_VERSION: &str = "1";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries(
  idx INTEGER PRIMARY KEY, id BLOB NOT NULL UNIQUE, body BLOB NOT NULL,
  registered_at INTEGER NOT NULL, submitter TEXT NOT NULL, issuer_org TEXT NOT NULL,
  issuer_keyid TEXT NOT NULL, payload_type TEXT NOT NULL, predicate_type TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS entries_pred ON entries(predicate_type, idx);
CREATE INDEX IF NOT EXISTS entries_org ON entries(issuer_org, idx);
CREATE INDEX IF NOT EXISTS entries_key ON entries(issuer_keyid, idx);
CREATE INDEX IF NOT EXISTS entries_time ON entries(registered_at);
CREATE TABLE IF NOT EXISTS subjects(idx INTEGER NOT NULL, name TEXT NOT NULL, digest TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS subjects_digest ON subjects(digest, idx);
CREATE INDEX IF NOT EXISTS subjects_name ON subjects(name, idx);
CREATE INDEX IF NOT EXISTS subjects_idx ON subjects(idx);
CREATE TABLE IF NOT EXISTS edges(input TEXT NOT NULL, output TEXT NOT NULL, idx INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS edges_in ON edges(input);
CREATE INDEX IF NOT EXISTS edges_out ON edges(output);
CREATE TABLE IF NOT EXISTS tiles(level INTEGER NOT NULL, idx INTEGER NOT NULL, data BLOB NOT NULL,
  PRIMARY KEY(level, idx)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints(size INTEGER PRIMARY KEY, note TEXT NOT NULL, cose_sig BLOB NOT NULL,
  created INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS orgs(name TEXT PRIMARY KEY, created INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS org_keys(keyid TEXT PRIMARY KEY, org TEXT NOT NULL REFERENCES orgs(name),
  algorithm TEXT NOT NULL, public BLOB NOT NULL, created INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tokens(hash BLOB PRIMARY KEY, org TEXT NOT NULL REFERENCES orgs(name),
  created INTEGER NOT NULL) WITHOUT ROWID;
";

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The SQLite backend.
pub struct SqliteBackend {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    /// Dropping this stops the background checkpointer (see [`spawn_checkpointer`]).
    _checkpointer: std::sync::mpsc::SyncSender<()>,
}

/// WAL pages after which the writer checkpoints on its own, a backstop for a checkpointer
/// that falls behind (16 MiB of 4 KiB pages).
const WAL_BACKSTOP_PAGES: i64 = 4_096;
/// How often the background checkpointer copies committed WAL frames into the database.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// Starts a thread that runs passive WAL checkpoints on its own connection every
/// [`CHECKPOINT_EVERY`], so the writer (the sequencer, on the registration path) does not copy
/// WAL frames into the database file inside its commits. The thread stops when the returned
/// sender is dropped. Passive checkpoints never block the writer or readers; the writer still
/// checkpoints by itself past [`WAL_BACKSTOP_PAGES`].
fn spawn_checkpointer(path: &Path) -> Result<std::sync::mpsc::SyncSender<()>> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    let (tx, rx) = std::sync::mpsc::sync_channel::<()>(1);
    std::thread::Builder::new()
        .name("shinrai-walckpt".into())
        .spawn(move || {
            use std::sync::mpsc::RecvTimeoutError;
            while let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(CHECKPOINT_EVERY) {
                if let Err(e) =
                    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(0))
                {
                    tracing::warn!(error = %e, "background WAL checkpoint failed; the writer's backstop checkpoint still runs");
                }
            }
        })
        .map_err(|e| Error::DataDir {
            path: path.display().to_string(),
            reason: format!("cannot start the WAL checkpoint thread: {e}"),
        })?;
    Ok(tx)
}

impl std::fmt::Debug for SqliteBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteBackend")
            .field("path", &self.path)
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock leaves the connection usable (SQLite rolls back any open
    // transaction when it is next used), so poisoning is ignored.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl SqliteBackend {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let writer = Connection::open(path)?;
        writer.pragma_update(None, "journal_mode", "WAL")?;
        writer.pragma_update(None, "synchronous", "FULL")?;
        writer.pragma_update(None, "foreign_keys", "ON")?;
        // Index B-trees of a large log outgrow SQLite's 2 MB default cache; 64 MB keeps the hot
        // upper levels in memory for the sequencer's random inserts (ids, digests).
        writer.pragma_update(None, "cache_size", -65_536)?;
        // Checkpoints run on a background thread; the writer's own is only a backstop.
        writer.pragma_update(None, "wal_autocheckpoint", WAL_BACKSTOP_PAGES)?;
        writer.busy_timeout(std::time::Duration::from_secs(10))?;
        writer.execute_batch(SCHEMA)?;
        let version: Option<String> = writer
            .query_row("SELECT value FROM meta WHERE key='schema'", [], |r| {
                r.get(0)
            })
            .optional()?;
        match version {
            None => {
                writer.execute(
                    "INSERT INTO meta(key, value) VALUES('schema', ?1)",
                    [SCHEMA_VERSION],
                )?;
            }
            Some(v) if v == SCHEMA_VERSION => {}
            Some(v) => {
                return Err(Error::DataDir {
                    path: path.display().to_string(),
                    reason: format!(
                        "database schema version {v}, this build reads {SCHEMA_VERSION}"
                    ),
                });
            }
        }
        let checkpointer = spawn_checkpointer(path)?;
        Ok(SqliteBackend {
            path: path.to_owned(),
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
            _checkpointer: checkpointer,
        })
    }

    fn with_reader<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = lock(&self.readers).pop();
        let conn = match conn {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                c.busy_timeout(std::time::Duration::from_secs(10))?;
                c.pragma_update(None, "cache_size", -16_384)?;
                c.pragma_update(None, "mmap_size", 1i64 << 30)?;
                c.set_prepared_statement_cache_capacity(64);
                c
            }
        };
        let out = f(&conn);
        let mut pool = lock(&self.readers);
        if pool.len() < 16 {
            pool.push(conn);
        }
        out
    }

    /// Runs arbitrary SQL on the writer (tests use it to simulate tampering on disk).
    pub fn execute_raw(&self, sql: &str) -> Result<()> {
        lock(&self.writer).execute_batch(sql)?;
        Ok(())
    }
}

fn entry_from_row(
    conn: &Connection,
    r: &rusqlite::Row<'_>,
    with_body: bool,
) -> Result<StoredEntry> {
    let index: i64 = r.get(0)?;
    let id: Vec<u8> = r.get(1)?;
    let bytes: Vec<u8> = if with_body { r.get(2)? } else { Vec::new() };
    let mut e = StoredEntry {
        index: index as u64,
        id: hex::encode(id),
        bytes,
        registered_at_ms: r.get(3)?,
        submitter: r.get(4)?,
        issuer_org: r.get(5)?,
        issuer_keyid: r.get(6)?,
        payload_type: r.get(7)?,
        predicate_type: r.get(8)?,
        subjects: Vec::new(),
    };
    e.subjects = subjects_of(conn, index)?;
    Ok(e)
}

fn subjects_of(conn: &Connection, index: i64) -> Result<Vec<Subject>> {
    let mut st =
        conn.prepare_cached("SELECT name, digest FROM subjects WHERE idx=?1 ORDER BY rowid")?;
    let mut out: Vec<Subject> = Vec::new();
    let rows = st.query_map([index], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    for row in rows {
        let (name, digest) = row?;
        match out.last_mut() {
            Some(s) if s.name == name => s.digests.push(digest),
            _ => out.push(Subject {
                name,
                digests: vec![digest],
            }),
        }
    }
    Ok(out)
}

fn insert_index(tx: &rusqlite::Transaction<'_>, index: i64, record: &IndexRecord) -> Result<()> {
    let mut sub =
        tx.prepare_cached("INSERT INTO subjects(idx, name, digest) VALUES(?1, ?2, ?3)")?;
    for s in &record.subjects {
        for d in &s.digests {
            sub.execute(params![index, s.name, d])?;
        }
    }
    let mut edge = tx.prepare_cached("INSERT INTO edges(input, output, idx) VALUES(?1, ?2, ?3)")?;
    for e in &record.edges {
        edge.execute(params![e.input, e.output, index])?;
    }
    Ok(())
}

const ENTRY_COLS: &str = "idx, id, body, registered_at, submitter, issuer_org, issuer_keyid, payload_type, predicate_type";

impl LogStorage for SqliteBackend {
    fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>> {
        self.with_reader(|c| {
            Ok(c.prepare_cached(
                "SELECT size, note, cose_sig FROM checkpoints ORDER BY size DESC LIMIT 1",
            )?
            .query_row([], |r| {
                Ok(StoredCheckpoint {
                    size: r.get::<_, i64>(0)? as u64,
                    note: r.get(1)?,
                    cose_signature: r.get(2)?,
                })
            })
            .optional()?)
        })
    }

    fn integrate(&self, batch: &Batch) -> Result<()> {
        let mut conn = lock(&self.writer);
        let tx = conn.transaction()?;
        let size: i64 = tx.query_row("SELECT COALESCE(MAX(idx) + 1, 0) FROM entries", [], |r| {
            r.get(0)
        })?;
        if let Some(first) = batch.entries.first()
            && first.index != size as u64
        {
            return Err(Error::Inconsistent(format!(
                "batch starts at index {} but the log has {size} entries",
                first.index
            )));
        }
        {
            let mut ins = tx.prepare_cached(
                "INSERT INTO entries(idx, id, body, registered_at, submitter, issuer_org, issuer_keyid, payload_type, predicate_type)
                 VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            for e in &batch.entries {
                ins.execute(params![
                    e.index as i64,
                    &e.id[..],
                    &e.bytes[..],
                    e.registered_at_ms,
                    e.submitter,
                    e.issuer_org,
                    e.issuer_keyid,
                    e.record.payload_type,
                    e.record.predicate_type
                ])?;
                insert_index(&tx, e.index as i64, &e.record)?;
            }
            let mut tile = tx.prepare_cached(
                "INSERT OR REPLACE INTO tiles(level, idx, data) VALUES(?1, ?2, ?3)",
            )?;
            for (level, index, hashes) in &batch.tiles {
                let data = shinrai_tlog::tiles::encode_hash_tile(hashes)?;
                tile.execute(params![*level as i64, *index as i64, data])?;
            }
            tx.prepare_cached(
                "INSERT INTO checkpoints(size, note, cose_sig, created) VALUES(?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                batch.checkpoint.size as i64,
                batch.checkpoint.note,
                batch.checkpoint.cose_signature,
                now_secs()
            ])?;
        }
        tx.commit()?;
        Ok(())
    }

    fn lookup_ids(&self, ids: &[Hash]) -> Result<Vec<Option<u64>>> {
        self.with_reader(|c| {
            let mut st = c.prepare_cached("SELECT idx FROM entries WHERE id=?1")?;
            ids.iter()
                .map(|id| {
                    Ok(st
                        .query_row([&id[..]], |r| r.get::<_, i64>(0))
                        .optional()?
                        .map(|i| i as u64))
                })
                .collect()
        })
    }

    fn lookup_ids_for_integration(&self, ids: &[Hash]) -> Result<Vec<Option<u64>>> {
        // In id order: neighbouring probes share the index pages they walk.
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_unstable_by_key(|&i| ids[i]);
        let conn = lock(&self.writer);
        let mut st = conn.prepare_cached("SELECT idx FROM entries WHERE id=?1")?;
        let mut out = vec![None; ids.len()];
        for i in order {
            out[i] = st
                .query_row([&ids[i][..]], |r| r.get::<_, i64>(0))
                .optional()?
                .map(|i| i as u64);
        }
        Ok(out)
    }

    fn read_tile(&self, level: u8, index: u64) -> Result<Option<Vec<u8>>> {
        self.with_reader(|c| {
            Ok(
                c.prepare_cached("SELECT data FROM tiles WHERE level=?1 AND idx=?2")?
                    .query_row(params![level as i64, index as i64], |r| r.get(0))
                    .optional()?,
            )
        })
    }

    fn read_entries(&self, start: u64, count: u64) -> Result<Vec<Vec<u8>>> {
        self.with_reader(|c| {
            let mut st = c.prepare_cached(
                "SELECT body FROM entries WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
            )?;
            let rows = st.query_map(params![start as i64, (start + count) as i64], |r| r.get(0))?;
            Ok(rows.collect::<std::result::Result<Vec<Vec<u8>>, _>>()?)
        })
    }

    fn entry_bytes_by_id(&self, id: &Hash) -> Result<Option<EntryBytes>> {
        self.with_reader(|c| {
            let mut st =
                c.prepare_cached("SELECT idx, issuer_org, body FROM entries WHERE id=?1")?;
            Ok(st
                .query_row([&id[..]], |r| {
                    Ok(EntryBytes {
                        index: r.get::<_, i64>(0)? as u64,
                        issuer_org: r.get(1)?,
                        bytes: r.get(2)?,
                    })
                })
                .optional()?)
        })
    }

    fn entry(&self, index: u64) -> Result<Option<StoredEntry>> {
        self.with_reader(|c| {
            let mut st =
                c.prepare_cached(&format!("SELECT {ENTRY_COLS} FROM entries WHERE idx=?1"))?;
            let mut rows = st.query([index as i64])?;
            match rows.next()? {
                Some(r) => Ok(Some(entry_from_row(c, r, true)?)),
                None => Ok(None),
            }
        })
    }
}

impl IndexStorage for SqliteBackend {
    fn search(&self, q: &SearchQuery) -> Result<Page> {
        let mut sql = format!("SELECT {ENTRY_COLS} FROM entries e WHERE e.idx > ?1");
        let mut args: Vec<rusqlite::types::Value> =
            vec![q.after.map(|a| a as i64).unwrap_or(-1).into()];
        let mut arg = |sql: &mut String, cond: &str, v: rusqlite::types::Value| {
            args.push(v);
            sql.push_str(&cond.replace('?', &format!("?{}", args.len())));
        };
        if let Some(d) = &q.subject_digest {
            arg(
                &mut sql,
                " AND e.idx IN (SELECT idx FROM subjects WHERE digest = ?)",
                d.clone().into(),
            );
        }
        if let Some(n) = &q.subject_name {
            arg(
                &mut sql,
                " AND e.idx IN (SELECT idx FROM subjects WHERE name = ?)",
                n.clone().into(),
            );
        }
        if let Some(i) = &q.issuer {
            arg(&mut sql, " AND (e.issuer_org = ? ", i.clone().into());
            arg(&mut sql, "OR e.issuer_keyid = ?)", i.clone().into());
        }
        if let Some(p) = &q.predicate_type {
            arg(&mut sql, " AND e.predicate_type = ?", p.clone().into());
        }
        if let Some(s) = q.since_ms {
            arg(&mut sql, " AND e.registered_at >= ?", s.into());
        }
        if let Some(u) = q.until_ms {
            arg(&mut sql, " AND e.registered_at < ?", u.into());
        }
        let limit = q.limit.clamp(1, 1000);
        sql.push_str(&format!(" ORDER BY e.idx LIMIT {}", limit + 1));
        self.with_reader(|c| {
            let mut st = c.prepare_cached(&sql)?;
            let mut rows = st.query(rusqlite::params_from_iter(args.iter()))?;
            let mut entries = Vec::new();
            while let Some(r) = rows.next()? {
                entries.push(entry_from_row(c, r, false)?);
            }
            let next = if entries.len() > limit as usize {
                entries.truncate(limit as usize);
                entries.last().map(|e| e.index)
            } else {
                None
            };
            Ok(Page { entries, next })
        })
    }

    fn entries_about(
        &self,
        digest: &str,
        predicate_type: &str,
        limit: usize,
    ) -> Result<Vec<EntryBytes>> {
        self.with_reader(|c| {
            let mut st = c.prepare_cached(
                // Subjects by digest (covering index, in idx order), then each entry by rowid; an
                // entry naming the digest twice is returned once.
                "SELECT e.idx, e.issuer_org, e.body FROM subjects s JOIN entries e ON e.idx = s.idx \
                 WHERE s.digest = ?1 AND e.predicate_type = ?2 GROUP BY s.idx ORDER BY s.idx LIMIT ?3",
            )?;
            let rows = st.query_map(params![digest, predicate_type, limit as i64], |r| {
                Ok(EntryBytes {
                    index: r.get::<_, i64>(0)? as u64,
                    issuer_org: r.get(1)?,
                    bytes: r.get(2)?,
                })
            })?;
            Ok(rows.collect::<std::result::Result<Vec<_>, _>>()?)
        })
    }

    fn edges(&self, nodes: &[String], direction: Direction, limit: usize) -> Result<Vec<EdgeRow>> {
        let sql = match direction {
            Direction::Up => "SELECT input, output, idx FROM edges WHERE output = ?1 LIMIT ?2",
            Direction::Down => "SELECT input, output, idx FROM edges WHERE input = ?1 LIMIT ?2",
        };
        self.with_reader(|c| {
            let mut st = c.prepare_cached(sql)?;
            let mut out = Vec::new();
            for n in nodes {
                if out.len() >= limit {
                    break;
                }
                let rows = st.query_map(params![n, (limit - out.len()) as i64], |r| {
                    Ok(EdgeRow {
                        input: r.get(0)?,
                        output: r.get(1)?,
                        index: r.get::<_, i64>(2)? as u64,
                    })
                })?;
                for row in rows {
                    out.push(row?);
                }
            }
            Ok(out)
        })
    }

    fn rebuild_index(&self, derive: &dyn Fn(&[u8]) -> Result<IndexRecord>) -> Result<u64> {
        let mut conn = lock(&self.writer);
        let tx = conn.transaction()?;
        tx.execute_batch("DELETE FROM subjects; DELETE FROM edges;")?;
        let mut count = 0u64;
        {
            let mut read = tx.prepare("SELECT idx, body FROM entries ORDER BY idx")?;
            let mut upd =
                tx.prepare("UPDATE entries SET payload_type=?2, predicate_type=?3 WHERE idx=?1")?;
            let mut rows = read.query([])?;
            while let Some(r) = rows.next()? {
                let idx: i64 = r.get(0)?;
                let body: Vec<u8> = r.get(1)?;
                let record = derive(&body)?;
                upd.execute(params![idx, record.payload_type, record.predicate_type])?;
                insert_index(&tx, idx, &record)?;
                count += 1;
            }
        }
        tx.commit()?;
        Ok(count)
    }
}

impl Registry for SqliteBackend {
    fn add_org(&self, name: &str) -> Result<()> {
        let conn = lock(&self.writer);
        let n = conn.execute(
            "INSERT OR IGNORE INTO orgs(name, created) VALUES(?1, ?2)",
            params![name, now_secs()],
        )?;
        if n == 0 {
            return Err(Error::Conflict(format!("organisation {name:?}")));
        }
        Ok(())
    }

    fn orgs(&self) -> Result<Vec<String>> {
        self.with_reader(|c| {
            let mut st = c.prepare_cached("SELECT name FROM orgs ORDER BY name")?;
            let rows = st.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<std::result::Result<Vec<String>, _>>()?)
        })
    }

    fn add_org_key(&self, key: &OrgKey) -> Result<()> {
        let conn = lock(&self.writer);
        let exists: Option<String> = conn
            .query_row("SELECT name FROM orgs WHERE name=?1", [&key.org], |r| {
                r.get(0)
            })
            .optional()?;
        if exists.is_none() {
            return Err(Error::NotFound(format!("organisation {:?}", key.org)));
        }
        let n = conn.execute(
            "INSERT OR IGNORE INTO org_keys(keyid, org, algorithm, public, created) VALUES(?1, ?2, ?3, ?4, ?5)",
            params![
                key.keyid,
                key.org,
                key.public_key.algorithm.as_str(),
                key.public_key.bytes,
                now_secs()
            ],
        )?;
        if n == 0 {
            return Err(Error::Conflict(format!("key {}", key.keyid)));
        }
        Ok(())
    }

    fn org_key(&self, keyid: &str) -> Result<Option<OrgKey>> {
        self.with_reader(|c| {
            let mut st = c.prepare_cached(
                "SELECT keyid, org, algorithm, public FROM org_keys WHERE keyid=?1",
            )?;
            let mut rows = st.query([keyid])?;
            match rows.next()? {
                Some(r) => Ok(Some(key_from_row(r)?)),
                None => Ok(None),
            }
        })
    }

    fn org_keys(&self) -> Result<Vec<OrgKey>> {
        self.with_reader(|c| {
            let mut st = c.prepare_cached(
                "SELECT keyid, org, algorithm, public FROM org_keys ORDER BY org, keyid",
            )?;
            let mut rows = st.query([])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(key_from_row(r)?);
            }
            Ok(out)
        })
    }

    fn add_token(&self, org: &str, token_hash: &Hash) -> Result<()> {
        let conn = lock(&self.writer);
        conn.execute(
            "INSERT INTO tokens(hash, org, created) VALUES(?1, ?2, ?3)",
            params![&token_hash[..], org, now_secs()],
        )?;
        Ok(())
    }

    fn token_org(&self, token_hash: &Hash) -> Result<Option<String>> {
        self.with_reader(|c| {
            Ok(c.prepare_cached("SELECT org FROM tokens WHERE hash=?1")?
                .query_row([&token_hash[..]], |r| r.get(0))
                .optional()?)
        })
    }
}

fn key_from_row(r: &rusqlite::Row<'_>) -> Result<OrgKey> {
    let alg: String = r.get(2)?;
    let public: Vec<u8> = r.get(3)?;
    let algorithm: Algorithm = alg.parse()?;
    Ok(OrgKey {
        keyid: r.get(0)?,
        org: r.get(1)?,
        public_key: PublicKey::from_bytes(algorithm, &public)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{Batch, NewEntry, StoredCheckpoint};
    use std::sync::Arc;

    fn batch(start: u64, n: u64) -> Batch {
        let entries = (start..start + n)
            .map(|i| {
                let bytes: Arc<[u8]> = Arc::from(vec![i as u8; 2048]);
                let mut id = [0u8; 32];
                id[..8].copy_from_slice(&i.to_be_bytes());
                NewEntry {
                    index: i,
                    id,
                    bytes,
                    registered_at_ms: 1,
                    submitter: "org".into(),
                    issuer_org: "org".into(),
                    issuer_keyid: "key".into(),
                    record: Default::default(),
                }
            })
            .collect();
        Batch {
            entries,
            tiles: Vec::new(),
            checkpoint: StoredCheckpoint {
                size: start + n,
                note: format!("checkpoint {}", start + n),
                cose_signature: Vec::new(),
            },
        }
    }

    #[test]
    fn committed_pages_reach_the_database_file_without_the_writer_checkpointing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("log.db");
        let db = SqliteBackend::open(&path).expect("open");
        let before = std::fs::metadata(&path).expect("db file").len();
        // About 1 MB: far below the writer's own checkpoint threshold (16 MiB of WAL), so only
        // the background checkpointer can move these pages into the database file.
        for b in 0..10 {
            db.integrate(&batch(b * 50, 50)).expect("integrate");
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let now = std::fs::metadata(&path).expect("db file").len();
            if now > before + 500_000 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the database file stayed at {now} bytes: no background checkpoint ran"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        // Every entry is readable after the checkpoints, and the log goes on.
        assert_eq!(db.read_entries(0, 500).expect("read").len(), 500);
        db.integrate(&batch(500, 1))
            .expect("integrate after checkpoints");
        assert_eq!(db.read_entries(500, 1).expect("read").len(), 1);
    }
}
