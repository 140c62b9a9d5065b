/* names.h - which file names can exist in the tree, decided without a request.
 *
 * Ids are canonical decimal: positive, no sign, no leading zero, fitting a
 * signed 64-bit integer.  Anything else ("foo", ".git", "007", "-5") cannot
 * name an account, so it is ENOENT before any network traffic. */
#ifndef SEPAYFS_NAMES_H
#define SEPAYFS_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest canonical id (INT64_MAX has 19 digits) plus ".json" and a NUL. */
#define NAME_MAX_ID_FILE 32

bool name_parse_id(const char *name, int64_t *id);
/* "<id>.json" as used for sub-account files. */
bool name_parse_id_file(const char *name, int64_t *id);
/* Writes the canonical name of an id (and ".json" when as_file). */
void name_format_id(char buf[NAME_MAX_ID_FILE], int64_t id, bool as_file);

/* "YYYY-MM.jsonl" as used for transaction months: *month = YYYY*100+MM. */
bool name_parse_month_file(const char *name, int32_t *month);
void name_format_month_file(char buf[NAME_MAX_ID_FILE], int32_t month);
/* "YYYY-MM.csv", the same month as CSV (-o csv). */
bool name_parse_month_csv(const char *name, int32_t *month);
void name_format_month_csv(char buf[NAME_MAX_ID_FILE], int32_t month);

#endif
