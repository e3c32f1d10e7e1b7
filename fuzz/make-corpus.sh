#!/usr/bin/env bash
# fuzz/make-corpus.sh: (re)build the seed corpus in fuzz/corpus/<target>/.
#
# The corpus is kept in the repository (small: well under 2 MB); this script
# says where every seed came from and makes them again:
#   - a few real CA certificates of tests/fixtures/rds (Amazon RDS),
#     as DER and PEM;
#   - a small test PKI made here with openssl (a root, an intermediate, leaf
#     certificates with DNS, wildcard, IPv4 and IPv6 SANs, a CN-only leaf, a
#     name with BMPString, a multi-valued RDN): fixed keys are not needed, the
#     fuzzers only care about the shapes;
#   - a JKS and a JCEKS made with keytool, PKCS#12 files made with openssl;
#   - records (one JSON line, as libpqtls.so writes them), connection strings
#     and URIs, SSLRequest replies.
# Files that the fuzzers found worth keeping (crashes fixed, regressions) are
# named regress-*, inputs merged from long runs (libFuzzer -merge=1) are named
# by their SHA-1: this script leaves both alone.
#
# Usage: bash fuzz/make-corpus.sh [RDS_FIXTURES_DIR]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
rds=${1:-tests/fixtures/rds}
out=$here/corpus
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

targets="fuzz_json fuzz_jsonread fuzz_hostname fuzz_x509 fuzz_pem fuzz_truststore fuzz_probe_reply fuzz_bundle fuzz_rewrite fuzz_report"
for t in $targets; do
	mkdir -p "$out/$t"
	# Keep regress-* (regression inputs) and SHA-1-named files (merged from long runs).
	find "$out/$t" -regextype posix-extended -type f ! -name 'regress-*' ! -regex '.*/[0-9a-f]{40}' -delete
done

# ---- certificates -------------------------------------------------------
# A few real RDS CAs: the 2019 regional CA (RSA 2048, expired), and the G1
# roots RSA2048, RSA4096 and ECC384 of one region.
awk -v dir="$tmp" '/-----BEGIN CERTIFICATE-----/ {n++; f = sprintf("%s/rds-%03d.pem", dir, n)} n {print > f}' \
	"$rds/global-bundle-2023.pem"
rds_pick=()
for f in "$tmp"/rds-*.pem; do
	subj=$(openssl x509 -in "$f" -noout -subject -nameopt RFC2253)
	case "$subj" in
	*"us-east-1 2019 CA"* | *"us-east-1 Root CA RSA2048 G1"* | *"us-east-1 Root CA RSA4096 G1"* | *"us-east-1 Root CA ECC384 G1"* | *"rds-ca-2019-root"*)
		rds_pick+=("$f") ;;
	esac
done

cd "$tmp"
cat > ext.cnf <<'CNF'
[v_inter]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
[v_dns]
basicConstraints = CA:FALSE
subjectAltName = DNS:db.example.com, DNS:*.db.example.com, IP:192.0.2.10, IP:2001:db8::10
[v_ip]
subjectAltName = IP:127.0.0.1, DNS:localhost
[v_wild]
subjectAltName = DNS:*.cluster-abc.us-east-1.rds.amazonaws.com
CNF
openssl req -x509 -newkey rsa:2048 -nodes -keyout root.key -subj "/CN=pqtls fuzz root CA/O=pqtls" \
	-days 3650 -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
	-out root.pem 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout inter.key \
	-subj "/C=US/O=pqtls/OU=fuzz/CN=pqtls fuzz intermediate" -out inter.csr 2>/dev/null
openssl x509 -req -in inter.csr -CA root.pem -CAkey root.key -CAcreateserial -days 3650 \
	-extfile ext.cnf -extensions v_inter -out inter.pem 2>/dev/null
leaf() {  # name subject extension-section
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" \
		-subj "$2" -out "$1.csr" ${4:+-utf8} 2>/dev/null
	if [ -n "$3" ]; then
		openssl x509 -req -in "$1.csr" -CA inter.pem -CAkey inter.key -CAcreateserial -days 825 \
			-extfile ext.cnf -extensions "v_$3" -out "$1.pem" 2>/dev/null
	else
		openssl x509 -req -in "$1.csr" -CA inter.pem -CAkey inter.key -CAcreateserial -days 825 \
			-out "$1.pem" 2>/dev/null
	fi
}
leaf dns "/CN=db.example.com" dns
leaf ip "/CN=127.0.0.1" ip
leaf wild "/C=US/ST=WA/L=Seattle/O=Amazon.com/CN=*.cluster-abc.us-east-1.rds.amazonaws.com" wild
leaf cnonly "/CN=localhost" ""
leaf multi "/DC=com/DC=example/O=Acme\\, Inc.+OU=DB/CN= spaced  name /emailAddress=dba@example.com" ""
leaf utf8 "/CN=bücher.example/O=Ünïcödé" "" utf8
# A BMPString commonName (string_mask that forces BMP for non-ASCII).
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout bmp.key -utf8 \
	-subj "/CN=Ωmega.example" -config <(printf '[req]\ndistinguished_name=dn\nstring_mask=default\n[dn]\n') \
	-x509 -days 30 -out bmp.pem 2>/dev/null
