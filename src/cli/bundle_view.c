/*
 * bundle_view.c: reading and judging one trust file for `pqtls bundle`
 * (bundle_view.h): each certificate's facts through OpenSSL (certfacts.h),
 * the flaws, duplicates in O(n log n), and the new CAs it holds.
 */
#include <stdlib.h>
#include <string.h>

#include "pqtls/bundle.h"
#include "pqtls/bundle_view.h"
#include "pqtls/trustfile.h"

/* ---------------------------------------------------------------------
 * Reading and judging one file
 * --------------------------------------------------------------------- */

static int
cmp_sha(const void *a, const void *b, void *arg)
{
	const bundle_item *items = arg;
	int			ia = *(const int *) a,
				ib = *(const int *) b;
	int			c = strcmp(items[ia].sha256, items[ib].sha256);

	return c ? c : ia - ib;
}

static int
cmp_subject_key(const void *a, const void *b, void *arg)
{
	const bundle_item *items = arg;
	int			ia = *(const int *) a,
				ib = *(const int *) b;
	const bundle_item *x = &items[ia],
			   *y = &items[ib];
	int			c;

	/* Unreadable certificates sort last and are never grouped. */
	if ((x->x == NULL) != (y->x == NULL))
		return x->x == NULL ? 1 : -1;
	if (x->x == NULL)
		return ia - ib;
	if ((c = cert_facts_cmp_subject_and_key(x->x, y->x)) != 0)
		return c;
	return ia - ib;
}

static bool
same_subject_key(const bundle_item *x, const bundle_item *y)
{
	return x->x != NULL && y->x != NULL && cert_facts_same_subject_and_key(x->x, y->x);
}

/* Duplicates in O(n log n): sort by fingerprint, then by subject and key. */
static bool
find_duplicates(file_view *f)
{
	int		   *order = malloc((size_t) (f->n ? f->n : 1) * sizeof(int));

	if (order == NULL)
		return false;
	for (int i = 0; i < f->n; i++)
		order[i] = i;
	qsort_r(order, (size_t) f->n, sizeof(int), cmp_sha, f->items);
	for (int k = 1; k < f->n; k++)
	{
		bundle_item *prev = &f->items[order[k - 1]],
				   *cur = &f->items[order[k]];

		if (strcmp(prev->sha256, cur->sha256) == 0 && cur->tc->der_len == prev->tc->der_len &&
			memcmp(cur->tc->der, prev->tc->der, cur->tc->der_len) == 0)
			cur->duplicate_of = prev->duplicate_of ? prev->duplicate_of : order[k - 1] + 1;
	}
	for (int i = 0; i < f->n; i++)
		order[i] = i;
	qsort_r(order, (size_t) f->n, sizeof(int), cmp_subject_key, f->items);
	for (int k = 1, first = 0; k < f->n; k++)
	{
		if (!same_subject_key(&f->items[order[first]], &f->items[order[k]]))
		{
			first = k;
			continue;
		}
		if (f->items[order[k]].duplicate_of == 0)
			f->items[order[k]].same_as = order[first] + 1;
	}
	free(order);
	for (int i = 0; i < f->n; i++)
	{
		f->duplicates += f->items[i].duplicate_of != 0;
		f->same_key += f->items[i].same_as != 0;
	}
	return true;
}

void
bundle_view_free(file_view *f)
{
	for (int i = 0; i < f->n; i++)
		cert_facts_free(f->items[i].x);
	free(f->items);
	free(f->held_by);
	free(f->error);
	free(f->libpq_problem);
	cert_list_free(&f->list);
}

/*
 * The interposer's rule (trustfile.h), with the OpenSSL this command links, for
 * the files a libpq could be given: PEM and DER (a Java or PKCS#12 trust store
 * is a JVM's, judged by pgjdbc's rules).
 */
static void
check_for_libpq(file_view *f, const char *path)
{
	bundle	   *b;

	if ((f->list.format != TS_FORMAT_PEM && f->list.format != TS_FORMAT_DER) ||
		strcmp(path, "-") == 0 || (b = bundle_load(path)) == NULL)
		return;
	f->libpq_problem = trustfile_problem(ossl_static(), b);
	f->libpq_checked = true;
	bundle_release(b);
}

bool
bundle_view_load(file_view *f, const char *path, const char *password, time_t now)
{
	memset(f, 0, sizeof(*f));
	f->path = path;
	if (truststore_read(path, password, &f->list, &f->error) != 0)
		return false;
	check_for_libpq(f, path);
	f->items = calloc((size_t) f->list.n, sizeof(bundle_item));
	if (f->items == NULL)
		goto oom;
	f->n = f->list.n;
	for (int i = 0; i < f->n; i++)
	{
		bundle_item *it = &f->items[i];
		const truststore_cert *tc = &f->list.certs[i];

		it->tc = tc;
		cert_sha256_hex(tc->der, tc->der_len, it->sha256);
		it->x = cert_facts_read(tc->der, tc->der_len);
		if (it->x == NULL)
		{
			f->unreadable++;
			continue;
		}
		it->expired = it->x->not_after < now;
		it->not_yet_valid = it->x->not_before > now;
		it->not_ca = !it->x->is_ca;
		f->expired += it->expired;
		f->not_yet_valid += it->not_yet_valid;
		f->not_ca += it->not_ca;
	}
	if (!find_duplicates(f))
		goto oom;
	return true;
oom:
	free(f->error);
	f->error = strdup("out of memory");
	return false;
}

bool
bundle_view_check_new_ca(file_view *f, const file_view *newca)
{
	f->held_by = calloc((size_t) (newca->n ? newca->n : 1), sizeof(int));
	if (f->held_by == NULL)
		return false;
	for (int j = 0; j < newca->n; j++)
	{
		if (newca->items[j].x == NULL)
			continue;
		for (int i = 0; i < f->n && f->held_by[j] == 0; i++)
			if (f->items[i].x != NULL &&
				cert_facts_same_subject_and_key(f->items[i].x, newca->items[j].x))
				f->held_by[j] = i + 1;
		f->held += f->held_by[j] != 0;
	}
	return true;
}

int
bundle_view_merge(file_view *all, file_view *one)
{
	/* Keep every file's list alive by moving its items into `all`. */
	bundle_item *grown = realloc(all->items, (size_t) (all->n + one->n ? all->n + one->n : 1) *
									sizeof(bundle_item));

	if (grown == NULL)
		return -1;
	all->items = grown;
	memcpy(all->items + all->n, one->items, (size_t) one->n * sizeof(bundle_item));
	all->n += one->n;
	free(one->items);
	one->items = NULL;
	one->n = 0;
	return 0;
}
