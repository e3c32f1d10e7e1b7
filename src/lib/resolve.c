/*
 * resolve.c: the real libpq behind every hook, wherever the program loaded it.
 *
 * Nothing here runs until a hook is called: a process that never connects never
 * resolves anything. The loader is never called with one of our locks held,
 * because a library constructor that calls a hook holds the loader's lock while
 * waiting for ours.
 */
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "pqtls/annotate.h"
#include "pqtls/diag.h"
#include "pqtls/nametab.h"
#include "pqtls/ossl.h"
#include "pqtls/resolve.h"
#include "pqtls/tailcall.h"

/* Most processes hold one libpq; a few hold two. Past this we stop registering. */
#define MAX_COPIES 8
/* Calling modules remembered with the copy that served them. */
#define MAX_CALLERS 64

#define HOOK_NAME(fn) #fn,
const char	pqtls_hooked_names[][PQTLS_HOOK_NAME_MAX] = {PQTLS_HOOKED(HOOK_NAME) ""};
#undef HOOK_NAME

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pq_api *copies[MAX_COPIES];
static _Atomic int n_copies;

static struct
{
	_Atomic(const void *) base;
	_Atomic(pq_api *) pq;
}			callers[MAX_CALLERS];
static _Atomic int n_callers;

/* The copy whose functions a dlsym() of the program last returned (psycopg 3). */
static _Atomic(pq_api *) last_dlsym_copy;

static _Atomic(dlsym_fn) libc_dlsym_ptr;
static const void *own_base;
/* The address range of libpqtls.so's own PT_LOAD segments (see pqtls_owns). */
static uintptr_t own_start,
			own_end;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void
atfork_prepare(void)
{
	pthread_mutex_lock(&lock);
}

static void
atfork_release(void)
{
	pthread_mutex_unlock(&lock);
}

/* The lowest and highest address of an object's PT_LOAD segments. */
static void
load_range(const struct dl_phdr_info *info, uintptr_t *lo, uintptr_t *hi)
{
	*lo = UINTPTR_MAX;
	*hi = 0;
	for (int i = 0; i < info->dlpi_phnum; i++)
	{
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t	start = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type != PT_LOAD)
			continue;
		if (start < *lo)
			*lo = start;
		if (start + ph->p_memsz > *hi)
			*hi = start + ph->p_memsz;
	}
}

/* dl_iterate_phdr callback: the range of the object that holds init_resolver. */
static int
find_own_range(struct dl_phdr_info *info, size_t size, void *arg)
{
	uintptr_t	self = (uintptr_t) arg,
				lo,
				hi;

	(void) size;
	load_range(info, &lo, &hi);
	if (self < lo || self >= hi)
		return 0;
	own_start = lo;
	own_end = hi;
	return 1;
}

static void
init_resolver(void)
{
	Dl_info		self;

	if (dladdr((void *) init_resolver, &self))
		own_base = self.dli_fbase;
	dl_iterate_phdr(find_own_range, (void *) init_resolver);
	pthread_atfork(atfork_prepare, atfork_release, atfork_release);
	/* Atomics: their loads and stores race by design (the annotations below order the rest). */
	ANNOTATE_BENIGN_RACE_SIZED(&n_copies, sizeof(n_copies), "atomic");
	ANNOTATE_BENIGN_RACE_SIZED(&n_callers, sizeof(n_callers), "atomic");
	ANNOTATE_BENIGN_RACE_SIZED(&last_dlsym_copy, sizeof(last_dlsym_copy), "atomic");
	ANNOTATE_HAPPENS_BEFORE(&init_once);
}

static NO_SANITIZE void *
no_dlsym(void *handle, const char *name)
{
	(void) handle;
	(void) name;
	return NULL;
}

/*
 * glibc 2.34 moved dlsym into libc under version GLIBC_2.34; older ones (and
 * the compatibility alias) carry GLIBC_2.2.5 on x86_64. dlvsym is not hooked,
 * so this reaches the C library's dlsym whatever we export. Resolved by
 * whichever thread gets there first, without pthread_once: it runs inside the
 * sanitizers' start-up and inside library constructors (under the loader's
 * lock), and resolving twice gives the same pointer.
 */
NO_SANITIZE dlsym_fn
libc_dlsym(void)
{
	dlsym_fn	fn;

	/* An atomic that two threads may both fill, with the same value. */
	ANNOTATE_BENIGN_RACE_SIZED(&libc_dlsym_ptr, sizeof(libc_dlsym_ptr), "atomic");
	fn = atomic_load_explicit(&libc_dlsym_ptr, memory_order_acquire);
	if (fn == NULL)
	{
		fn = (dlsym_fn) dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.34");
		if (fn == NULL)
			fn = (dlsym_fn) dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.2.5");
		if (fn == NULL)
			fn = no_dlsym;
		atomic_store_explicit(&libc_dlsym_ptr, fn, memory_order_release);
	}
	return fn;
}

