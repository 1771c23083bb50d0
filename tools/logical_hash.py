#!/usr/bin/env python3
"""Recompute rollproof's canonical logical hash of SQLite files.

An independent, dependency-free re-implementation (Python standard library
only) of the algorithm in docs/LOGICAL-HASH.md and src/engine/sqlite/logical.rs, so a
reviewer can check a proof report's logical hashes without trusting
rollproof. Files are opened read-only; their bytes are never changed.

Usage:
    python3 tools/logical_hash.py FILE... [--json]

Prints "<logical sha256>  <file>" per file (like sha256sum), or with --json
an array of {"path", "sha256", "schema_sha256", "settings", "tables": {name:
{"rows", "sha256"}}}, the same shape as the "logical" object of
`rollproof hash --json`. Like rollproof, it refuses (exit 2) a file with a
non-empty -wal beside it: its main file is not the whole state.

Algorithm (all integers big-endian; str(x) = u64 byte length, then bytes;
value(v) = "N" | "I" i64 | "F" f64 bits | "T" str | "B" str):
  schema  = SHA-256( str("schema"), then for each sqlite_schema row except
            the exact statistics tables (EXCLUDED below), ordered by
            (type, name): "S" value(type)
            value(name) value(tbl_name) value(sql) )
  table t = SHA-256( str("table") str(t) u64(ncols) str(col)..., then for each
            row of SELECT cols FROM t ORDER BY <primary key, else all
            columns>: "R" value(col)..., then "E" u64(rows) )
  db      = SHA-256( str("rollproof-logical-v2"),
            for each setting in SETTINGS order: str(name) value(v),
            raw schema digest, then for each table (every type='table' row
            except the exact statistics tables, by name): str(t) raw table
            digest )
"""

import hashlib
import json
import pathlib
import sqlite3
import struct
import sys

ALGORITHM = "rollproof-logical-v2"

# The hashed settings, in hash order: integers from their PRAGMA, the text
# encoding from PRAGMA encoding, the journal mode from header bytes 18-19.
SETTINGS = (
    "application_id",
    "user_version",
    "page_size",
    "auto_vacuum",
    "encoding",
    "journal_mode",
)

# The only rows left out, by exact identity (type 'table', name = tbl_name,
# exact name and exact sql): the query planner's statistics tables, which
# SQLite writes on ANALYZE. Anything else is content, whatever it is called.
EXCLUDED_STAT_TABLES = (
    ("sqlite_stat1", "CREATE TABLE sqlite_stat1(tbl,idx,stat)"),
    ("sqlite_stat2", "CREATE TABLE sqlite_stat2(tbl,idx,sampleno,sample)"),
    ("sqlite_stat3", "CREATE TABLE sqlite_stat3(tbl,idx,neq,nlt,ndlt,sample)"),
    ("sqlite_stat4", "CREATE TABLE sqlite_stat4(tbl,idx,neq,nlt,ndlt,sample)"),
)
COVERED = "NOT (type = 'table' AND name = tbl_name AND (%s))" % " OR ".join(
    "(name = '%s' AND sql = '%s')" % pair for pair in EXCLUDED_STAT_TABLES
)


class Text(bytes):
    """TEXT values, kept as their raw UTF-8 bytes but told apart from BLOBs."""


def put_str(h, data):
    h.update(struct.pack(">Q", len(data)))
    h.update(data)


def put_value(h, v):
    if v is None:
        h.update(b"N")
    elif isinstance(v, bool):
        raise TypeError("unexpected boolean from sqlite3")
    elif isinstance(v, int):
        h.update(b"I" + struct.pack(">q", v))
    elif isinstance(v, float):
        h.update(b"F" + struct.pack(">d", v))
    elif isinstance(v, Text):
        h.update(b"T")
        put_str(h, bytes(v))
    elif isinstance(v, bytes):
        h.update(b"B")
        put_str(h, v)
    else:
        raise TypeError("unexpected value type %r" % type(v))


def quote_ident(name):
    return '"' + name.replace('"', '""') + '"'


def as_str(v):
    return bytes(v).decode("utf-8")


def schema_digest(conn):
    h = hashlib.sha256()
    put_str(h, b"schema")
    rows = conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_schema"
        " WHERE " + COVERED + " ORDER BY type, name"
    )
    for row in rows:
        h.update(b"S")
        for v in row:
            put_value(h, v)
    return h.hexdigest()


