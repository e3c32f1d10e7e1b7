/*
 * main.c: `pqtls COMMAND ...`, dispatching to one file per command.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pqtls/cli.h"

static const cli_command commands[] = {
	{"run", "run a program under the interposer and summarise its connections", cmd_run},
	{"report", "group records of many processes; exit 1 when anything would break", cmd_report},
	{"probe", "a side verify-full handshake with a server: its chain and the verdict", cmd_probe},
	{"bundle", "the certificates of CA bundles and trust stores, with their flaws", cmd_bundle},
	{"sessions", "which sessions of a live server use TLS, and its TLS settings", cmd_sessions},
	{NULL, NULL, NULL},
};

static void
print_usage(FILE *out)
{
	fprintf(out, "usage: pqtls COMMAND [OPTIONS] [ARGS]\n\ncommands:\n");
	for (const cli_command *c = commands; c->name != NULL; c++)
		if (c->run != NULL)
			fprintf(out, "  %-10s %s\n", c->name, c->summary);
	fprintf(out, "\n`pqtls COMMAND --help` describes a command.\n");
}

int
cli_usage_error(const char *cmd, const char *fmt,...)
{
	va_list		ap;

	fprintf(stderr, "pqtls%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (try 'pqtls %s%s--help')\n", cmd ? cmd : "", cmd ? " " : "");
	return 2;
}

int
cli_common_flags(int argc, char **argv, const char *usage)
{
	for (int i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
		{
			fputs(usage, stdout);
			return 0;
		}
		if (strcmp(argv[i], "--version") == 0)
		{
			printf("pqtls %s\n", PQTLS_VERSION);
			return 0;
		}
	}
	return -1;
}

int
main(int argc, char **argv)
{
	if (argc < 2)
	{
		print_usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
	{
		print_usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0)
	{
		printf("pqtls %s\n", PQTLS_VERSION);
		return 0;
	}
	for (const cli_command *c = commands; c->name != NULL; c++)
		if (c->run != NULL && strcmp(argv[1], c->name) == 0)
			return c->run(argc - 1, argv + 1);
	return cli_usage_error(NULL, "unknown command '%s'", argv[1]);
}
