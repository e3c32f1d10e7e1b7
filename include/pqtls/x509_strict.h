/*
 * x509_strict.h: a certificate's DER in a form OpenSSL's decoder certainly
 * accepts.
 */
#ifndef PQTLS_X509_STRICT_H
#define PQTLS_X509_STRICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * True when d2i_X509 of OpenSSL 1.1.1 and 3.x accepts these bytes as one
 * certificate: every element where the X509 templates want it, with the
 * content rules their primitives enforce. False means "not sure", never
 * "refused": the caller asks OpenSSL (trustfile.c).
 */
bool		x509_strict(const uint8_t *der, size_t len);

#endif
