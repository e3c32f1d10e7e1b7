/*
 * deepbind.c: seeing libpq when a program loads it with RTLD_DEEPBIND.
 *
 * PHP loads its extensions (pgsql.so, pdo_pgsql.so) with
 * dlopen(RTLD_LAZY | RTLD_GLOBAL | RTLD_DEEPBIND). Such an object and its
 * dependencies look symbols up in their own scope before the global one, so
 * pgsql.so binds PQconnectdb straight to libpq, and libpq binds SSL_connect
 * straight to libssl: the hooks LD_PRELOAD put in the global scope are never
 * called. So pqtls exports dlopen too. After a RTLD_DEEPBIND load it rewrites
 * the GOT entries of the objects that load brought in, for the names pqtls
 * hooks (pqtls_hooked_names, SSL_connect for capture.c, dlopen and dlsym), to
 * point at its own functions: exactly what the dynamic linker would have
 * written had the objects been loaded without RTLD_DEEPBIND. Objects loaded
 * before are never touched.
 *
 * glibc's dlopen looks at its caller's return address: the caller's
 * DT_RPATH/DT_RUNPATH and $ORIGIN are used to find a bare name, and the
 * caller's namespace is the one loaded into. A wrapper that called the real
 * dlopen would make every dlopen of the process look as if libpqtls made it. So:
 *
 *  - every dlopen but a RTLD_DEEPBIND one of a path (a name with '/' and no
 *    '$', which is not searched for) reaches the real dlopen by a tail call
 *    (a `jmp`), with the caller's own return address; a RTLD_DEEPBIND load of
 *    a bare name stays unseen;
 *  - a RTLD_DEEPBIND load of a path is opened from here and patched; should
 *    that open fail, it is retried by the tail call, so the program gets
 *    exactly the result and the dlerror() it would get without pqtls.
 *
 * Nothing is written while the loader could be writing: only objects the
 * loader has finished (each held by a RTLD_NOLOAD reference while it is
 * patched), under our lock, and the loader is never called with that lock
 * held.
 */
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pqtls/resolve.h"
#include "pqtls/tailcall.h"

#define PQTLS_EXPORT __attribute__((visibility("default")))

/* The hooked names plus other_names. */
#define MAX_TARGETS 32

/*
 * The path every dlopen of the process takes stays uninstrumented under the
 * sanitizers (NO_SANITIZE): it may run before their runtime has set up its
 * shadow memory.
 */

typedef void *(*dlopen_fn) (const char *file, int mode);
typedef void *(*dlsym_fn) (void *handle, const char *name);

/* ---- the C library's dlopen ------------------------------------------------ */

/*
 * Resolved on first use by whichever thread gets there, without pthread_once:
 * dlvsym takes the loader's lock, and a library constructor (running under that
 * lock) that calls dlopen while another thread resolves would otherwise wait
 * forever on the once-guard. Resolving twice gives the same pointer.
 */
static _Atomic(dlopen_fn) libc_dlopen;

static NO_SANITIZE void *
no_dlopen(const char *file, int mode)
{
	(void) file;
	(void) mode;
	return NULL;
}

static NO_SANITIZE void *
libc_symbol(const char *name)
{
	void	   *fn = dlvsym(RTLD_NEXT, name, "GLIBC_2.34");

	if (fn == NULL)
		fn = dlvsym(RTLD_NEXT, name, "GLIBC_2.2.5");
	/* Not preloaded but dlopen()ed late: dlvsym never answers with our unversioned export. */
	if (fn == NULL)
		fn = dlvsym(RTLD_DEFAULT, name, "GLIBC_2.34");
	if (fn == NULL)
		fn = dlvsym(RTLD_DEFAULT, name, "GLIBC_2.2.5");
	return fn;
}

static NO_SANITIZE dlopen_fn
real_dlopen(void)
{
	dlopen_fn	fn = atomic_load_explicit(&libc_dlopen, memory_order_acquire);

	if (fn == NULL)
	{
		fn = (dlopen_fn) libc_symbol("dlopen");
		if (fn == NULL)
			fn = no_dlopen;
		atomic_store_explicit(&libc_dlopen, fn, memory_order_release);
	}
	return fn;
}

/* ---- what to write: our own functions ------------------------------------ */

typedef struct target
{
	const char *name;
	void	   *addr;
} target;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static target targets[MAX_TARGETS];
static int	n_targets;
static _Atomic int targets_ready;

