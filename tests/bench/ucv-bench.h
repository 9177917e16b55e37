/* Small statistics shared by the benchmarks. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The p-quantile (0…1) of an array of gdouble, nearest rank; sorts the array. */
gdouble ucv_bench_percentile(GArray *values, gdouble p);
gdouble ucv_bench_seconds_since(gint64 start_us);

G_END_DECLS
