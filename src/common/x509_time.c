/*
 * x509_time.c: UTCTime and GeneralizedTime of a certificate's validity as
 * time_t, and time_t as RFC 3339 (x509.h).  Hand-written: timegm() and
 * strptime() depend on the C library's time zone and locale state, and
 * dates past 2038 or before 1970 must read the same on every platform.
 */
#include <stdio.h>
#include <string.h>

#include "pqtls/x509_parts.h"

/* ---------------------------------------------------------------------
 * Time
 * ---------------------------------------------------------------------
 */

static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t		q = a / b;

	return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static bool
is_leap_year(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
days_in_month(int64_t y, int m)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return m == 2 && is_leap_year(y) ? 29 : days[m - 1];
}

/* Leap years among 1..y of the proleptic Gregorian calendar (negative below 1). */
static int64_t
leap_years_through(int64_t y)
{
	return floor_div(y, 4) - floor_div(y, 100) + floor_div(y, 400);
}

/* Days from 1970-01-01 to y-m-d: timegm() without the TZ environment. */
static int64_t
days_from_epoch(int64_t y, int m, int d)
{
	static const int before[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
	int64_t		days;

	days = 365 * (y - 1970) + leap_years_through(y - 1) - leap_years_through(1969);
	days += before[m - 1] + (m > 2 && is_leap_year(y)) + d - 1;
	return days;
}

static bool
read_digits(const uint8_t *s, size_t n, int *out)
{
	int			v = 0;

	for (size_t i = 0; i < n; i++)
	{
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

/*
 * A Time of RFC 5280 (4.1.2.5): UTCTime "YYMMDDHHMMSSZ", years 1950-2049,
 * or GeneralizedTime "YYYYMMDDHHMMSSZ".  Nothing else is DER for a
 * certificate: no fractions, no offsets, seconds always present.
 */
int
x509_parse_time(const der_item *it, time_t *out)
{
	const uint8_t *s = it->val;
	size_t		ylen;
	int			year, mon, day, hour, min, sec;

	if (it->tag == TAG_UTCTIME && it->len == 13)
		ylen = 2;
	else if (it->tag == TAG_GENERALIZEDTIME && it->len == 15)
		ylen = 4;
	else
		return -1;
	if (s[it->len - 1] != 'Z' ||
		!read_digits(s, ylen, &year) ||
		!read_digits(s + ylen, 2, &mon) ||
		!read_digits(s + ylen + 2, 2, &day) ||
		!read_digits(s + ylen + 4, 2, &hour) ||
		!read_digits(s + ylen + 6, 2, &min) ||
		!read_digits(s + ylen + 8, 2, &sec))
		return -1;
	if (ylen == 2)
		year += year < 50 ? 2000 : 1900;
	if (mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon) ||
		hour > 23 || min > 59 || sec > 59)
		return -1;

	*out = (time_t) (days_from_epoch(year, mon, day) * 86400 +
					 hour * 3600 + min * 60 + sec);
	return 0;
}

static void
put_decimal(char *out, int v, int width)
{
	for (int i = width - 1; i >= 0; i--)
	{
		out[i] = (char) ('0' + v % 10);
		v /= 10;
	}
}

void
x509_format_time(time_t t, char out[21])
{
	int64_t		lo = days_from_epoch(0, 1, 1) * 86400;
	int64_t		hi = days_from_epoch(9999, 12, 31) * 86400 + 86399;
	int64_t		secs = (int64_t) t;
	int64_t		days;
	int64_t		rem;
	int64_t		year;
	int			mon = 1;

	/* Four digits of year is all the format has room for. */
	if (secs < lo)
		secs = lo;
	if (secs > hi)
		secs = hi;
	days = floor_div(secs, 86400);
	rem = secs - days * 86400;

	/* Estimate the year, then correct the estimate by whole years. */
	year = 1970 + floor_div(days * 400, 146097);
	while (days_from_epoch(year, 1, 1) > days)
		year--;
	while (days_from_epoch(year + 1, 1, 1) <= days)
		year++;
	days -= days_from_epoch(year, 1, 1);
	while (days >= days_in_month(year, mon))
	{
		days -= days_in_month(year, mon);
		mon++;
	}

	put_decimal(out, (int) year, 4);
	out[4] = '-';
	put_decimal(out + 5, mon, 2);
	out[7] = '-';
	put_decimal(out + 8, (int) days + 1, 2);
	out[10] = 'T';
	put_decimal(out + 11, (int) (rem / 3600), 2);
	out[13] = ':';
	put_decimal(out + 14, (int) (rem / 60 % 60), 2);
	out[16] = ':';
	put_decimal(out + 17, (int) (rem % 60), 2);
	out[19] = 'Z';
	out[20] = '\0';
}