/* Our own load address, from any function of ours. */
static const void *
own_base(void)
{
	Dl_info		info;

	return dladdr((void *) real_dlopen, &info) ? info.dli_fbase : NULL;
}

/*
 * Names rebound besides the libpq hooks: capture.c's SSL_connect, and the
 * loader entry points pqtls stands in front of, so that an object loaded with
 * RTLD_DEEPBIND that loads libpq or looks its functions up itself is seen too
 * (and its own RTLD_DEEPBIND loads are patched in turn).
 */
static const char other_names[][PQTLS_HOOK_NAME_MAX] = {"SSL_connect", "dlopen", "dlsym", ""};

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

/*
 * Our export of each name, looked up through our own handle with the C
 * library's dlsym (ours is a hook). Calls the loader: never under the lock.
 */
static int
own_targets(dlopen_fn real)
{
	const char (*lists[])[PQTLS_HOOK_NAME_MAX] = {pqtls_hooked_names, other_names};
	target		found[MAX_TARGETS];
	int			n = 0;
	Dl_info		self,
				info;
	dlsym_fn	sym_of;
	void	   *self_handle;

	if (atomic_load_explicit(&targets_ready, memory_order_acquire))
		return n_targets;
	sym_of = (dlsym_fn) libc_symbol("dlsym");
	if (sym_of == NULL || !dladdr((void *) real_dlopen, &self) || self.dli_fname == NULL)
		return 0;
	self_handle = real(self.dli_fname, RTLD_NOLOAD | RTLD_LAZY);
	if (self_handle == NULL)
		return 0;
	for (size_t l = 0; l < sizeof(lists) / sizeof(lists[0]); l++)
	{
		for (size_t i = 0; lists[l][i][0] != '\0' && n < MAX_TARGETS; i++)
		{
			const char *name = lists[l][i];
			void	   *addr = sym_of(self_handle, name);

			if (addr != NULL && dladdr(addr, &info) && info.dli_fbase == self.dli_fbase)
			{
				found[n].name = name;
				found[n].addr = addr;
				n++;
			}
		}
	}
	dlclose(self_handle);

	pthread_mutex_lock(&lock);
	if (!atomic_load_explicit(&targets_ready, memory_order_relaxed))
	{
		memcpy(targets, found, sizeof(found[0]) * n);
		n_targets = n;
		atomic_store_explicit(&targets_ready, 1, memory_order_release);
		n = -1;
	}
	pthread_mutex_unlock(&lock);
	/* A child forked while another thread patches must not inherit the lock held. */
	if (n == -1)
		pthread_atfork(atfork_prepare, atfork_release, atfork_release);
	return n_targets;
}

static void *
target_for(const char *name)
{
	if (name[0] != 'P' && name[0] != 'S' && name[0] != 'd')
		return NULL;
	for (int i = 0; i < n_targets; i++)
		if (strcmp(targets[i].name, name) == 0)
			return targets[i].addr;
	return NULL;
}

/* ---- rewriting one object's GOT ------------------------------------------ */

#if defined(__x86_64__)
#define R_JUMP_SLOT R_X86_64_JUMP_SLOT
#define R_GLOB_DAT	R_X86_64_GLOB_DAT
#define R_ABS		R_X86_64_64
#elif defined(__aarch64__)
#define R_JUMP_SLOT R_AARCH64_JUMP_SLOT
#define R_GLOB_DAT	R_AARCH64_GLOB_DAT
#define R_ABS		R_AARCH64_ABS64
#endif

#ifdef R_JUMP_SLOT

typedef struct layout
{
	ElfW(Addr)	base;
	const ElfW(Phdr) *phdr;
	ElfW(Half)	phnum;
	uintptr_t	relro_lo;		/* pages the loader made read-only: [lo, hi) */
	uintptr_t	relro_hi;
	uintptr_t	page;
} layout;

/* Is [p, p + len) inside one PT_LOAD segment, writable when asked? */
static int
mapped(const layout *l, uintptr_t p, size_t len, int writable)
{
	for (int i = 0; i < l->phnum; i++)
	{
		const ElfW(Phdr) *ph = &l->phdr[i];
		uintptr_t	lo = l->base + ph->p_vaddr;

		if (ph->p_type != PT_LOAD || (writable && !(ph->p_flags & PF_W)))
			continue;
		if (p >= lo && len <= ph->p_memsz && p - lo <= ph->p_memsz - len)
			return 1;
	}
	return 0;
}

/*
 * A d_ptr of the dynamic section: glibc relocates them in place on most
 * targets, not on all (read-only dynamic sections, the vDSO).
 */
