/*
 * tailcall.h: forwarding a call so that the C library sees the program's
 * return address, not ours.
 *
 * glibc's dlopen() and dlsym() look at their caller: dlopen() searches the
 * caller's DT_RPATH/DT_RUNPATH and expands $ORIGIN from it; dlsym(RTLD_NEXT)
 * and dlsym(RTLD_DEFAULT) search from the caller's place in the link map. A
 * wrapper that forwards with a sibling call (a jmp) keeps the program's return
 * address in place. The function must keep nothing in its frame past the call
 * (no local whose address is taken); the sibling call is forced on at -O1 and
 * under the sanitizers. The tests check the jmp in the disassembly.
 *
 * NO_SANITIZE: these hooks run inside the sanitizer runtimes' own start-up
 * (ASan resolves its interceptors with dlsym(RTLD_NEXT) before its shadow
 * memory exists), so they must not be instrumented.
 */
#ifndef PQTLS_TAILCALL_H
#define PQTLS_TAILCALL_H

#if defined(__clang__)
#define SIBLING_CALLS
#if __has_attribute(musttail)
#define TAIL_CALL __attribute__((musttail))	/* a tail call at every level, or an error */
#else
#define TAIL_CALL
#endif
#elif defined(__OPTIMIZE__)
#define SIBLING_CALLS __attribute__((optimize("optimize-sibling-calls")))
#define TAIL_CALL
#else							/* -O0 does no sibling call, whatever the flag */
#define SIBLING_CALLS __attribute__((optimize("O1", "optimize-sibling-calls")))
#define TAIL_CALL
#endif

#define NO_SANITIZE __attribute__((no_sanitize("address", "undefined")))

#endif
