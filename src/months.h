/* months.h - calendar months as YYYYMM integers, in Vietnam time.
 *
 * SePay dates carry no zone and are Vietnam time (UTC+7, no daylight
 * saving), so "this month" is the month in UTC+7, whatever the machine's
 * zone. */
#ifndef SEPAYFS_MONTHS_H
#define SEPAYFS_MONTHS_H

#include <stdint.h>
#include <time.h>

#define VN_UTC_OFFSET_S (7 * 3600)

int32_t month_of_time(time_t t);             /* the month t falls in, UTC+7 */
int32_t month_add(int32_t month, int32_t n);  /* n may be negative */
int month_last_day(int32_t month);
/* The month of a "YYYY-MM-DD ..." date, or 0 when it is not one. */
int32_t month_of_date(const char *date);
int32_t month_count(int32_t from, int32_t to); /* inclusive; 0 if to < from */
/* The instant a month starts: 00:00 of its 1st in Vietnam, as a Unix time. */
time_t month_start(int32_t month);

#endif