static uintptr_t
dyn_ptr(const layout *l, ElfW(Addr) p)
{
	return p < l->base ? l->base + p : p;
}

static void
write_slot(const layout *l, void **slot, void *value)
{
	uintptr_t	page = (uintptr_t) slot & ~(l->page - 1);
	int			relro = page >= l->relro_lo && page < l->relro_hi;

	if (__atomic_load_n(slot, __ATOMIC_RELAXED) == value)
		return;
	if (relro && mprotect((void *) page, l->page, PROT_READ | PROT_WRITE) != 0)
		return;
	__atomic_store_n(slot, value, __ATOMIC_RELEASE);
	if (relro)
		mprotect((void *) page, l->page, PROT_READ);
}

static void
patch_table(const layout *l, const ElfW(Rela) *rela, size_t size, size_t entsize,
			const ElfW(Sym) *symtab, const char *strtab, size_t strsz)
{
	if (rela == NULL || entsize < sizeof(ElfW(Rela)) ||
		!mapped(l, (uintptr_t) rela, size, 0))
		return;
	for (size_t off = 0; off + sizeof(ElfW(Rela)) <= size; off += entsize)
	{
		const ElfW(Rela) *r = (const ElfW(Rela) *) ((const char *) rela + off);
		size_t		type = ELF64_R_TYPE(r->r_info),
					index = ELF64_R_SYM(r->r_info);
		const ElfW(Sym) *sym;
		void	   *to;
		void	  **slot;

		if ((type != R_JUMP_SLOT && type != R_GLOB_DAT && type != R_ABS) || index == 0)
			continue;
		sym = &symtab[index];
		if (!mapped(l, (uintptr_t) sym, sizeof(*sym), 0) || sym->st_name >= strsz ||
			(ELF64_ST_BIND(sym->st_info) != STB_GLOBAL &&
			 ELF64_ST_BIND(sym->st_info) != STB_WEAK))
			continue;
		if ((to = target_for(strtab + sym->st_name)) == NULL)
			continue;
		slot = (void **) (l->base + r->r_offset);
		if (((uintptr_t) slot & (sizeof(void *) - 1)) != 0 ||
			!mapped(l, (uintptr_t) slot, sizeof(*slot), 1))
			continue;
		/* GOT entries take the symbol's address; an absolute word adds the addend. */
		write_slot(l, slot, type == R_ABS ? (char *) to + r->r_addend : to);
	}
}

/* Point every reference of o to a hooked name at our hook. Under the lock. */
static void
patch_object(const loaded_object *o)
{
	layout		l = {o->addr, o->phdr, o->phnum, 0, 0, (uintptr_t) sysconf(_SC_PAGESIZE)};
	const ElfW(Dyn) *dyn = NULL;
	const ElfW(Sym) *symtab = NULL;
	const char *strtab = NULL;
	const ElfW(Rela) *jmprel = NULL,
			   *rela = NULL;
	size_t		strsz = 0,
				pltrelsz = 0,
				relasz = 0,
				relaent = sizeof(ElfW(Rela));
	ElfW(Sxword) pltrel = DT_RELA;

	if (l.page == 0 || (l.page & (l.page - 1)) != 0)
		return;
	for (int i = 0; i < o->phnum; i++)
	{
		const ElfW(Phdr) *ph = &o->phdr[i];

		if (ph->p_type == PT_DYNAMIC)
			dyn = (const ElfW(Dyn) *) (o->addr + ph->p_vaddr);
		else if (ph->p_type == PT_GNU_RELRO)
		{
			/* As glibc's _dl_protect_relro: a partial last page stays writable. */
			l.relro_lo = (o->addr + ph->p_vaddr) & ~(l.page - 1);
			l.relro_hi = (o->addr + ph->p_vaddr + ph->p_memsz) & ~(l.page - 1);
		}
	}
	if (dyn == NULL)
		return;
	for (; dyn->d_tag != DT_NULL; dyn++)
	{
		switch (dyn->d_tag)
		{
			case DT_SYMTAB:
				symtab = (const ElfW(Sym) *) dyn_ptr(&l, dyn->d_un.d_ptr);
				break;
			case DT_STRTAB:
				strtab = (const char *) dyn_ptr(&l, dyn->d_un.d_ptr);
				break;
			case DT_STRSZ:
				strsz = dyn->d_un.d_val;
				break;
			case DT_JMPREL:
				jmprel = (const ElfW(Rela) *) dyn_ptr(&l, dyn->d_un.d_ptr);
				break;
			case DT_PLTRELSZ:
				pltrelsz = dyn->d_un.d_val;
				break;
			case DT_PLTREL:
				pltrel = dyn->d_un.d_val;
				break;
			case DT_RELA:
				rela = (const ElfW(Rela) *) dyn_ptr(&l, dyn->d_un.d_ptr);
				break;
			case DT_RELASZ:
				relasz = dyn->d_un.d_val;
				break;
			case DT_RELAENT:
				relaent = dyn->d_un.d_val;
				break;
			default:
				break;
		}
	}
	if (symtab == NULL || strtab == NULL || strsz == 0 ||
		!mapped(&l, (uintptr_t) strtab, strsz, 0))
		return;
	if (pltrel == DT_RELA)
		patch_table(&l, jmprel, pltrelsz, sizeof(ElfW(Rela)), symtab, strtab, strsz);
	patch_table(&l, rela, relasz, relaent, symtab, strtab, strsz);
}

