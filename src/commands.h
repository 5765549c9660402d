/* commands.h -- the subcommands of jibri-pipeline, one file each (cmd_*.c). */
#ifndef JP_COMMANDS_H
#define JP_COMMANDS_H

/* Each takes argv without the program name (argv[0] is the subcommand) and
 * returns the process exit status. Shared options (-c FILE) are parsed by
 * main() and reach them through cmd_config_path. */
extern const char *cmd_config_path;

int run_main(int argc, char **argv);
int check_main(int argc, char **argv);
int status_main(int argc, char **argv);
int retry_main(int argc, char **argv);
int probe_main(int argc, char **argv);
int remux_main(int argc, char **argv);
int sign_main(int argc, char **argv);
int put_main(int argc, char **argv);
int migrate_main(int argc, char **argv);
int token_main(int argc, char **argv);
int salvage_main(int argc, char **argv);

/* Load the configuration for a subcommand; on errors print each one to
 * stderr and return NULL. Warnings are printed unless quiet. */
struct config;
struct config *cmd_load_config(int quiet);

/* Load the configuration quietly and open the spool of its STATE_DIR (the
 * ops commands that read jobs); NULL after printing why. */
struct spool;
struct config *cmd_open_spool(struct spool *sp);

#endif
