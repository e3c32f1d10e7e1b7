/*
 * annotate.h: telling helgrind about synchronisation it cannot see.
 *
 * helgrind models neither pthread_once nor C11 atomics, so a value published
 * through them looks like a race. These annotations say what orders what; they
 * compile to client requests that cost nothing outside valgrind, and to
 * nothing at all where valgrind's header is not installed.
 */
#ifndef PQTLS_ANNOTATE_H
#define PQTLS_ANNOTATE_H

#ifdef __has_include
#if __has_include(<valgrind/helgrind.h>)
#include <valgrind/helgrind.h>
#endif
#endif
#ifndef ANNOTATE_HAPPENS_BEFORE
#define ANNOTATE_HAPPENS_BEFORE(obj) ((void) 0)
#define ANNOTATE_HAPPENS_AFTER(obj) ((void) 0)
#define ANNOTATE_BENIGN_RACE_SIZED(addr, size, why) ((void) 0)
#endif

#endif
