/*
 * scrub.h: masking secrets (passwords) in text that goes into a record.
 */
#ifndef PQTLS_SCRUB_H
#define PQTLS_SCRUB_H

/* Replace every occurrence of secret in s (in place, same length or shorter). */
void		scrub_secret(char *s, const char *secret);

#endif
