# group.jq: the grouping of `pqtls report`, done by jq for comparison (bench/bench.py).
#
#     jq -n -c -f bench/group.jq records.jsonl
#
# Streaming: `reduce inputs` holds one record at a time, never the whole file (as
# `jq -s` would). The key is the report's (include/pqtls/report.h): program,
# endpoint, user, transport, sslmode and its source, where sslrootcert was set,
# the root file and whether it exists, verify, and what enforce changed from.
# Per group: records, outcomes, first and last ts, dry-run pass/fail and the
# after_rotation counts. Prints the number of groups and of records.
reduce inputs as $r ({};
  ([$r.exe, $r.host, $r.port, $r.user, $r.transport, $r.sslmode, $r.sslmode_source,
    $r.sslrootcert_source, $r.rootcert_file, $r.rootcert_exists, $r.verify,
    $r.forced.from.sslmode] | tojson) as $k
  | (.[$k] // {records: 0, ok: 0, failed: 0, abandoned: 0, first: $r.ts, last: $r.ts,
               dry_pass: 0, dry_fail: 0, unaffected: 0, ready: 0, downgrades: 0,
               breaks: 0}) as $g
  | .[$k] = ($g
      | .records += 1
      | .[$r.outcome] += 1
      | if $r.ts < .first then .first = $r.ts else . end
      | if $r.ts > .last then .last = $r.ts else . end
      | if $r.dry_run.result == "pass" then .dry_pass += 1
        elif $r.dry_run.result == "fail" then .dry_fail += 1 else . end
      | if $r.after_rotation then .[$r.after_rotation] += 1 else . end))
| {groups: length, records: (map(.records) | add)}
