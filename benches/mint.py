#!/usr/bin/env python3
"""Pre-mints authorization codes and refresh tokens for the load benchmark.

Each code and refresh token is single-use, so a run at thousands of requests per second needs
that many of them ready. They are written straight into the database exactly as Sekimori stores
them (SHA-256 hex of the value) and the plain values go to text files for wrk.

usage: mint.py DATABASE_URL CLIENT_ID SUB N OUT_DIR
"""
import hashlib
import os
import secrets
import sqlite3
import subprocess
import sys
import time

url, client_id, sub, n, out = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
now = int(time.time())
redirect_uri = "http://127.0.0.1:9/cb"
scope = "openid profile email offline_access"

def token():
    return secrets.token_urlsafe(32)

def h(v):
    return hashlib.sha256(v.encode()).hexdigest()

codes = [token() for _ in range(n)]
refresh = [token() for _ in range(n)]
code_rows = [(h(c), client_id, sub, redirect_uri, scope, now, now + 86400, now) for c in codes]
refresh_rows = [(h(r), token(), client_id, sub, scope, now, now + 86400, now + 86400, now) for r in refresh]

if url.startswith("sqlite:"):
    path = url.split("://", 1)[1].split("?", 1)[0]
    db = sqlite3.connect(path)
    db.executemany(
        "INSERT INTO authorization_codes (code_hash, client_id, sub, redirect_uri, scope, auth_time, expires_at, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", code_rows)
    db.executemany(
        "INSERT INTO refresh_tokens (token_hash, family_id, client_id, sub, scope, auth_time, expires_at, family_expires_at, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", refresh_rows)
    db.commit()
    db.close()
else:
    def copy(table, cols, rows):
        data = "".join("\t".join(str(x) for x in r) + "\n" for r in rows)
        subprocess.run(["psql", "-q", url, "-c", f"COPY {table} ({cols}) FROM STDIN"],
                       input=data.encode(), check=True)
    copy("authorization_codes", "code_hash, client_id, sub, redirect_uri, scope, auth_time, expires_at, created_at", code_rows)
    copy("refresh_tokens", "token_hash, family_id, client_id, sub, scope, auth_time, expires_at, family_expires_at, created_at", refresh_rows)

with open(os.path.join(out, "codes.txt"), "w") as f:
    f.write("\n".join(codes) + "\n")
with open(os.path.join(out, "refresh.txt"), "w") as f:
    f.write("\n".join(refresh) + "\n")
