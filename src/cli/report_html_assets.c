/*
 * report_html_assets.c: the style sheet and the one script of `pqtls report
 * --format html` (report_html.h), and the CSP source that names the script
 * by its SHA-256, so that the page runs this script and nothing else.
 *
 * The script only filters: it hides the groups (table rows and the cards of
 * the breaking ones) that do not match the program, endpoint, verdict and
 * text chosen, and keeps the choice in the address (#verdict=breaks&...), so
 * a filtered view can be linked to.  With scripts off every group shows.
 */
#include <stdio.h>
#include <string.h>

#include "pqtls/report_html.h"
#include "pqtls/sha256.h"

const char	report_html_css[] =
	":root{--breaks:#c62828;--downgrades:#e08a00;--ready:#2e7d32;--unaffected:#78909c;"
	"--passes:#7cb342;--unjudged:#cfd8dc;--fg:#1d2327;--muted:#5f6b73;--line:#dde3e7;"
	"--bg:#fff;--soft:#f5f7f8}\n"
	"*{box-sizing:border-box}\n"
	"body{margin:0;padding:24px 32px;font:14px/1.45 system-ui,-apple-system,'Segoe UI',"
	"Roboto,'DejaVu Sans',sans-serif;color:var(--fg);background:var(--bg)}\n"
	"h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 10px}\n"
	".sub{color:var(--muted);margin:0 0 16px}\n"
	".verdict{display:inline-block;padding:2px 10px;border-radius:12px;font-weight:600;"
	"color:#fff;margin-left:8px;font-size:13px;vertical-align:middle}\n"
	".verdict.bad{background:var(--breaks)}.verdict.good{background:var(--ready)}\n"
	".totals{background:var(--soft);border:1px solid var(--line);border-radius:8px;"
	"padding:14px 18px;max-width:1320px}\n"
	".legend{list-style:none;margin:0 0 10px;padding:0;display:flex;flex-wrap:wrap;gap:6px 22px}\n"
	".legend b{font-size:20px}\n"
	".sw{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:6px;"
	"background:currentColor}\n"
	".t-breaks .sw{color:var(--breaks)}.t-downgrades .sw{color:var(--downgrades)}"
	".t-ready .sw{color:var(--ready)}.t-unaffected .sw{color:var(--unaffected)}"
	".t-passes .sw{color:var(--passes)}.t-unjudged .sw{color:var(--unjudged)}\n"
	"svg{display:block;width:100%;height:auto}svg.bar{border-radius:4px;background:#eceff1}\n"
	".v-breaks{fill:var(--breaks)}.v-downgrades{fill:var(--downgrades)}.v-ready{fill:var(--ready)}"
	".v-unaffected{fill:var(--unaffected)}.v-passes{fill:var(--passes)}"
	".v-unjudged{fill:var(--unjudged)}\n"
	".charts{display:flex;flex-wrap:wrap;gap:8px 40px}\n"
	".chart{margin:16px 0 0;flex:1 1 480px;max-width:640px}"
	".chart figcaption{font-weight:600;margin-bottom:6px}\n"
	".chart small{font-weight:400;color:var(--muted)}\n"
	"text{font:12px system-ui,'DejaVu Sans',sans-serif;fill:var(--fg)}"
	"text.lbl{fill:var(--fg)}text.num{text-anchor:end;fill:var(--muted)}\n"
	".cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:12px}\n"
	".card{border:1px solid var(--line);border-left:5px solid var(--breaks);border-radius:6px;"
	"padding:10px 14px;background:var(--bg)}\n"
	".card.downgrades{border-left-color:var(--downgrades)}\n"
	".card h3{font-size:15px;margin:0 0 4px;overflow-wrap:anywhere}"
	".card p{margin:4px 0;overflow-wrap:anywhere}\n"
	".fix{margin:6px 0 2px;padding-left:18px}.fix li{margin:2px 0;overflow-wrap:anywhere}\n"
	".why{color:var(--muted);font-size:13px}\n"
	"code{font:12.5px ui-monospace,'DejaVu Sans Mono',monospace;background:var(--soft);"
	"padding:0 3px;border-radius:3px}\n"
	"form.filters{display:flex;flex-wrap:wrap;gap:8px 16px;align-items:end;margin:0 0 10px;"
	"position:sticky;top:0;background:var(--bg);padding:8px 0;border-bottom:1px solid var(--line)}\n"
	"form.filters label{display:flex;flex-direction:column;font-size:12px;color:var(--muted)}\n"
	"select,input{font:inherit;padding:3px 6px;max-width:320px}\n"
	"#shown{color:var(--muted);margin-left:auto}\n"
	"table{border-collapse:collapse;width:100%}\n"
	"th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:top}\n"
	"th{background:var(--soft);font-size:12px;text-transform:uppercase;letter-spacing:.03em}\n"
	"td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
	"td.st{font-weight:600;white-space:nowrap}td.st.breaks{color:var(--breaks)}"
	"td.st.downgrades{color:#a35f00}td.st.ready,td.st.passes{color:var(--ready)}"
	"td.st.unaffected,td.st.unjudged{color:var(--muted)}\n"
	"td.wrap{overflow-wrap:anywhere;max-width:360px}\n"
	"details summary{cursor:pointer}details dl{display:grid;grid-template-columns:max-content 1fr;"
	"gap:2px 12px;margin:6px 0;font-size:12.5px}details dt{color:var(--muted)}"
	"details dd{margin:0;overflow-wrap:anywhere}\n"
	"[hidden]{display:none!important}\n"
	"@media print{form.filters{display:none}}\n";

