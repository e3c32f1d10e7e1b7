/*
 * jvm_bytecode.h: reading a method's bytecode (the JVM agent; no JNI needed,
 * so the unit tests check it directly).
 */
#ifndef PQTLS_JVM_BYTECODE_H
#define PQTLS_JVM_BYTECODE_H

#include <stddef.h>
#include <stdint.h>

/*
 * The offsets of every return instruction (ireturn to return) of the code,
 * at most max of them: their number, or -1 when the code is malformed or
 * holds more than max.
 */
int			bytecode_returns(const uint8_t *code, size_t len, int64_t *out, int max);

#endif