openssl req -x509 -newkey ed25519 -nodes -keyout ed.key -subj "/CN=ed25519 self-signed" -days 30 -out ed.pem 2>/dev/null

test_certs="root inter dns ip wild cnonly multi utf8 bmp ed"
i=0
for f in "${rds_pick[@]}"; do
	i=$((i + 1))
	openssl x509 -in "$f" -outform DER -out "rds$i.der"
	openssl x509 -in "$f" -out "rds$i.pem"
done
for c in $test_certs; do
	openssl x509 -in "$c.pem" -outform DER -out "$c.der"
done

# x509: DER only.
for f in rds*.der; do cp "$f" "$out/fuzz_x509/$f"; done
for c in $test_certs; do cp "$c.der" "$out/fuzz_x509/$c.der"; done

# hostname: "host\n" then DER.
hostseed() { { printf '%s\n' "$2"; cat "$1.der"; } > "$out/fuzz_hostname/$1-$3"; }
hostseed dns db.example.com match
hostseed dns a.db.example.com wild-match
hostseed dns a.b.db.example.com wild-deep
hostseed dns 192.0.2.10 ip4
hostseed dns 2001:db8::10 ip6
hostseed dns 192.0.2.010 ip4-alt
hostseed ip 127.0.0.1 match
hostseed ip 127.1 short
hostseed ip localhost dns
hostseed wild mydb.cluster-abc.us-east-1.rds.amazonaws.com match
hostseed wild MYDB.Cluster-ABC.us-east-1.rds.amazonaws.com case
hostseed cnonly localhost match
hostseed cnonly LOCALHOST. dot
hostseed multi " spaced  name " cn
hostseed utf8 bücher.example utf8
hostseed bmp Ωmega.example bmp
hostseed rds1 "" empty
# The list-of-names form (fuzz_hostname.c): 0x00, host, '\n', then type, length, bytes.
printf '\0a.example.com\n\x00\x0d*.example.com\x02\x03abc' > "$out/fuzz_hostname/names-wildcard"
printf '\x00192.0.2.1\n\x00\x09192.0.2.1\x01\x04\xc0\x00\x02\x01\x02\x09192.0.2.1' > "$out/fuzz_hostname/names-ip"
printf '\x00::1\n\x01\x05abcde' > "$out/fuzz_hostname/names-ip-bad-length"
printf '\x00db.example.com\n\x00\x0fdb.example\x00.com\x02\x0edb.example.com' > "$out/fuzz_hostname/names-embedded-nul"

# pem: single PEM, a chain, CRLF, a TRUSTED CERTIFICATE, a key block first, garbage.
cp dns.pem "$out/fuzz_pem/leaf.pem"
cat dns.pem inter.pem root.pem > "$out/fuzz_pem/chain.pem"
sed 's/$/\r/' rds1.pem > "$out/fuzz_pem/crlf.pem"
openssl x509 -in root.pem -trustout -addtrust serverAuth -out "$out/fuzz_pem/trusted.pem"
cat inter.key inter.pem > "$out/fuzz_pem/key-then-cert.pem"
{ head -c 300 rds2.pem; echo; echo '-----END CERTIFICATE-----'; cat ed.pem; } > "$out/fuzz_pem/truncated-then-good.pem"
sed 's/^/    /' bmp.pem > "$out/fuzz_pem/indented.pem"

# truststore: PEM, DER, JKS, JCEKS, PKCS#12 (with and without a key, "changeit").
cp chain.pem "$out/fuzz_truststore/chain.pem" 2>/dev/null || cat dns.pem inter.pem root.pem > "$out/fuzz_truststore/chain.pem"
cp root.der "$out/fuzz_truststore/root.der"
keytool -importcert -noprompt -storetype JKS -keystore store.jks -storepass changeit -alias root -file root.pem >/dev/null 2>&1
keytool -importcert -noprompt -storetype JKS -keystore store.jks -storepass changeit -alias "rds ca" -file rds2.pem >/dev/null 2>&1
cp store.jks "$out/fuzz_truststore/trusted.jks"
keytool -importcert -noprompt -storetype JCEKS -keystore store.jceks -storepass changeit -alias a -file ed.pem >/dev/null 2>&1
cp store.jceks "$out/fuzz_truststore/trusted.jceks"
# A JKS with a private-key entry (its chain in clear).
openssl pkcs12 -export -inkey dns.key -in dns.pem -certfile inter.pem -name server -passout pass:changeit -out key.p12 2>/dev/null
keytool -importkeystore -noprompt -srckeystore key.p12 -srcstoretype PKCS12 -srcstorepass changeit \
	-destkeystore key.jks -deststoretype JKS -deststorepass changeit >/dev/null 2>&1
