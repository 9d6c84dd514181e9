#include "args.h"
#include "utils.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

// 1: a whole number in *out; 0: not a whole number; -1: a whole number too large for int64, so
// that the error can say "out of range" rather than "not a number".
static int parse_int64(const char *s, int64_t *out) {
    if (!*s) return 0;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end) {
        // allow scientific notation for big counts written like 1e6, when it is integral
        char *end2;
        double d = strtod(s, &end2);
        if (*end2 || isnan(d)) return 0;
        if (isinf(d) || fabs(d) > 9.2e18) return -1;
        if (d != floor(d)) return 0;
        v = (long long)d;
    }
    *out = v;
    return 1;
}

static int parse_double(const char *s, double *out) {
    if (!*s) return 0;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v)) return 0;
    *out = v;
    return 1;
}

static void range_text(const ArgSpec *a, char *buf, size_t n) {
    if (a->min > a->max) { buf[0] = '\0'; return; }
    if (a->type == ARG_INT) snprintf(buf, n, " from %.0f to %.0f", a->min, a->max);
    else snprintf(buf, n, " from %g to %g", a->min, a->max);
}

static void set_value(ArgSpec *a, const char *value) {
    char range[96];
    range_text(a, range, sizeof range);
    switch (a->type) {
    case ARG_INT: {
        int64_t v;
        int parsed = parse_int64(value, &v);
        if (parsed < 0) die("--%s: '%s' is out of range (use an integer%s)", a->name, value, range);
        if (!parsed) die("--%s: '%s' is not a whole number (use an integer%s)", a->name, value, range);
        if (a->min <= a->max && (v < a->min || v > a->max))
            die("--%s: %lld is out of range (use an integer%s)", a->name, (long long)v, range);
        *(int64_t *)a->dest = v;
        break;
    }
    case ARG_FLOAT: {
        double v;
        if (!parse_double(value, &v)) die("--%s: '%s' is not a number (use a number%s)", a->name, value, range);
        if (a->min <= a->max && (v < a->min || v > a->max))
            die("--%s: %g is out of range (use a number%s)", a->name, v, range);
        *(double *)a->dest = v;
        break;
    }
    case ARG_STRING:
        if (!*value) die("--%s: the value is empty (give a value, see --help)", a->name);
        *(const char **)a->dest = value;
        break;
    case ARG_BOOL:
        if (!strcmp(value, "1") || !strcmp(value, "true") || !strcmp(value, "yes")) *(int *)a->dest = 1;
        else if (!strcmp(value, "0") || !strcmp(value, "false") || !strcmp(value, "no")) *(int *)a->dest = 0;
        else die("--%s: '%s' is not a yes/no value (use --%s, --%s=1 or --%s=0)", a->name, value, a->name, a->name, a->name);
        break;
    }
    a->was_set = 1;
}

void print_usage(const ArgSpec *specs, int n, const char *description) {
    printf("usage: %s [flags]\n\n%s\n\nflags:\n", program_name(), description);
    for (int i = 0; i < n; i++) {
        const ArgSpec *a = &specs[i];
        char def[160] = "";
        switch (a->type) {
        case ARG_INT: snprintf(def, sizeof def, "%lld", (long long)*(int64_t *)a->dest); break;
        case ARG_FLOAT: snprintf(def, sizeof def, "%g", *(double *)a->dest); break;
        case ARG_STRING: {
            const char *s = *(const char **)a->dest;
            snprintf(def, sizeof def, "%s", s ? s : "(none)");
            break;
        }
        case ARG_BOOL: snprintf(def, sizeof def, "%s", *(int *)a->dest ? "on" : "off"); break;
        }
        const char *meta = a->type == ARG_INT ? " N" : a->type == ARG_FLOAT ? " X" : a->type == ARG_STRING ? " S" : "";
        printf("  --%s%s\n      %s (default: %s)\n", a->name, meta, a->help, def);
    }
}

void parse_args(int argc, char **argv, ArgSpec *specs, int n, const char *description) {
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            print_usage(specs, n, description);
            exit(0);
        }
        if (strncmp(arg, "--", 2) != 0)
            die("unexpected argument '%s' (flags look like --name value; see --help)", arg);
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
        ArgSpec *spec = NULL;
        for (int k = 0; k < n; k++) {
            if (strlen(specs[k].name) == name_len && !strncmp(specs[k].name, name, name_len)) { spec = &specs[k]; break; }
        }
        if (!spec) die("unknown flag '--%.*s' (see --help for the list of flags)", (int)name_len, name);
        const char *value;
        if (eq) value = eq + 1;
        else if (spec->type == ARG_BOOL) value = "1";
        else {
            if (i + 1 >= argc) die("--%s needs a value (see --help)", spec->name);
            value = argv[++i];
        }
        set_value(spec, value);
    }
}

int arg_was_set(const ArgSpec *specs, int n, const char *name) {
    for (int i = 0; i < n; i++) if (!strcmp(specs[i].name, name)) return specs[i].was_set;
    return 0;
}

int parse_int_list_or_die(const char *flag, const char *text, int64_t **out, int64_t min, int64_t max) {
    int count = 0, cap = 8;
    int64_t *vals = malloc_or_die(cap * sizeof(int64_t));
    const char *p = text;
    if (!*p) die("--%s: the list is empty (use comma-separated integers, e.g. 16,32,64)", flag);
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char item[64];
        if (len == 0 || len >= sizeof item)
            die("--%s: malformed list '%s' (use comma-separated integers, e.g. 16,32,64)", flag, text);
        memcpy(item, p, len);
        item[len] = '\0';
        int64_t v;
        int parsed = parse_int64(item, &v);
        if (!parsed)
            die("--%s: '%s' in '%s' is not a whole number (use comma-separated integers, e.g. 16,32,64)", flag, item, text);
        if (parsed < 0)
            die("--%s: '%s' is out of range (each value must be from %lld to %lld)", flag, item, (long long)min, (long long)max);
        if (v < min || v > max)
            die("--%s: %lld is out of range (each value must be from %lld to %lld)", flag, (long long)v, (long long)min, (long long)max);
        if (count == cap) { cap *= 2; vals = realloc_or_die(vals, cap * sizeof(int64_t)); }
        vals[count++] = v;
        if (!comma) break;
        p = comma + 1;
        if (!*p) die("--%s: malformed list '%s' (trailing comma)", flag, text);
    }
    *out = vals;
    return count;
}

int sort_unique_ints(int *v, int n) {
    for (int i = 1; i < n; i++)  // insertion sort
        for (int j = i; j > 0 && v[j] < v[j - 1]; j--) { int t = v[j]; v[j] = v[j - 1]; v[j - 1] = t; }
    int kept = 0;
    for (int i = 0; i < n; i++)
        if (kept == 0 || v[i] != v[kept - 1]) v[kept++] = v[i];
    return kept;
}
