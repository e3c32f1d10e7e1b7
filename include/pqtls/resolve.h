/*
 * resolve.h: finding the real libpq behind a hook, and the libpq copies of the
 * process.
 *
 * A hook does not assume libpq sits in the global scope: under Python, psycopg2's
 * module is dlopen()ed with RTLD_LOCAL, so dlsym(RTLD_NEXT) finds nothing. The
 * real function is looked up, in order, in the calling module's own scope, after
 * pqtls in the global scope, in the copy that a dlsym() of the program last
 * returned (psycopg 3 through ctypes), and finally in every loaded object.
 *
 * Every helper (PQconninfo, PQsslAttribute, ...) comes from the same copy as the
 * hooked function: a process may hold two (a wheel's bundled libpq beside the
 * system one), and mixing them would hand one copy's PGconn to the other.
 */
#ifndef PQTLS_RESOLVE_H
#define PQTLS_RESOLVE_H

#include <link.h>
#include <stdint.h>

#include <libpq-fe.h>

struct ossl;

/*
 * PostgreSQL 17's cancel connections (fe-cancel.c). pqtls is built with whatever
 * libpq-fe.h the machine has (Debian 12's is 15's), so the type and the hooks
 * are declared here when the header lacks them; the functions are bound only
 * where the libpq in use exports them (13 to 16 do not).
 */
#ifndef LIBPQ_HAS_ASYNC_CANCEL
typedef struct pg_cancel_conn PGcancelConn;
#endif
PGcancelConn *PQcancelCreate(PGconn *conn);
int			PQcancelStart(PGcancelConn *cancelConn);
int			PQcancelBlocking(PGcancelConn *cancelConn);
PostgresPollingStatusType PQcancelPoll(PGcancelConn *cancelConn);
void		PQcancelFinish(PGcancelConn *cancelConn);

typedef struct pq_api
{
	const void *base;			/* load address of this libpq (dladdr's dli_fbase) */
	void	   *handle;			/* dlopen(RTLD_NOLOAD) reference: keeps it loaded */
	char		path[256];
	int			version;		/* PQlibVersion(), e.g. 150018 */

	/* The entry points pqtls hooks. */
	PGconn	   *(*PQconnectdb) (const char *conninfo);
	PGconn	   *(*PQconnectdbParams) (const char *const *keywords,
									  const char *const *values, int expand_dbname);
	PGconn	   *(*PQsetdbLogin) (const char *pghost, const char *pgport,
								 const char *pgoptions, const char *pgtty,
								 const char *dbName, const char *login, const char *pwd);
	PGconn	   *(*PQconnectStart) (const char *conninfo);
	PGconn	   *(*PQconnectStartParams) (const char *const *keywords,
										 const char *const *values, int expand_dbname);
	PostgresPollingStatusType (*PQconnectPoll) (PGconn *conn);
	void		(*PQfinish) (PGconn *conn);
	PGPing		(*PQping) (const char *conninfo);
	PGPing		(*PQpingParams) (const char *const *keywords,
								 const char *const *values, int expand_dbname);
	void		(*PQreset) (PGconn *conn);
	int			(*PQresetStart) (PGconn *conn);
	PostgresPollingStatusType (*PQresetPoll) (PGconn *conn);
	/* libpq 17+ (fe-cancel.c); NULL in a libpq without them. */
	PGcancelConn *(*PQcancelCreate) (PGconn *conn);
	int			(*PQcancelStart) (PGcancelConn *cancelConn);
	int			(*PQcancelBlocking) (PGcancelConn *cancelConn);
	PostgresPollingStatusType (*PQcancelPoll) (PGcancelConn *cancelConn);
	void		(*PQcancelFinish) (PGcancelConn *cancelConn);

	/* Helpers, from the same copy. */
	PQconninfoOption *(*PQconninfo) (PGconn *conn);
	PQconninfoOption *(*PQconninfoParse) (const char *conninfo, char **errmsg);
	void		(*PQconninfoFree) (PQconninfoOption *opts);
	void		(*PQfreemem) (void *ptr);
	ConnStatusType (*PQstatus) (const PGconn *conn);
	char	   *(*PQerrorMessage) (const PGconn *conn);
	char	   *(*PQhost) (const PGconn *conn);
	char	   *(*PQhostaddr) (const PGconn *conn);	/* libpq 12+, may be NULL */
	char	   *(*PQport) (const PGconn *conn);
	char	   *(*PQdb) (const PGconn *conn);
	char	   *(*PQuser) (const PGconn *conn);
	int			(*PQsocket) (const PGconn *conn);
	int			(*PQsslInUse) (PGconn *conn);
	const char *(*PQsslAttribute) (PGconn *conn, const char *name);
	void	   *(*PQsslStruct) (PGconn *conn, const char *name);
	int			(*PQlibVersion) (void);

	/* The OpenSSL this libpq uses, bound at the first TLS connection. */
	struct ossl *ossl;
	int			ossl_state;		/* 0 not tried, 1 bound, -1 unavailable */
} pq_api;

