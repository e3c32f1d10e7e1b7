/*
 * test_jvm_bytecode.c: the JVM agent's walk over a method's bytecode finds every
 * return and nothing else (src/jvm/jvm_bytecode.c: its breakpoints go there).
 */
#include "check.h"

#include "../../src/jvm/jvm_bytecode.c"

/* An operand byte equal to `return` (0xb1) is not a return. */
TEST(operands_are_not_instructions)
{
	/* sipush 0xb1b1; pop; bipush 0xb1; pop; return */
	static const uint8_t code[] = {0x11, 0xb1, 0xb1, 0x57, 0x10, 0xb1, 0x57, 0xb1};
	int64_t		r[4];

	CHECK_INT(bytecode_returns(code, sizeof(code), r, 4), 1);
	CHECK_INT(r[0], 7);
}

/* tableswitch pads to a multiple of four from the method's start. */
TEST(tableswitch_padding_and_targets)
{
	/*
	 * 0: iconst_0; 1: tableswitch, pad 2 bytes, default, low 0, high 1, two
	 * offsets whose bytes hold 0xb1; then 24: return; 25: ireturn
	 */
	static const uint8_t code[] = {
		0x03, 0xaa, 0, 0,
		0, 0, 0, 0xb1,			/* default */
		0, 0, 0, 0,				/* low */
		0, 0, 0, 1,				/* high */
		0, 0, 0, 0xb1, 0, 0, 0, 0xb1,
		0xb1, 0xac,
	};
	int64_t		r[4];

	CHECK_INT(bytecode_returns(code, sizeof(code), r, 4), 2);
	CHECK_INT(r[0], 24);
	CHECK_INT(r[1], 25);
}

TEST(lookupswitch_and_wide)
{
	/*
	 * 0: iload_0; 1: lookupswitch pad 2, default, npairs 1, (0xb1, 0xb1);
	 * 20: wide iinc 0xb1b1 0xb1b1 (6 bytes); 26: wide aload 0x00b1 (4 bytes); 30: areturn
	 */
	static const uint8_t code[] = {
		0x1a, 0xab, 0, 0,
		0, 0, 0, 0xb1,
		0, 0, 0, 1,
		0, 0, 0, 0xb1, 0, 0, 0, 0xb1,
		0xc4, 0x84, 0xb1, 0xb1, 0xb1, 0xb1,
		0xc4, 0x19, 0x00, 0xb1,
		0xb0,
	};
	int64_t		r[4];

	CHECK_INT(bytecode_returns(code, sizeof(code), r, 4), 1);
	CHECK_INT(r[0], 30);
}

TEST(five_byte_instructions)
{
	/* invokeinterface #0xb1b1 count 1 0; invokedynamic #0xb1b1 0 0; goto_w; return */
	static const uint8_t code[] = {
		0xb9, 0xb1, 0xb1, 1, 0,
		0xba, 0xb1, 0xb1, 0, 0,
		0xc8, 0, 0, 0, 5,
		0xb1,
	};
	int64_t		r[2];

	CHECK_INT(bytecode_returns(code, sizeof(code), r, 2), 1);
	CHECK_INT(r[0], 15);
}

/* Code cut inside an instruction, or a negative switch range: malformed. */
TEST(malformed_code)
{
	static const uint8_t cut[] = {0xb1, 0x11, 0xb1};
	static const uint8_t bad_switch[] = {
		0x03, 0xaa, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 1,
	};
	static const uint8_t cut_switch[] = {0x03, 0xaa, 0, 0, 0, 0};
	int64_t		r[4];

	CHECK_INT(bytecode_returns(cut, sizeof(cut), r, 4), -1);
	CHECK_INT(bytecode_returns(bad_switch, sizeof(bad_switch), r, 4), -1);
	CHECK_INT(bytecode_returns(cut_switch, sizeof(cut_switch), r, 4), -1);
}

/* More returns than room: refused rather than some of them watched. */
TEST(too_many_returns)
{
	static const uint8_t code[] = {0xb1, 0xb1, 0xb1};
	int64_t		r[3];

	CHECK_INT(bytecode_returns(code, sizeof(code), r, 2), -1);
	CHECK_INT(bytecode_returns(code, sizeof(code), r, 3), 3);
}