#else							/* no relocation support for this target */

static void
patch_object(const loaded_object *o)
{
	(void) o;
}

#endif

/* ---- the RTLD_DEEPBIND load ------------------------------------------------ */

typedef int (*dlinfo_fn) (void *handle, int request, void *info);

/*
 * The objects this load brought in: hold each, patch it, let it go. dlinfo is
 * looked up here, not imported: an import would cost every program one more
 * symbol version to check at load (libcver.h), for the rare RTLD_DEEPBIND load.
 */
static void
rebind_new_objects(dlopen_fn real, const object_list *before)
{
	object_list after;
	const void *self = own_base();
	dlinfo_fn	info_of = (dlinfo_fn) libc_symbol("dlinfo");

	objects_collect(&after, before);
	if (after.n > 0 && info_of != NULL && own_targets(real) > 0)
	{
		for (size_t i = 0; i < after.n; i++)
		{
			const loaded_object *o = &after.obj[i];
			struct link_map *map = NULL;
			void	   *hold;

			if ((const void *) o->addr == self && self != NULL)
				continue;
			/*
			 * A reference keeps it mapped, and returns only once the loader is
			 * done with it (another thread may be loading it right now).
			 */
			hold = real(o->name, RTLD_NOLOAD | RTLD_LAZY);
			if (hold == NULL)
				continue;
			if (info_of(hold, RTLD_DI_LINKMAP, &map) == 0 && map != NULL &&
				map->l_addr == o->addr)
			{
				pthread_mutex_lock(&lock);
				patch_object(o);
				pthread_mutex_unlock(&lock);
			}
			dlclose(hold);
		}
	}
	objects_free(&after);
}

/*
 * The RTLD_DEEPBIND load of a path, made from here. A path is not searched for,
 * and glibc forgets the calling object once the file is found (__RTLD_CALLMAP:
 * the new object's dependencies are searched for without it), so the load is
 * the same from here as from the caller; our copy of pqtls lives in the
 * caller's namespace (it is the dlopen the caller bound to). On failure NULL:
 * dlopen() then makes the same call from the caller's context, so that the
 * program sees exactly the C library's own result and dlerror().
 */
static __attribute__((noinline)) void *
open_and_rebind(dlopen_fn real, const char *file, int mode)
{
	object_list before;
	void	   *handle;

	objects_collect(&before, NULL);
	handle = real(file, mode);
	if (handle != NULL && before.complete)
		rebind_new_objects(real, &before);
	objects_free(&before);
	return handle;
}

static inline NO_SANITIZE int
wants_rebinding(const char *file, int mode)
{
	return (mode & RTLD_DEEPBIND) != 0 && (mode & RTLD_NOLOAD) == 0 && file != NULL &&
		strchr(file, '/') != NULL && strchr(file, '$') == NULL;
}

/*
 * Every path but the RTLD_DEEPBIND one ends in a sibling call to the C
 * library's dlopen, so that it sees the program's return address, not ours:
 * keep this function free of anything that needs its frame after the call
 * (locals whose address is taken, cleanups), and the sibling call forced on
 * at -O1 and under the sanitizers.
 */
PQTLS_EXPORT SIBLING_CALLS NO_SANITIZE void *
dlopen(const char *file, int mode)
{
	dlopen_fn	real = real_dlopen();

	if (__builtin_expect(wants_rebinding(file, mode), 0))
	{
		void	   *handle = open_and_rebind(real, file, mode);

		if (handle != NULL)
			return handle;
	}
	TAIL_CALL return real(file, mode);
}