void *
real_dlsym(void *handle, const char *name)
{
	return libc_dlsym()(handle, name);
}

int
pqtls_owns(const void *addr)
{
	Dl_info		info;

	pthread_once(&init_once, init_resolver);
	ANNOTATE_HAPPENS_AFTER(&init_once);
	if (addr == NULL)
		return 0;
	/*
	 * An address range check, not dladdr(): dladdr() looks for the nearest
	 * symbol through the whole dynamic symbol table of the object holding
	 * addr (about 130,000 instructions for one in libcrypto), and this runs
	 * for every function bound from libpq's scope and every dlsym() of the
	 * program.
	 */
	if (own_end != 0)
		return (uintptr_t) addr >= own_start && (uintptr_t) addr < own_end;
	return dladdr(addr, &info) && info.dli_fbase == own_base;
}

/* ---- scanning the loaded objects ---------------------------------------- */

static int
in_list(const object_list *list, ElfW(Addr) addr, const ElfW(Phdr) *phdr)
{
	for (size_t i = 0; i < list->n; i++)
		if (list->obj[i].addr == addr && list->obj[i].phdr == phdr)
			return 1;
	return 0;
}

/*
 * The callback only copies facts out: calling dlopen() from inside
 * dl_iterate_phdr() would take the loader's locks in the opposite order. The
 * name is copied: the object may be unloaded before the caller is done.
 */
static int
collect_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	object_list *list = arg;
	const char *name = info->dlpi_name != NULL ? info->dlpi_name : "";
	loaded_object *o;

	(void) size;
	if (list->before != NULL &&
		(name[0] == '\0' || in_list(list->before, info->dlpi_addr, info->dlpi_phdr)))
		return 0;
	if (list->n == list->max)
	{
		size_t		max = list->max ? list->max * 2 : 64;
		loaded_object *grown = realloc(list->obj, max * sizeof(*grown));

		if (grown == NULL)
		{
			list->complete = 0;
			return 1;
		}
		list->obj = grown;
		list->max = max;
	}
	o = &list->obj[list->n];
	if ((o->name = strdup(name)) == NULL)
	{
		list->complete = 0;
		return 1;
	}
	o->addr = info->dlpi_addr;
	o->phdr = info->dlpi_phdr;
	o->phnum = info->dlpi_phnum;
	load_range(info, &o->start, &o->end);
	list->n++;
	return 0;
}

int
objects_collect(object_list *list, const object_list *before)
{
	memset(list, 0, sizeof(*list));
	list->complete = 1;
	list->before = before;
	dl_iterate_phdr(collect_object, list);
	return list->complete;
}

void
objects_free(object_list *list)
{
	for (size_t i = 0; i < list->n; i++)
		free(list->obj[i].name);
	free(list->obj);
	list->obj = NULL;
	list->n = list->max = 0;
}

static int
object_contains(const loaded_object *o, const void *addr)
{
	uintptr_t	a = (uintptr_t) addr;

	return a >= o->start && a < o->end;
}

/* `name` as defined by object o itself (not by one of its dependencies). */
static void *
defined_by(const loaded_object *o, const char *name)
{
	void	   *h,
			   *sym = NULL;

	if (o->name[0] == '\0')
		return NULL;			/* the main program: its scope is the global one */
	h = dlopen(o->name, RTLD_NOLOAD | RTLD_LAZY);
	if (h == NULL)
		return NULL;
	sym = real_dlsym(h, name);
	dlclose(h);
	return sym != NULL && object_contains(o, sym) ? sym : NULL;
}

/*
 * The first definition of `name` in an object loaded after index `from`,
 * skipping pqtls itself.
 */
static void *
scan_after(const object_list *list, size_t from, const char *name)
{
	for (size_t i = from; i < list->n; i++)
	{
		void	   *sym;

		if (object_contains(&list->obj[i], (const void *) init_resolver))
			continue;
		sym = defined_by(&list->obj[i], name);
		if (sym != NULL)
			return sym;
	}
	return NULL;
}

/*
 * dlsym(RTLD_NEXT, name) on behalf of `caller`: the first definition in an
 * object loaded after the caller's own, pqtls excluded. Forwarding the
 * program's RTLD_NEXT straight to the C library would search after pqtls
 * instead, and a wrapper loaded after pqtls would get its own function back.
 */
