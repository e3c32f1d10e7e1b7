/*
 * libcver.h: the library's C library imports, bound to glibc's base symbol
 * version where glibc has the same function there. Force-included into every
 * object of libpqtls.so (Makefile), never into the command line.
 *
 * Each distinct symbol version a shared object requires costs the loader a
 * walk of libc's version definitions at every start of every program
 * (_dl_check_map_versions, 150-450 instructions a version; libpqtls.so used to
 * require eight). The functions below moved into libc from libdl, libpthread
 * and librt, or changed version for a new variant, and glibc keeps the base
 * version for old binaries as the same code: dladdr, dlclose, dlvsym and
 * pthread_once (GLIBC_2.34 aliases), clock_gettime (2.17), secure_getenv
 * (__secure_getenv), pthread_atfork (libpthread's, which registers under
 * libc's handle: the library is -z nodelete, see src/lib/dso.c). memcpy's base
 * version is memmove, which does what memcpy does. A reference bound to an old
 * version cannot bind to anything else, so a glibc without it fails at load,
 * never silently. dlsym and dlopen are not listed: the library defines them.
 */
#ifndef PQTLS_LIBCVER_H
#define PQTLS_LIBCVER_H

#include <features.h>

/* Where these base versions are known to exist (elsewhere: the default ones). */
#if defined(__GLIBC__) && defined(__x86_64__) && defined(__linux__)
#define PQTLS_LIBC_BASE "GLIBC_2.2.5"
#endif

#ifdef PQTLS_LIBC_BASE
__asm__(".symver dladdr, dladdr@" PQTLS_LIBC_BASE);
__asm__(".symver dlclose, dlclose@" PQTLS_LIBC_BASE);
__asm__(".symver dlvsym, dlvsym@" PQTLS_LIBC_BASE);
__asm__(".symver pthread_once, pthread_once@" PQTLS_LIBC_BASE);
__asm__(".symver pthread_atfork, pthread_atfork@" PQTLS_LIBC_BASE);
__asm__(".symver clock_gettime, clock_gettime@" PQTLS_LIBC_BASE);
__asm__(".symver secure_getenv, __secure_getenv@" PQTLS_LIBC_BASE);
__asm__(".symver memcpy, memcpy@" PQTLS_LIBC_BASE);
#endif

#endif
