/* Small statistics shared by the benchmarks. */
#include "config.h"

#include "ucv-bench.h"

static gint
compare_doubles(gconstpointer a, gconstpointer b)
{
	gdouble x = *(const gdouble *)a;
	gdouble y = *(const gdouble *)b;

	return (x > y) - (x < y);
}

gdouble
ucv_bench_percentile(GArray *values, gdouble p)
{
	guint index;

	g_array_sort(values, compare_doubles);
	index = (guint)(p * (values->len - 1) + 0.5);
	return g_array_index(values, gdouble, index);
}

gdouble
ucv_bench_seconds_since(gint64 start_us)
{
	return (g_get_monotonic_time() - start_us) / (gdouble)G_USEC_PER_SEC;
}
