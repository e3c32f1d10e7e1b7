/*
 * report_json.c: `pqtls report --format json` (report.h): one JSON document,
 * {"records":N,"malformed":M,"would_break":B,"groups":[{...}]}, with every
 * field of each group.
 */
#include <string.h>

#include "pqtls/json.h"
#include "pqtls/report_format.h"
#include "pqtls/report_text.h"

static void
json_group(json_writer *w, const report_group *g)
{
	json_begin_object(w);
	json_kv_string(w, "status", report_status_names[g->status]);
	json_kv_bool(w, "would_break", g->status == ST_BREAKS);
	json_kv_string(w, "exe", g->f[K_EXE]);
	json_kv_string(w, "host", g->f[K_HOST]);
	json_kv_string(w, "port", g->f[K_PORT]);
	json_kv_string(w, "user", g->f[K_USER]);
	json_kv_string(w, "dbname", g->dbname);
	json_kv_bool(w, "dbname_varies", g->dbname_varies);
	json_kv_string(w, "transport", g->f[K_TRANSPORT]);
	json_kv_string(w, "sslmode", g->f[K_SSLMODE]);
	json_kv_string(w, "sslmode_source", g->f[K_SSLMODE_SOURCE]);
	json_kv_string(w, "sslrootcert_source", g->f[K_SSLROOTCERT_SOURCE]);
	json_kv_string(w, "rootcert_file", g->f[K_ROOTCERT_FILE]);
	json_key(w, "rootcert_exists");
	if (g->f[K_ROOTCERT_EXISTS] == NULL)
		json_null(w);
	else
		json_bool(w, strcmp(g->f[K_ROOTCERT_EXISTS], "true") == 0);
	json_kv_string(w, "verify", g->f[K_VERIFY]);
	json_key(w, "forced_from_sslmode");
	if (g->f[K_FORCED_FROM] == NULL)
		json_null(w);
	else
		json_string(w, g->f[K_FORCED_FROM][0] ? g->f[K_FORCED_FROM] : "default");

	json_kv_int(w, "count", g->count);
	json_key(w, "outcomes");
	json_begin_object(w);
	json_kv_int(w, "ok", g->ok);
	json_kv_int(w, "failed", g->failed);
	json_kv_int(w, "abandoned", g->abandoned);
	json_end_object(w);
	json_kv_int(w, "processes", g->npids);
	json_kv_bool(w, "processes_exact", !g->pids_more);
	json_kv_string(w, "first_ts", g->first_ts[0] ? g->first_ts : NULL);
	json_kv_string(w, "last_ts", g->last_ts[0] ? g->last_ts : NULL);
	json_key(w, "modes");
	json_begin_array(w);
	for (size_t i = 0; i < REPORT_N_MODES; i++)
		if (g->modes & (1u << i))
			json_string(w, report_mode_names[i]);
	json_end_array(w);
	json_key(w, "tls_protocols");
	json_begin_array(w);
	for (size_t i = 0; i < REPORT_N_PROTOCOLS; i++)
		if (g->protocols & (1u << i))
			json_string(w, report_protocol_names[i]);
	if (g->protocol_other)
		json_string(w, g->protocol_other);
	json_end_array(w);
	json_kv_int(w, "no_tls", g->no_tls);
	json_kv_string(w, "issuer", g->issuer);
	json_kv_bool(w, "issuer_varies", g->issuer_varies);
	json_kv_string(w, "error", g->error);

	json_key(w, "dry_run");
	if (g->dry_rank == DRY_NONE)
		json_null(w);
	else
	{
		json_begin_object(w);
		json_kv_string(w, "result", report_dry_result_name(g));
		json_kv_string(w, "reason", g->dry_reason);
		json_kv_string(w, "detail", g->dry_detail);
		json_kv_int(w, "pass", g->dry_pass);
		json_kv_int(w, "fail", g->dry_fail);
		json_end_object(w);
	}
	json_key(w, "after_rotation");
	if (g->rot_worst == ROT_NONE)
		json_null(w);
	else
	{
		json_begin_object(w);
		json_kv_string(w, "result", report_rot_name(g));
		json_kv_string(w, "detail", g->rot_detail);
		for (int k = 0; k < ROT_KINDS; k++)
			json_kv_int(w, report_rotation_names[k], g->rot[k]);
		json_end_object(w);
	}
	json_key(w, "verdicts");
	json_begin_object(w);
	for (int k = 0; k < V_KINDS; k++)
		json_kv_int(w, report_verdict_names[k], g->verdicts[k]);
	json_end_object(w);
	json_end_object(w);
}

static void
print_json(const report_view *v, FILE *out)
{
	pqtls_buf	b;
	json_writer w;

	buf_init(&b);
	json_init(&w, &b);
	json_begin_object(&w);
	json_kv_int(&w, "records", v->records);
	json_kv_int(&w, "malformed", v->malformed);
	json_kv_bool(&w, "would_break", v->would_break);
	json_key(&w, "groups");
	json_begin_array(&w);
	for (size_t i = 0; i < v->ngroups; i++)
	{
		json_group(&w, v->groups[i]);
		if (b.len > 65536)
			report_flush(&b, out);
	}
	json_end_array(&w);
	json_end_object(&w);
	buf_putc(&b, '\n');
	report_flush(&b, out);
	buf_free(&b);
}

static void
print_json_format(const report_view *v, FILE *out, bool color)
{
	(void) color;
	print_json(v, out);
}

const report_formatter report_format_json = {"json", REPORT_JSON, print_json_format};
