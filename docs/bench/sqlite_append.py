"""The alternative measured for ADR 004: the bus log as an SQLite table (WAL,
synchronous=FULL, i.e. durable at commit), 200-byte values, one transaction per produce
batch. Run: python3 docs/bench/sqlite_append.py DIR"""
import os, sqlite3, sys, time

d = sys.argv[1]
path = os.path.join(d, "log.sqlite")
db = sqlite3.connect(path, isolation_level=None)
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA synchronous=FULL")
db.execute("PRAGMA wal_autocheckpoint=100000")
db.execute("CREATE TABLE log (partition INTEGER, offset INTEGER, ts INTEGER, key BLOB, value BLOB, PRIMARY KEY (partition, offset)) WITHOUT ROWID")
value = b"x" * 200
for batch, total in ((1000, 300_000), (50, 20_000)):
    nxt = [0, 0, 0]
    t = time.perf_counter()
    lat = []
    for i in range(total // batch):
        p = i % 3
        rows = [(p, nxt[p] + j, 0, None, value) for j in range(batch)]
        nxt[p] += batch
        t0 = time.perf_counter()
        db.execute("BEGIN")
        db.executemany("INSERT INTO log VALUES (?,?,?,?,?)", rows)
        db.execute("COMMIT")
        lat.append(time.perf_counter() - t0)
    el = time.perf_counter() - t
    lat.sort()
    print(f"batch {batch}: {total/el:,.0f} rows/s, commit p50 {lat[len(lat)//2]*1000:.2f} ms p99 {lat[int(len(lat)*0.99)]*1000:.2f} ms")
    db.execute("DELETE FROM log")