const char	report_html_script[] =
	"(function(){\n"
	"var f=document.getElementById('filters');if(!f)return;\n"
	"var keys=['program','endpoint','verdict'];\n"
	"var items=document.querySelectorAll('[data-program]');\n"
	"var shown=document.getElementById('shown');\n"
	"function fmt(n){return String(n).replace(/\\B(?=(\\d{3})+(?!\\d))/g,',');}\n"
	"function apply(){\n"
	" var want={},t=f.elements.q.value.toLowerCase(),rows=0,all=0,n=0,h=[];\n"
	" keys.forEach(function(k){want[k]=f.elements[k].value;"
	"if(want[k])h.push(k+'='+encodeURIComponent(want[k]));});\n"
	" for(var i=0;i<items.length;i++){var it=items[i],d=it.dataset;\n"
	"  var ok=(!want.program||d.program===want.program)&&(!want.endpoint||d.endpoint===want.endpoint)"
	"&&(!want.verdict||(' '+d.verdicts+' ').indexOf(' '+want.verdict+' ')>=0)"
	"&&(!t||it.textContent.toLowerCase().indexOf(t)>=0);\n"
	"  it.hidden=!ok;if(it.tagName==='TR'){all++;if(ok){rows++;n+=Number(d.count);}}}\n"
	" shown.textContent='showing '+fmt(rows)+' of '+fmt(all)+' groups, '+fmt(n)+' attempts';\n"
	" try{history.replaceState(null,'',h.length?'#'+h.join('&'):location.pathname+location.search);}"
	"catch(e){}\n"
	"}\n"
	"location.hash.slice(1).split('&').forEach(function(kv){var i=kv.indexOf('=');\n"
	" if(i>0&&keys.indexOf(kv.slice(0,i))>=0){try{f.elements[kv.slice(0,i)].value="
	"decodeURIComponent(kv.slice(i+1));}catch(e){}}});\n"
	"f.addEventListener('input',apply);f.addEventListener('change',apply);\n"
	"f.addEventListener('submit',function(e){e.preventDefault();});\n"
	"apply();\n"
	"})();\n";

/* RFC 4648 base64 of n bytes into out (4 * ((n + 2) / 3) + 1 bytes). */
static void
base64(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t		o = 0;

	for (size_t i = 0; i < n; i += 3)
	{
		unsigned	v = (unsigned) in[i] << 16;

		if (i + 1 < n)
			v |= (unsigned) in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = digits[(v >> 18) & 63];
		out[o++] = digits[(v >> 12) & 63];
		out[o++] = i + 1 < n ? digits[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? digits[v & 63] : '=';
	}
	out[o] = '\0';
}

/* 'sha256-...': CSP Level 2's hash source for the script exactly as the page holds it. */
const char *
html_script_csp_source(void)
{
	static char source[64];
	uint8_t		digest[SHA256_LEN];
	char		b64[48];

	sha256(report_html_script, strlen(report_html_script), digest);
	base64(digest, sizeof(digest), b64);
	snprintf(source, sizeof(source), "'sha256-%s'", b64);
	return source;
}
