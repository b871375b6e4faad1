/* gen_maincf.c - writes the main.cf(5) manual page (roff) to standard output from the
 * compiled-in parameter tables (lib/global/params_*.def): the file's syntax, then one
 * section per table with every parameter's name, type, bounds or choices, default and
 * description. Run at build time (man/CMakeLists.txt), so the page never disagrees with
 * `posthorn conf -d`. */
#include "config.h"
#include <stdio.h>
#include <string.h>

/* Text for a roff line: backslashes escaped, and no line taken for a request. */
static void roff_text(const char *s)
{
    if (s[0] == '.' || s[0] == '\'')
        fputs("\\&", stdout);
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\e", stdout);
        else if (*s == '-')
            fputs("\\-", stdout);
        else
            putchar(*s);
    }
}

static void print_values(const struct param_def *p)
{
    fputs(" (", stdout);
    roff_text(param_type_name(p->type));
    if (p->type == PT_ENUM) {
        putchar(' ');
        roff_text(p->choices);
    } else if (p->type == PT_INT || p->type == PT_TIME || p->type == PT_SIZE) {
        printf(", %lld to %lld%s", p->min, p->max,
               p->type == PT_TIME ? " seconds" : p->type == PT_SIZE ? " bytes" : "");
    }
    fputs(")\n", stdout);
}

static void print_param(const struct param_def *p)
{
    fputs(".TP\n\\fB", stdout);
    roff_text(p->name);
    fputs("\\fR = ", stdout);
    if (p->def[0]) {
        fputs("\\fI", stdout);
        roff_text(p->def);
        fputs("\\fR", stdout);
    } else {
        fputs("(empty)", stdout);
    }
    print_values(p);
    roff_text(p->doc);
    putchar('\n');
}

static const char intro[] =
    ".SH NAME\n"
    "main.cf \\- Posthorn configuration parameters\n"
    ".SH SYNOPSIS\n"
    ".I CONFDIR/main.cf\n"
    ".br\n"
    ".B posthorn conf\n"
    "[\\fB\\-n\\fR | \\fB\\-d\\fR] [\\fINAME\\fR ...]\n"
    ".SH DESCRIPTION\n"
    "Posthorn reads its parameters from \\fImain.cf\\fR in the configuration directory\n"
    "(\\fB\\-c\\fR, \\fBPOSTHORN_CONFIG\\fR, else \\fI/etc/posthorn\\fR), with the syntax of\n"
    "Postfix's main.cf:\n"
    ".IP \\(bu 2\n"
    "\\fIname\\fR = \\fIvalue\\fR, one per line; a line that starts with white space\n"
    "continues the one before it; a line whose first non-blank character is \\fB#\\fR is a\n"
    "comment.\n"
    ".IP \\(bu 2\n"
    "\\fB$name\\fR and \\fB${name}\\fR are replaced by the value of that parameter;\n"
    "\\fB$$\\fR is a dollar sign.\n"
    ".IP \\(bu 2\n"
    "Times take the suffixes \\fBs\\fR, \\fBm\\fR, \\fBh\\fR, \\fBd\\fR and \\fBw\\fR\n"
    "(seconds without one); sizes \\fBk\\fR, \\fBm\\fR and \\fBg\\fR (powers of 1024; bytes\n"
    "without one); yes/no values also take true/false and 1/0; lists are separated by commas\n"
    "or white space.\n"
    ".IP \\(bu 2\n"
    "A service in master.cf overrides a parameter for itself with \\fB\\-o\\fR\n"
    "\\fIname\\fR=\\fIvalue\\fR.\n"
    ".PP\n"
    "Unknown names are warned about with file and line; a renamed parameter's old name is\n"
    "still accepted, with a warning naming the new one; a value outside its type or bounds is\n"
    "an error that \\fBposthorn check\\fR reports and that keeps \\fBposthorn start\\fR and\n"
    "\\fBposthorn reload\\fR from going on. \\fBposthorn conf \\-n\\fR shows what main.cf\n"
    "sets, \\fBposthorn conf \\-d\\fR every default, \\fBposthorn conf set\\fR\n"
    "\\fIname\\fR=\\fIvalue\\fR changes the file.\n"
    ".SH PARAMETERS\n"
    "Each entry gives the name, the default (before $name expansion), the type with its\n"
    "bounds or choices, and what the parameter does.\n";

static const char outro[] =
    ".SH FILES\n"
    ".TP\n"
    ".I /etc/posthorn/main.cf\n"
    "The parameters (the configuration directory may be elsewhere, see above).\n"
    ".TP\n"
    ".I /etc/posthorn/master.cf\n"
    "The services master runs (Postfix's service table).\n"
    ".SH SEE ALSO\n"
    ".BR posthorn (8),\n"
    ".BR posthorn\\-master (8),\n"
    ".BR posthorn\\-smtpd (8)\n";

int main(void)
{
    printf(".TH MAIN.CF 5 \"\" \"Posthorn %s\" \"Posthorn Manual\"\n", POSTHORN_VERSION);
    fputs(intro, stdout);
    for (size_t i = 0; i < param_tables_len; i++) {
        const struct param_table *t = &param_tables[i];
        fputs(".SS \"", stdout);
        roff_text(t->name);
        fputs(": ", stdout);
        roff_text(t->title);
        fputs("\"\n", stdout);
        for (size_t j = 0; j < t->len; j++)
            print_param(&t->rows[j]);
    }
    fputs(outro, stdout);
    return ferror(stdout) ? 1 : 0;
}