void *
resolve_next(const char *name, const void *caller)
{
	object_list list;
	size_t		from = 0;
	void	   *sym;

	objects_collect(&list, NULL);
	while (from < list.n && !object_contains(&list.obj[from], caller))
		from++;
	if (from == list.n)
		sym = real_dlsym(RTLD_NEXT, name);
	else
		sym = scan_after(&list, from + 1, name);
	objects_free(&list);
	return sym;
}

/* ---- libpq copies --------------------------------------------------------- */

/* Names in place, not pointers: no relocation at load (nametab.h). */
#define BINDING_NAME_MAX 32

typedef struct binding
{
	char		name[BINDING_NAME_MAX];
	size_t		offset;
	int			required;
} binding;

#define BIND(fn, req) {#fn, offsetof(pq_api, fn) + NAME_FITS(#fn, BINDING_NAME_MAX), req}

static const binding bindings[] = {
	BIND(PQconnectdb, 1), BIND(PQconnectdbParams, 1), BIND(PQsetdbLogin, 1),
	BIND(PQconnectStart, 1), BIND(PQconnectStartParams, 1), BIND(PQconnectPoll, 1),
	BIND(PQfinish, 1), BIND(PQping, 1), BIND(PQpingParams, 1), BIND(PQreset, 1),
	BIND(PQresetStart, 1), BIND(PQresetPoll, 1),
	BIND(PQcancelCreate, 0), BIND(PQcancelStart, 0), BIND(PQcancelBlocking, 0),
	BIND(PQcancelPoll, 0), BIND(PQcancelFinish, 0),
	BIND(PQconninfo, 1), BIND(PQconninfoParse, 1), BIND(PQconninfoFree, 1),
	BIND(PQfreemem, 1), BIND(PQstatus, 1), BIND(PQerrorMessage, 1), BIND(PQhost, 1),
	BIND(PQhostaddr, 0), BIND(PQport, 1), BIND(PQdb, 1), BIND(PQuser, 1),
	BIND(PQsocket, 1), BIND(PQsslInUse, 0), BIND(PQsslAttribute, 0),
	BIND(PQsslStruct, 0), BIND(PQlibVersion, 0),
};

static pq_api *
find_copy(const void *base)
{
	int			n = atomic_load_explicit(&n_copies, memory_order_acquire);

	ANNOTATE_HAPPENS_AFTER(&n_copies);
	for (int i = 0; i < n; i++)
		if (copies[i]->base == base)
			return copies[i];
	return NULL;
}

/* Bind every function from the copy loaded at `info`; NULL when one is missing. */
static pq_api *
bind_copy(const Dl_info *info)
{
	pq_api	   *pq = calloc(1, sizeof(*pq));

	if (pq == NULL)
		return NULL;
	pq->base = info->dli_fbase;
	ANNOTATE_BENIGN_RACE_SIZED(&pq->ossl_state, sizeof(pq->ossl_state), "atomic");
	pq->handle = dlopen(info->dli_fname, RTLD_NOLOAD | RTLD_LAZY);
	if (pq->handle == NULL)
	{
		free(pq);
		return NULL;
	}
	strncpy(pq->path, info->dli_fname, sizeof(pq->path) - 1);
	for (size_t i = 0; i < sizeof(bindings) / sizeof(bindings[0]); i++)
	{
		void	   *fn = real_dlsym(pq->handle, bindings[i].name);

		if (fn != NULL && pqtls_owns(fn))
			fn = NULL;
		if (fn == NULL && bindings[i].required)
		{
			diag_once("bind", "%s lacks %s; connections through it are not recorded",
					  pq->path, bindings[i].name);
			dlclose(pq->handle);
			free(pq);
			return NULL;
		}
		memcpy((char *) pq + bindings[i].offset, &fn, sizeof(fn));
	}
	pq->version = pq->PQlibVersion ? pq->PQlibVersion() : 0;
	return pq;
}

pq_api *
pq_for_function(const void *fn)
{
	Dl_info		info;
	pq_api	   *pq,
			   *fresh;

	if (fn == NULL || !dladdr(fn, &info) || info.dli_fname == NULL)
		return NULL;
	pq = find_copy(info.dli_fbase);
	if (pq != NULL)
		return pq;

	/* Bind outside the lock (the loader is called), then publish. */
	fresh = bind_copy(&info);
	if (fresh == NULL)
		return NULL;
	pthread_mutex_lock(&lock);
	pq = find_copy(info.dli_fbase);
	if (pq == NULL && n_copies < MAX_COPIES)
	{
		copies[n_copies] = fresh;
		ANNOTATE_HAPPENS_BEFORE(&n_copies);
		atomic_store_explicit(&n_copies, n_copies + 1, memory_order_release);
		pq = fresh;
		fresh = NULL;
	}
	pthread_mutex_unlock(&lock);
	if (fresh != NULL)
	{
		dlclose(fresh->handle);
		free(fresh);
	}
	return pq;
}