/*
 * The libpq functions pqtls hooks (hooks.c defines each), one line each:
 * dlsym.c hands them out and deepbind.c rebinds them from this list.
 */
#define PQTLS_HOOKED(X) \
	X(PQconnectdb) \
	X(PQconnectdbParams) \
	X(PQsetdbLogin) \
	X(PQconnectStart) \
	X(PQconnectStartParams) \
	X(PQconnectPoll) \
	X(PQfinish) \
	X(PQping) \
	X(PQpingParams) \
	X(PQreset) \
	X(PQresetStart) \
	X(PQresetPoll) \
	X(PQcancelCreate) \
	X(PQcancelStart) \
	X(PQcancelBlocking) \
	X(PQcancelPoll) \
	X(PQcancelFinish)

/* Their names, in place (nametab.h), in the order above; "" ends the list. */
#define PQTLS_HOOK_NAME_MAX 32
extern __attribute__((visibility("hidden")))
const char	pqtls_hooked_names[][PQTLS_HOOK_NAME_MAX];

/* The libpq copy serving a hook called from `caller` (a return address); NULL if none. */
pq_api	   *pq_for_caller(const void *caller);

/* The libpq copy that holds the function `fn`; registers it on first sight. */
pq_api	   *pq_for_function(const void *fn);

/* Remember the copy whose function a dlsym() of the program returned. */
void		pq_note_dlsym_copy(pq_api *pq);

typedef void *(*dlsym_fn) (void *handle, const char *name);

/* The dlsym() of the C library, whatever pqtls's own dlsym() hook does. */
dlsym_fn	libc_dlsym(void);
void	   *real_dlsym(void *handle, const char *name);

/* ---- the loaded objects (resolve.c's walk, deepbind.c's snapshots) ---- */

/* One object as dl_iterate_phdr() reported it. */
typedef struct loaded_object
{
	char	   *name;			/* a copy ("" for the main program) */
	ElfW(Addr)	addr;			/* load bias (dlpi_addr) */
	const ElfW(Phdr) *phdr;
	ElfW(Half)	phnum;
	uintptr_t	start;			/* lowest and highest address of its PT_LOAD segments */
	uintptr_t	end;
} loaded_object;

typedef struct object_list
{
	loaded_object *obj;
	size_t		n;
	size_t		max;
	int			complete;		/* every object made it into the list */
	const struct object_list *before;	/* if set: only named objects not in it */
} object_list;

/*
 * The objects loaded now, in load order; with `before`, only those loaded since
 * that list was taken. The loader is not called while collecting. Returns
 * list->complete; free the list with objects_free().
 */
int			objects_collect(object_list *list, const object_list *before);
void		objects_free(object_list *list);

/* dlsym(RTLD_NEXT, name) as seen from `caller`, skipping pqtls itself. */
void	   *resolve_next(const char *name, const void *caller);

/* Is this address inside libpqtls.so? */
int			pqtls_owns(const void *addr);

/* The OpenSSL functions of this libpq copy; NULL when they cannot be bound. */
struct ossl *pq_ossl(pq_api *pq);

#endif
