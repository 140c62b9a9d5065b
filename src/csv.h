/* csv.h - spreadsheet text: RFC 4180 fields and money as plain decimals.
 *
 * A field is quoted when it holds a comma, a double quote, a CR or a LF
 * (a quote doubled inside), so a transaction's text with any of them comes
 * back as one field.  Records end with CRLF, as RFC 4180 writes them.
 * Text is UTF-8 as the API sent it, with no byte-order mark: grep, cut and
 * csvkit read it as is, and a spreadsheet is told the encoding on import
 * (the README gives the steps).  Nothing is added to a value to keep a
 * spreadsheet from reading it as a number (an account number's leading
 * zeros): what the file holds is the API's value, and the import step
 * that keeps it text is the spreadsheet's. */
#ifndef SEPAYFS_CSV_H
#define SEPAYFS_CSV_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct strbuf;

/* Longest money text csv_money writes: a sign, 40 digits, a point and 2. */
#define CSV_MONEY_MAX 48

/* One field, quoted when it must be. */
void csv_field(struct strbuf *sb, const char *text, size_t len);
/* One field from an API value: a string's text, a number as the API wrote
 * it, true/false, empty for null or a missing value; an object or an array
 * as one compact JSON line.  false when out of memory. */
bool csv_value(struct strbuf *sb, const json_t *v);
/* Money: a number as the API wrote it or a string holding one ("2705000.00",
 * 2705000.0, 2705000, "1.5E+3") as a plain decimal with two places
 * ("2705000.00").  A value with more places than two, beyond zeros, keeps
 * them all (no rounding of money); one that is no number is written as
 * csv_value writes it. */
bool csv_money(struct strbuf *sb, const json_t *v);
/* The decimal text of number text (len bytes) with at least two places;
 * false when it is not a number this can write in CSV_MONEY_MAX bytes. */
bool csv_money_text(const char *text, size_t len, char out[CSV_MONEY_MAX]);
void csv_end_record(struct strbuf *sb);

/* A sum of money, exact to six places (no float ever adds money). */
struct csv_sum {
	__int128 millionths;
	bool bad; /* a value that is no number, or finer than six places */
};
/* Adds a value read as csv_money reads it; null or missing adds nothing. */
void csv_sum_add(struct csv_sum *sum, const json_t *v);
/* The sum as csv_money writes money; false when it is bad. */
bool csv_sum_text(const struct csv_sum *sum, char out[CSV_MONEY_MAX]);

#endif
