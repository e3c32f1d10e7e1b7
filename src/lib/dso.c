/*
 * dso.c: the one thing the compiler's start files gave the library that it needs.
 *
 * libpqtls.so links with -nostartfiles (Makefile). crtbeginS.o and crtendS.o
 * cost every program it is preloaded into four symbol lookups at load
 * (__gmon_start__, the _ITM_ transactional-memory pair, __cxa_finalize), a
 * DT_INIT and a destructor for C++ statics: about 2,800 instructions of
 * /bin/true, for nothing a C library uses. Unwinding needs no terminator from
 * crtendS.o: the linker's .eh_frame_hdr indexes every FDE.
 *
 * What remains is __dso_handle, the handle pthread_atfork() (libc_nonshared.a)
 * registers our fork handlers under. Without crtbeginS.o's destructor nothing
 * would unregister them at dlclose(), so the library is linked -z nodelete: it
 * stays mapped for the life of the process, as it always does when preloaded.
 */
__attribute__((visibility("hidden"))) void *__dso_handle = &__dso_handle;
