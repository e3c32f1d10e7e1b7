"""app.py: a stand-in for a Python service using psycopg2, with sslmode=require
and no root file: it encrypts, and verifies nothing."""
import sys

import psycopg2

conn = psycopg2.connect(sys.argv[1])
cur = conn.cursor()
cur.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
print("app: order service ready (TLS %s)" % ("on" if cur.fetchone()[0] else "off"))
conn.close()