cp key.jks "$out/fuzz_truststore/key-entry.jks"
openssl pkcs12 -export -nokeys -in root.pem -passout pass:changeit -out certs.p12 2>/dev/null
cp certs.p12 "$out/fuzz_truststore/certs-changeit.p12"
openssl pkcs12 -export -nokeys -in ed.pem -passout pass: -out empty.p12 2>/dev/null
cp empty.p12 "$out/fuzz_truststore/certs-empty-password.p12"
openssl pkcs12 -export -inkey ip.key -in ip.pem -passout pass:changeit -out withkey.p12 2>/dev/null
cp withkey.p12 "$out/fuzz_truststore/with-key.p12"

# bundle: a PEM bundle, a DER file, a bundle with a malformed block.
cat rds1.pem rds2.pem root.pem inter.pem > "$out/fuzz_bundle/bundle.pem"
cp root.der "$out/fuzz_bundle/root.der"
cp "$out/fuzz_pem/truncated-then-good.pem" "$out/fuzz_bundle/malformed-block.pem"
{ cat root.pem; printf '#PEER\n'; cat dns.pem inter.pem; printf '#HOST db.example.com\n'; } > "$out/fuzz_bundle/chain-pass.pem"
{ cat root.pem; printf '#PEER\n'; cat dns.pem inter.pem; printf '#HOST other.example.com\n'; } > "$out/fuzz_bundle/chain-mismatch.pem"
{ cat rds3.pem; printf '#PEER\n'; cat dns.pem inter.pem; printf '#HOST db.example.com\n'; } > "$out/fuzz_bundle/chain-untrusted.pem"
{ cat inter.pem; printf '#PEER\n'; cat ip.pem; printf '#HOST 127.0.0.1\n'; } > "$out/fuzz_bundle/chain-partial.pem"
{ cat root.pem inter.pem; printf '#PEER\n'; cat dns.pem inter.pem root.pem; printf '#HOST db.example.com\n'; } > "$out/fuzz_bundle/chain-sent-root.pem"

# ---- text ---------------------------------------------------------------
rec='{"ts":"2026-11-28T15:54:11.901Z","pid":30288,"exe":"/usr/lib/postgresql/15/bin/psql","api":"PQconnectdbParams","mode":"dry-run","host":"127.0.0.1","hostaddr":"127.0.0.1","port":"42303","dbname":"pqtls_db","user":"pqtls_user","application_name":null,"transport":"tcp","sslmode":"verify-ca","sslmode_source":"conninfo","sslrootcert":"/etc/ssl/rds/wrong-ca.crt","sslrootcert_source":"conninfo","rootcert_file":"/etc/ssl/rds/wrong-ca.crt","rootcert_exists":true,"verify":"ca","outcome":"failed","error":"connection to server at \"127.0.0.1\", port 42303 failed: SSL error: certificate verify failed","tls":null,"failed_peer":{"subject":"CN=localhost","issuer":"CN=pqtls test root CA","not_after":"2029-03-02T15:54:09Z","sha256":"da2f326b3f3b6e48a3587c9d1b87900747bb5bd627ae8bf640e9f52ddb73fcac","san":["localhost","127.0.0.1"]},"dry_run":{"bundle":"/etc/ssl/rds/global-bundle.pem","result":"pass","reason":"ok","method":"chain","detail":"the chain of \"CN=localhost\" verifies against /etc/ssl/rds/global-bundle.pem and the host name \"127.0.0.1\" matches"},"after_rotation":"breaks","after_rotation_detail":"/etc/ssl/rds/wrong-ca.crt holds none of the new CAs"}'
rec_ok='{"ts":"2026-11-28T15:54:12.003Z","pid":30301,"exe":"/usr/bin/python3.11","api":"PQconnectdb","mode":"observe","host":"db.example.com","hostaddr":"192.0.2.10","port":"5432","dbname":"app","user":"app","hosts":["db.example.com","db2.example.com"],"application_name":"w\u00e9b","transport":"tcp","sslmode":"prefer","sslmode_source":"default","sslrootcert":null,"sslrootcert_source":null,"rootcert_file":"/home/app/.postgresql/root.crt","rootcert_exists":false,"verify":"none","outcome":"ok","error":null,"tls":{"protocol":"TLSv1.3","cipher":"TLS_AES_256_GCM_SHA384","peer":{"subject":"CN=db.example.com","issuer":"C=US, O=pqtls, OU=fuzz, CN=pqtls fuzz intermediate","not_after":"2028-03-01T00:00:00Z","sha256":"00","san":["db.example.com","192.0.2.10"]}},"after_rotation":"unaffected"}'
rec_enf='{"ts":"2026-11-28T15:54:13.000Z","pid":1,"exe":"/x","api":"PQping","mode":"enforce","outcome":"failed","error":"x","ping":"PQPING_NO_RESPONSE","tls":null,"dry_run":{"bundle":"/b","result":"fail","reason":"untrusted-ca","method":"probe","detail":"d"},"forced":{"from":{"sslmode":"require","sslrootcert":null},"to":{"sslmode":"verify-full","sslrootcert":"/b"}}}'
printf '%s' "$rec" > "$out/fuzz_jsonread/record-dry-run.json"
printf '%s' "$rec_ok" > "$out/fuzz_jsonread/record-observe.json"
printf '%s' '{"a":[1,-0,2.5e-3,true,false,null,"\ud83d\ude00\u0000\/\b\f\n\r\t"],"a":{}}' > "$out/fuzz_jsonread/escapes.json"
printf '%s' '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]' > "$out/fuzz_jsonread/deep.json"
printf '%s\n%s\n%s\n' "$rec" "$rec_ok" "$rec_enf" > "$out/fuzz_report/three-records.jsonl"
printf '%s\nnot json\n{"ts":1}\n%s' "$rec_enf" "$rec" > "$out/fuzz_report/malformed-lines.jsonl"

