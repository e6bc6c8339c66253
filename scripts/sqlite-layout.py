#!/usr/bin/env python3
"""Two layouts of the SQLite events table, side by side: writes and history reads (docs/performance.md).

  clustered  the store's layout: WITHOUT ROWID, primary key (conversation_id, seq)
  rowid      insertion order: an integer primary key, UNIQUE (conversation_id, seq) beside it

Both keep UNIQUE (event_id, conversation_id) and the store's main columns. Writes: 100,000 rows of 200 bytes,
round-robin over 1, 32 and 128 conversations, 103 rows per transaction, WAL with synchronous=FULL (as the
gateway's writer). Reads: 200,000 rows over 128 conversations, then 5,000 pages of the 50 events before a random
seq of a random conversation, warm (run twice). Python's sqlite3 module is the client for both layouts, so the
figures compare the layouts, not ChatWire: its own insert loop is the harness's `ceiling` scenario.

usage: python3 scripts/sqlite-layout.py [directory]   (default: a new temporary directory, removed at the end)
"""
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid

COLUMNS = """conversation_id BLOB NOT NULL, seq INTEGER NOT NULL, kind INTEGER NOT NULL, event_id BLOB NOT NULL,
    sender_user_id BLOB NOT NULL, sender_device_id BLOB NOT NULL, stored_at INTEGER NOT NULL,
    content_type TEXT NOT NULL, content BLOB NOT NULL, original_digest BLOB"""

INSERT = """INSERT INTO events (conversation_id, seq, kind, event_id, sender_user_id, sender_device_id, stored_at,
    content_type, content, original_digest) VALUES (?, ?, 0, ?, ?, ?, ?, 'application/octet-stream', ?, ?)"""

PAGE = """SELECT conversation_id, seq, kind, event_id, sender_user_id, sender_device_id, stored_at, content_type, content
    FROM events WHERE conversation_id = ? AND seq < ? ORDER BY seq DESC LIMIT 50"""


def create(path, layout, synchronous):
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute(f"PRAGMA synchronous = {synchronous}")
    if layout == "clustered":
        db.execute(f"CREATE TABLE events ({COLUMNS}, PRIMARY KEY (conversation_id, seq), "
                   "UNIQUE (event_id, conversation_id)) STRICT, WITHOUT ROWID")
    else:
        db.execute(f"CREATE TABLE events (id INTEGER PRIMARY KEY, {COLUMNS}, UNIQUE (conversation_id, seq), "
                   "UNIQUE (event_id, conversation_id)) STRICT")
    return db


def fill(db, conversations, rows, batch):
    """Inserts rows round-robin over the conversations; returns rows/s."""
    ids = [uuid.uuid4().bytes for _ in range(conversations)]
    user, device = uuid.uuid4().bytes, uuid.uuid4().bytes
    content, digest = os.urandom(200), os.urandom(32)
    started = time.perf_counter()
    done = 0
    while done < rows:
        db.execute("BEGIN IMMEDIATE")
        for n in range(done, min(done + batch, rows)):
            # Event ids that grow with time, as clients make them (UUID version 7: milliseconds first).
            event_id = int(time.time() * 1000).to_bytes(6, "big") + os.urandom(10)
            db.execute(INSERT, (ids[n % conversations], n // conversations + 1, event_id, user, device, 1,
                                content, digest))
        db.execute("COMMIT")
        done += batch
    return rows / (time.perf_counter() - started), ids


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="chatwire-layout-")
    os.makedirs(directory, exist_ok=True)
    try:
        path = os.path.join(directory, "events.db")
        print("writes: 100,000 rows, 103 per transaction, synchronous=FULL")
        for conversations in (1, 32, 128):
            for layout in ("clustered", "rowid"):
                db = create(path, layout, "FULL")
                rate, _ = fill(db, conversations, 100_000, 103)
                db.close()
                print(f"  {layout:9} over {conversations:3} conversations: {rate:8.0f} rows/s", flush=True)

        print("reads: 50-event history pages from 200,000 rows over 128 conversations, warm")
        for layout in ("clustered", "rowid"):
            db = create(path, layout, "OFF")
            _, ids = fill(db, 128, 200_000, 1000)
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            size = os.path.getsize(path) // 1024
            for _ in range(2):
                started = time.perf_counter()
                for _ in range(5000):
                    db.execute(PAGE, (random.choice(ids), random.randint(60, 1500))).fetchall()
                rate = 5000 / (time.perf_counter() - started)
                print(f"  {layout:9}: {rate:6.0f} pages/s, file {size} KiB", flush=True)
            db.close()
    finally:
        if len(sys.argv) <= 1:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
