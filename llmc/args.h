// Command-line flags shared by every program: a table of long flags, each with a type, a range
// and a help line. Errors name the flag and say what is allowed ("--num_examples: 'abc' is not a
// whole number (use an integer from 1 to 99999)").
#ifndef LLMC_ARGS_H
#define LLMC_ARGS_H

#include <stdint.h>

typedef enum { ARG_INT, ARG_FLOAT, ARG_STRING, ARG_BOOL } ArgType;

typedef struct {
    const char *name;     // without the leading "--"
    ArgType type;
    void *dest;           // int64_t* (ARG_INT), double* (ARG_FLOAT), const char** (ARG_STRING), int* (ARG_BOOL)
    const char *help;
    double min, max;      // inclusive range for numbers; ignored when min > max
    int was_set;          // filled in by parse_args: 1 if given on the command line
} ArgSpec;

// Parse argv against specs[0..n). Accepts "--name value" and "--name=value"; ARG_BOOL flags take
// no value ("--overwrite") or an explicit "=0/1/true/false". "--help" or "-h" prints usage
// (description, then every flag with its default) and exits 0. Any error dies with one line.
void parse_args(int argc, char **argv, ArgSpec *specs, int n, const char *description);

// Usage text to stdout.
void print_usage(const ArgSpec *specs, int n, const char *description);

// Whether a flag was given explicitly (by name, without "--").
int arg_was_set(const ArgSpec *specs, int n, const char *name);

// Parse a comma-separated list of positive integers ("16,32,64") into out (malloc'd); dies naming
// the flag on a malformed list. Returns the count.
int parse_int_list_or_die(const char *flag, const char *text, int64_t **out, int64_t min, int64_t max);
// Sorts v ascending in place and drops repeats; returns the new count (lists of a few values).
int sort_unique_ints(int *v, int n);

#endif