# json: writer programs (see fuzz_json.c: op bytes, strings up to 0xFF).
printf '\x00\x03ts\xff2026-11-28T15:54:11.901Z\xff\x05pid\xff\x39\x76\x00\x00\x00\x00\x00\x00\x04host\xffdb.example.com\xff\x06error\xff\x00tls\xff\x07\x80' > "$out/fuzz_json/record-like"
printf '\x01\x03caf\xc3\xa9\xff\x03\xc3\x28\xe2\x82\xff\x03\xf0\x9f\x98\x80\xff\x03\x00\x01\x1f\x7f"\\\xff\x85\xc5\x12' > "$out/fuzz_json/utf8-and-controls"
printf '\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01' > "$out/fuzz_json/too-deep"

# probe: SSLRequest replies.
printf 'S' > "$out/fuzz_probe_reply/accept"
printf 'N' > "$out/fuzz_probe_reply/refuse"
printf 'E\x00\x00\x00\x4cSFATAL\x00C08P01\x00Munsupported frontend protocol\x00\x00' > "$out/fuzz_probe_reply/error"
printf '\x16\x03\x01\x00\x05' > "$out/fuzz_probe_reply/tls-record"
printf '127.0.0.1' > "$out/fuzz_probe_reply/ip4"
printf '::ffff:192.0.2.1' > "$out/fuzz_probe_reply/ip6"

# rewrite: connection strings, URIs, PQconnectdbParams arrays, PQsetdbLogin (see fuzz_rewrite.c).
rw="$out/fuzz_rewrite"
printf '\x00%s' "host=db.example.com port=5432 dbname=app user=app password=s3cr3t sslmode=verify-ca sslrootcert=/etc/ssl/rds/global-bundle.pem" > "$rw/conninfo"
printf '\x00%s' "postgresql://app:s3cr%%40t@db.example.com:5432,db2.example.com/app?sslmode=require&application_name=x&sslpassword=kp" > "$rw/uri"
printf '\x00%s' "host='with space' password='it''s \\' quoted' requiressl=1" > "$rw/quoted"
printf '\x00%s' "host=x password=secret unterminated='" > "$rw/unparseable"
printf '\x00%s' "postgres://u:pw@/db?host=/var/run/postgresql&ssl=true" > "$rw/uri-socket"
printf '\x00%s' "password=* host=*" > "$rw/star-password"
printf '\x01dbname\x00host=a password=inner sslmode=disable\x00password\x00outer\x00sslmode\x00prefer\x00' > "$rw/arrays-expand"
printf '\x02h\x005432\x00\x00postgresql://u:p@h/db\x00login\x00pw' > "$rw/setdb"
printf '\x03%s' "service=mysvc sslrootcert=system" > "$rw/service"

find "$out" -type f -exec chmod 644 {} +
echo "corpus in $out:"
for t in $targets; do
	printf '  %-18s %3d files %7d bytes\n' "$t" "$(find "$out/$t" -type f | wc -l)" \
		"$(find "$out/$t" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')"
done
du -sh "$out"