void
pq_note_dlsym_copy(pq_api *pq)
{
	ANNOTATE_HAPPENS_BEFORE(&last_dlsym_copy);
	atomic_store_explicit(&last_dlsym_copy, pq, memory_order_release);
}

/* libpq as the calling module sees it: its own scope holds its dependencies. */
static void *
libpq_in_caller_scope(const Dl_info *caller)
{
	void	   *h,
			   *fn;

	if (caller->dli_fname == NULL || caller->dli_fbase == own_base)
		return NULL;
	h = dlopen(caller->dli_fname, RTLD_NOLOAD | RTLD_LAZY);
	if (h == NULL)
		return NULL;
	fn = real_dlsym(h, "PQconnectStart");
	dlclose(h);
	return fn != NULL && !pqtls_owns(fn) ? fn : NULL;
}

static void *
libpq_anywhere(void)
{
	object_list list;
	void	   *sym;

	objects_collect(&list, NULL);
	sym = scan_after(&list, 0, "PQconnectStart");
	objects_free(&list);
	return sym;
}

static pq_api *
cached_for_caller(const void *base)
{
	int			n = atomic_load_explicit(&n_callers, memory_order_acquire);

	ANNOTATE_HAPPENS_AFTER(&n_callers);
	for (int i = 0; i < n; i++)
		if (atomic_load_explicit(&callers[i].base, memory_order_relaxed) == base)
			return atomic_load_explicit(&callers[i].pq, memory_order_relaxed);
	return NULL;
}

static void
remember_caller(const void *base, pq_api *pq)
{
	pthread_mutex_lock(&lock);
	if (cached_for_caller(base) == NULL && n_callers < MAX_CALLERS)
	{
		atomic_store_explicit(&callers[n_callers].base, base, memory_order_relaxed);
		atomic_store_explicit(&callers[n_callers].pq, pq, memory_order_relaxed);
		ANNOTATE_HAPPENS_BEFORE(&n_callers);
		atomic_store_explicit(&n_callers, n_callers + 1, memory_order_release);
	}
	pthread_mutex_unlock(&lock);
}

pq_api *
pq_for_caller(const void *caller)
{
	Dl_info		info;
	pq_api	   *pq;
	void	   *fn;

	pthread_once(&init_once, init_resolver);
	ANNOTATE_HAPPENS_AFTER(&init_once);
	if (!dladdr(caller, &info))
		memset(&info, 0, sizeof(info));
	pq = cached_for_caller(info.dli_fbase);
	if (pq != NULL)
		return pq;

	fn = libpq_in_caller_scope(&info);
	if (fn == NULL)
		fn = real_dlsym(RTLD_NEXT, "PQconnectStart");
	if (fn == NULL)
	{
		pq = atomic_load_explicit(&last_dlsym_copy, memory_order_acquire);
		ANNOTATE_HAPPENS_AFTER(&last_dlsym_copy);
		if (pq != NULL)
			return pq;
		fn = libpq_anywhere();
	}
	pq = pq_for_function(fn);
	if (pq != NULL)
		remember_caller(info.dli_fbase, pq);
	return pq;
}

/* ---- the OpenSSL of a libpq copy ------------------------------------------ */

static void *
lookup_in_scope(void *handle, const char *name)
{
	void	   *fn = real_dlsym(handle, name);

	/* SSL_connect is one of ours too; the table must hold OpenSSL's. */
	return fn != NULL && !pqtls_owns(fn) ? fn : NULL;
}

/*
 * libpq's own scope holds the libssl and libcrypto it was linked with, so a
 * lookup through its handle finds exactly the OpenSSL that made its SSL objects.
 * Functions a very old OpenSSL lacks stay NULL; each user checks what it needs.
 */
struct ossl *
pq_ossl(pq_api *pq)
{
	ossl	   *o;
	int			state = __atomic_load_n(&pq->ossl_state, __ATOMIC_ACQUIRE);

	ANNOTATE_HAPPENS_AFTER(&pq->ossl_state);
	if (state != 0)
		return state > 0 ? pq->ossl : NULL;
	o = calloc(1, sizeof(*o));
	if (o != NULL)
		ossl_bind(o, lookup_in_scope, pq->handle);
	pthread_mutex_lock(&lock);
	if (pq->ossl_state == 0)
	{
		pq->ossl = o;
		ANNOTATE_HAPPENS_BEFORE(&pq->ossl_state);
		__atomic_store_n(&pq->ossl_state, o != NULL ? 1 : -1, __ATOMIC_RELEASE);
		o = NULL;
	}
	pthread_mutex_unlock(&lock);
	free(o);
	return pq->ossl_state > 0 ? pq->ossl : NULL;
}
