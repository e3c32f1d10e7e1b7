/*
 * scrub.c: masking secrets in a message before it reaches a record.
 *
 * Shared by the interposer (libpq's messages) and the JVM agent (pgjdbc's).
 */
#include <string.h>

#include "pqtls/scrub.h"

/*
 * Mask every occurrence of the secret, in place and in one pass:
 * the mask is never longer than what it replaces, so the text only shrinks.
 * The search goes on after each occurrence, never inside the mask just
 * written (a secret made of '*' would be found in it for ever), and nothing
 * is moved more than once (a message of a megabyte holding a one-letter
 * password a million times must not cost a million moves of the rest).
 */
void
scrub_secret(char *s, const char *secret)
{
	static const char mask[] = "********";
	size_t		slen,
				mlen;
	char	   *r = s,			/* where the search goes on */
			   *w = s,			/* where the scrubbed text goes */
			   *hit;

	if (s == NULL || secret == NULL || (slen = strlen(secret)) == 0)
		return;
	mlen = slen < sizeof(mask) - 1 ? slen : sizeof(mask) - 1;
	while ((hit = strstr(r, secret)) != NULL)
	{
		size_t		keep = (size_t) (hit - r);

		memmove(w, r, keep);
		w += keep;
		memcpy(w, mask, mlen);
		w += mlen;
		r = hit + slen;
	}
	if (w != r)
		memmove(w, r, strlen(r) + 1);
}
