/*
 * jvm_bytecode.c: where a method returns, read from its bytecode.
 *
 * The agent learns that pgjdbc's constructor succeeded from breakpoints on its
 * return instructions, not from a frame-pop event: HotSpot runs a thread that
 * waits for a frame pop interpreted until the pop, which made the whole TLS
 * handshake of the connect three times as expensive.  Finding the returns
 * needs the length of every instruction (JVMS 6.5): a return's opcode byte may
 * also appear inside another instruction's operands.
 */
#include "pqtls/jvm_bytecode.h"

/* The length of the instruction at pc, or 0 when it runs past the end. */
static size_t
insn_length(const uint8_t *code, size_t len, size_t pc)
{
	uint8_t		op = code[pc];
	size_t		pad,
				n;

	switch (op)
	{
		case 0x10:				/* bipush */
		case 0x12:				/* ldc */
		case 0x15: case 0x16: case 0x17: case 0x18: case 0x19:	/* loads */
		case 0x36: case 0x37: case 0x38: case 0x39: case 0x3a:	/* stores */
		case 0xa9:				/* ret */
		case 0xbc:				/* newarray */
			n = 2;
			break;
		case 0x11:				/* sipush */
		case 0x13: case 0x14:	/* ldc_w, ldc2_w */
		case 0x84:				/* iinc */
		case 0xb2: case 0xb3: case 0xb4: case 0xb5:	/* field access */
		case 0xb6: case 0xb7: case 0xb8:	/* invokevirtual, special, static */
		case 0xbb:				/* new */
		case 0xbd:				/* anewarray */
		case 0xc0: case 0xc1:	/* checkcast, instanceof */
		case 0xc6: case 0xc7:	/* ifnull, ifnonnull */
			n = 3;
			break;
		case 0xc5:				/* multianewarray */
			n = 4;
			break;
		case 0xb9: case 0xba:	/* invokeinterface, invokedynamic */
		case 0xc8: case 0xc9:	/* goto_w, jsr_w */
			n = 5;
			break;
		case 0xc4:				/* wide */
			n = pc + 1 < len && code[pc + 1] == 0x84 ? 6 : 4;
			break;
		case 0xaa:				/* tableswitch: default, low, high, offsets */
		case 0xab:				/* lookupswitch: default, npairs, pairs */
			pad = 3 - (pc % 4);
			if (pc + 1 + pad + 12 > len)
				return 0;
			{
				const uint8_t *p = code + pc + 1 + pad;
				int32_t		a = (int32_t) ((uint32_t) p[4] << 24 | p[5] << 16 | p[6] << 8 | p[7]),
							b = (int32_t) ((uint32_t) p[8] << 24 | p[9] << 16 | p[10] << 8 | p[11]);

				if (op == 0xaa)
					n = b >= a ? 1 + pad + 12 + ((size_t) ((int64_t) b - a) + 1) * 4 : 0;
				else
					n = a >= 0 ? 1 + pad + 8 + (size_t) a * 8 : 0;
			}
			break;
		default:
			if (op >= 0x99 && op <= 0xa8)	/* if<cond>, goto, jsr */
				n = 3;
			else
				n = 1;
			break;
	}
	return n > 0 && pc + n <= len ? n : 0;
}

int
bytecode_returns(const uint8_t *code, size_t len, int64_t *out, int max)
{
	int			found = 0;

	for (size_t pc = 0, n; pc < len; pc += n)
	{
		if ((n = insn_length(code, len, pc)) == 0)
			return -1;
		if (code[pc] >= 0xac && code[pc] <= 0xb1)	/* ireturn .. return */
		{
			if (found == max)
				return -1;
			out[found++] = (int64_t) pc;
		}
	}
	return found;
}
