"""Converts Sigma rule files with pySigma's DuckDB backend (no pipeline: raw Sigma field names).
Reads a JSON list of rule paths on stdin, prints {path: {"where": sql} | {"error": msg}} as JSON."""
import json
import sys

from sigma.collection import SigmaCollection
from sigma_backend_duckdb import DuckDBBackend

backend = DuckDBBackend()
out = {}
for path in json.load(sys.stdin):
    try:
        with open(path, encoding="utf-8") as f:
            queries = backend.convert(SigmaCollection.from_yaml(f.read()))
        q = queries[0]
        prefix = "SELECT * FROM logs WHERE "
        out[path] = {"where": q[len(prefix):] if q.startswith(prefix) else q}
    except Exception as e:  # a refused rule is reported, the others converted
        out[path] = {"error": str(e).splitlines()[0] if str(e) else type(e).__name__}
json.dump(out, sys.stdout)