def table_digest(conn, table):
    info = conn.execute(
        "SELECT name, pk FROM pragma_table_info(?) ORDER BY cid", (table,)
    ).fetchall()
    cols = [as_str(name) for name, _ in info]
    pk = sorted((p, as_str(name)) for name, p in info if p > 0)
    order = [quote_ident(c) for _, c in pk] or [quote_ident(c) for c in cols]
    h = hashlib.sha256()
    put_str(h, b"table")
    put_str(h, table.encode("utf-8"))
    h.update(struct.pack(">Q", len(cols)))
    for c in cols:
        put_str(h, c.encode("utf-8"))
    sql = "SELECT %s FROM %s ORDER BY %s" % (
        ", ".join(quote_ident(c) for c in cols),
        quote_ident(table),
        ", ".join(order),
    )
    n = 0
    for row in conn.execute(sql):
        h.update(b"R")
        for v in row:
            put_value(h, v)
        n += 1
    h.update(b"E")
    h.update(struct.pack(">Q", n))
    return {"rows": n, "sha256": h.hexdigest()}


def journal_mode(header):
    """Header bytes 18-19 (file format write/read versions)."""
    w, r = header[18], header[19]
    if (w, r) == (2, 2):
        return "wal"
    if (w, r) == (1, 1):
        return "rollback"
    return "header bytes 18-19 = %d,%d" % (w, r)


class Refused(Exception):
    """The file's state is not all in the main file."""


def open_read_only(path):
    """Open without writing anything: a WAL-mode file without a -wal is
    opened immutable (a plain read-only open would create -wal and -shm);
    a -wal with content is refused, as rollproof refuses it."""
    with open(path, "rb") as f:
        header = f.read(100)
    if len(header) < 100 or not header.startswith(b"SQLite format 3\0"):
        raise Refused("not a SQLite database (no SQLite header)")
    wal = pathlib.Path(path + "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        raise Refused(
            "a write-ahead log with content sits beside it; run"
            " sqlite3 '%s' 'PRAGMA wal_checkpoint(TRUNCATE);' first" % path
        )
    uri = pathlib.Path(path).resolve().as_uri() + "?mode=ro"
    if journal_mode(header) == "wal":
        uri += "&immutable=1"
    return sqlite3.connect(uri, uri=True), header


def settings(conn, header):
    out = []
    for name in SETTINGS:
        if name == "journal_mode":
            v = Text(journal_mode(header).encode())
        else:
            (v,) = conn.execute("PRAGMA %s" % name).fetchone()
        out.append((name, v))
    return out


def logical_hash(path):
    conn, header = open_read_only(path)
    try:
        conn.text_factory = Text
        schema = schema_digest(conn)
        h = hashlib.sha256()
        put_str(h, ALGORITHM.encode())
        found = settings(conn, header)
        for name, v in found:
            put_str(h, name.encode())
            put_value(h, v)
        h.update(bytes.fromhex(schema))
        tables = {}
        names = conn.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table'"
            " AND " + COVERED + " ORDER BY name"
        ).fetchall()
        for (name,) in names:
            name = as_str(name)
            d = table_digest(conn, name)
            put_str(h, name.encode("utf-8"))
            h.update(bytes.fromhex(d["sha256"]))
            tables[name] = d
        return {
            "path": path,
            "sha256": h.hexdigest(),
            "schema_sha256": schema,
            "settings": {
                n: as_str(v) if isinstance(v, Text) else v for n, v in found
            },
            "tables": tables,
            # Reported, never hashed (docs/LOGICAL-HASH.md "Settings").
            "freelist_pages": conn.execute("PRAGMA freelist_count").fetchone()[0],
        }
    finally:
        conn.close()


def main(argv):
    as_json = "--json" in argv
    files = [a for a in argv if a != "--json"]
    if not files or any(a.startswith("-") for a in files):
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        print("usage: logical_hash.py FILE... [--json]", file=sys.stderr)
        return 2
    results = []
    for f in files:
        if not pathlib.Path(f).is_file():
            print("logical_hash.py: %s: no such file" % f, file=sys.stderr)
            return 2
        try:
            results.append(logical_hash(f))
        except (sqlite3.Error, Refused) as e:
            print("logical_hash.py: %s: %s" % (f, e), file=sys.stderr)
            return 2
    if as_json:
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            print("%s  %s" % (r["sha256"], r["path"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
