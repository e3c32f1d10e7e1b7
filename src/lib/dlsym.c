/*
 * dlsym.c: seeing programs that look libpq's functions up themselves.
 *
 * psycopg 3's pure-Python implementation loads libpq with ctypes and calls what
 * dlsym(handle, "PQconnectStart") returns: a pointer into libpq that no
 * LD_PRELOAD symbol can stand in front of. So pqtls exports dlsym too. A lookup
 * through a handle of one of the hooked libpq names gets the hook, after pqtls
 * notes which libpq copy the program asked, so the hook later calls into that
 * same copy. Every other lookup, RTLD_NEXT and RTLD_DEFAULT included, goes to
 * the C library as a sibling call (tailcall.h), which sees the program's own
 * return address and answers exactly as without pqtls.
 */
#include <dlfcn.h>
#include <string.h>

#include "pqtls/resolve.h"
#include "pqtls/tailcall.h"

#define PQTLS_EXPORT __attribute__((visibility("default")))

/*
 * The hooks, by the index of their name in pqtls_hooked_names. Code, not a
 * table of pointers: a pointer table costs the loader a relocation per entry
 * at every start (nametab.h).
 */
static void *
own_hook(int index)
{
	int			i = 0;

#define HOOK_AT(fn) if (index == i++) return (void *) fn;
	PQTLS_HOOKED(HOOK_AT)
#undef HOOK_AT
	return NULL;
}

static int
hooked_index(const char *name)
{
	for (int i = 0; pqtls_hooked_names[i][0] != '\0'; i++)
		if (strcmp(pqtls_hooked_names[i], name) == 0)
			return i;
	return -1;
}

/*
 * A libpq function found through a handle: hand out its hook. A lookup that
 * found our own export (a handle whose scope is the global one) is right as it
 * is. A copy pqtls cannot bind is left alone: the program gets the real
 * function, unrecorded but working.
 */
static void *
hooked_lookup(dlsym_fn next, void *handle, const char *name)
{
	void	   *sym = next(handle, name);
	int			index;
	pq_api	   *pq;

	if (sym == NULL || (index = hooked_index(name)) < 0 || pqtls_owns(sym))
		return sym;
	pq = pq_for_function(sym);
	if (pq == NULL)
		return sym;
	pq_note_dlsym_copy(pq);
	return own_hook(index);
}

static inline NO_SANITIZE int
maybe_hooked(void *handle, const char *name)
{
	return handle != RTLD_NEXT && handle != RTLD_DEFAULT && name != NULL &&
		name[0] == 'P' && name[1] == 'Q';
}

PQTLS_EXPORT SIBLING_CALLS NO_SANITIZE void *
dlsym(void *handle, const char *name)
{
	dlsym_fn	next = libc_dlsym();

	if (__builtin_expect(maybe_hooked(handle, name), 0))
		return hooked_lookup(next, handle, name);
	TAIL_CALL return next(handle, name);
}
