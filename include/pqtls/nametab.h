/*
 * nametab.h: tables of names that cost the loader nothing.
 *
 * libpqtls.so is preloaded into every program, so whatever the dynamic linker
 * does to it runs at every start, connecting or not (issue 9: /bin/true may
 * cost at most 1.12x). A `const char *` in a static table is a relative
 * relocation the loader applies at each start (about 13 instructions); a name
 * stored in place, as a fixed-size char array, is plain read-only data. So the
 * library's tables hold their names in place.
 *
 * NAME_FITS(lit, n) is 0, and fails to compile when the string literal `lit`
 * and its terminating NUL do not fit in n bytes (C accepts a literal that fills
 * the array exactly and silently drops the NUL).
 */
#ifndef PQTLS_NAMETAB_H
#define PQTLS_NAMETAB_H

#define NAME_FITS(lit, n) (0 * sizeof(char[sizeof(lit) <= (n) ? 1 : -1]))

#endif
