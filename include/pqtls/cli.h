/*
 * cli.h: the commands of `pqtls` (SPEC, "The command line").
 *
 * Each command is one file in src/cli/ and one entry in the table of main.c.
 * Exit codes: a usage error is 2 with a one-line hint on stderr.
 */
#ifndef PQTLS_CLI_H
#define PQTLS_CLI_H

typedef struct cli_command
{
	const char *name;
	const char *summary;
	int			(*run) (int argc, char **argv);	/* argv[0] is the command name */
} cli_command;

/* Print "pqtls CMD: MESSAGE" and a hint to stderr; returns 2. */
int			cli_usage_error(const char *cmd, const char *fmt,...) __attribute__((format(printf, 2, 3)));

/* Handle --help and --version for a command; returns -1 when neither was asked. */
int			cli_common_flags(int argc, char **argv, const char *usage);

/*
 * The commands. Declared weak while they are being written, so the command line
 * builds with those that exist; main.c lists only the ones linked in.
 */
int			cmd_run(int argc, char **argv) __attribute__((weak));
int			cmd_report(int argc, char **argv) __attribute__((weak));
int			cmd_probe(int argc, char **argv) __attribute__((weak));
int			cmd_bundle(int argc, char **argv) __attribute__((weak));
int			cmd_sessions(int argc, char **argv) __attribute__((weak));

#endif
