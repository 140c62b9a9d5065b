/* months.c - YYYYMM arithmetic. */
#include "months.h"

#include <stdbool.h>

int32_t month_of_time(time_t t)
{
	time_t local = t + VN_UTC_OFFSET_S;
	struct tm tm;
	if (!gmtime_r(&local, &tm))
		return 0;
	return (int32_t)((tm.tm_year + 1900) * 100 + tm.tm_mon + 1);
}

int32_t month_add(int32_t month, int32_t n)
{
	int32_t index = (month / 100) * 12 + (month % 100 - 1) + n;
	return (index / 12) * 100 + index % 12 + 1;
}

int month_last_day(int32_t month)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int year = month / 100, mon = month % 100;
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	return mon == 2 && leap ? 29 : days[mon - 1];
}

int32_t month_of_date(const char *date)
{
	if (!date)
		return 0;
	for (int i = 0; i < 7; i++)
		if (i == 4 ? date[i] != '-' : (date[i] < '0' || date[i] > '9'))
			return 0;
	int32_t year = (date[0] - '0') * 1000 + (date[1] - '0') * 100 + (date[2] - '0') * 10 +
		       (date[3] - '0');
	int32_t mon = (date[5] - '0') * 10 + (date[6] - '0');
	return year >= 1970 && mon >= 1 && mon <= 12 ? year * 100 + mon : 0;
}

int32_t month_count(int32_t from, int32_t to)
{
	int32_t n = ((to / 100) * 12 + to % 100) - ((from / 100) * 12 + from % 100) + 1;
	return n > 0 ? n : 0;
}

time_t month_start(int32_t month)
{
	/* Days from 1970-01-01 to the 1st of the month (civil-from-days
	 * inverted, March-based years), without timegm's time zone state. */
	int64_t y = month / 100, m = month % 100;
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	int64_t days = era * 146097 + doe - 719468;
	return (time_t)(days * 86400 - VN_UTC_OFFSET_S);
}
