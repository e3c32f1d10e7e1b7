/*
 * dlsym.c: seeing programs that look libpq's functions up themselves.
 *
 * psycopg 3's pure-Python implementation loads libpq with ctypes and calls what
 * dlsym(handle, "PQconnectStart") returns: a pointer into libpq that no
 * LD_PRELOAD symbol can stand in front of. So pqtls exports dlsym too. Any name
 * it does not hook is answered exactly as the C library answers it; for a hooked
 * libpq function it returns its hook, after noting which libpq copy the program
 * asked, so the hook later calls into that same copy.
 */
#include <dlfcn.h>
#include <string.h>

#include "pqtls/resolve.h"

#define PQTLS_EXPORT __attribute__((visibility("default")))

/* The hooks, by the index of their name in pqtls_hooked_names. */
static void *
own_hook(int index)
{
	static void *const hooks[] = {
		(void *) PQconnectdb, (void *) PQconnectdbParams, (void *) PQsetdbLogin,
		(void *) PQconnectStart, (void *) PQconnectStartParams, (void *) PQconnectPoll,
		(void *) PQfinish, (void *) PQping, (void *) PQpingParams, (void *) PQreset,
		(void *) PQresetStart, (void *) PQresetPoll,
	};

	return hooks[index];
}

static int
hooked_index(const char *name)
{
	if (name == NULL || name[0] != 'P' || name[1] != 'Q')
		return -1;
	for (int i = 0; pqtls_hooked_names[i] != NULL; i++)
		if (strcmp(pqtls_hooked_names[i], name) == 0)
			return i;
	return -1;
}

/*
 * A lookup that found our own export (RTLD_DEFAULT with libpq in the global
 * scope behind us) is right as it is while some libpq is there to forward to;
 * with none, the program must see what it would see without pqtls: nothing.
 */
static void *
hook_for(int index, void *sym, const void *caller)
{
	pq_api	   *pq;

	if (pqtls_owns(sym))
		return pq_for_caller(caller) != NULL ? sym : NULL;
	pq = pq_for_function(sym);
	if (pq == NULL)
		return sym;
	pq_note_dlsym_copy(pq);
	return own_hook(index);
}

/*
 * RTLD_DEFAULT from a module dlopen()ed with RTLD_LOCAL also searches that
 * module's own scope; from here it would search only the global one.
 */
static void *
default_lookup(const char *name, const void *caller)
{
	void	   *sym = real_dlsym(RTLD_DEFAULT, name);
	Dl_info		info;

	if (sym == NULL && dladdr(caller, &info) && info.dli_fname != NULL)
	{
		void	   *h = dlopen(info.dli_fname, RTLD_NOLOAD | RTLD_LAZY);

		if (h != NULL)
		{
			sym = real_dlsym(h, name);
			dlclose(h);
		}
	}
	return sym;
}

PQTLS_EXPORT void *
dlsym(void *handle, const char *name)
{
	const void *caller = __builtin_return_address(0);
	void	   *sym;
	int			index;

	if (handle == RTLD_NEXT)
		sym = resolve_next(name, caller);
	else if (handle == RTLD_DEFAULT)
		sym = default_lookup(name, caller);
	else
		sym = real_dlsym(handle, name);
	if (sym == NULL || (index = hooked_index(name)) < 0)
		return sym;
	return hook_for(index, sym, caller);
}
