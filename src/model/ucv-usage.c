/* The usage formula, in exact integers: reports must be repeatable and never drift. */
#include "config.h"

#include "ucv-usage.h"

/* price × machines reaches 2^95 and a started period's share of it 2^122: 128 bits hold both */
__extension__ typedef unsigned __int128 UcvUsageWide;

gint64
ucv_usage_whole_periods(const UcvProduct *product, gint64 running_ms)
{
	g_return_val_if_fail(product != NULL, 0);

	if (running_ms <= 0)
		return 0;
	if (product->period_ms <= 0)
		return 1;
	return running_ms / product->period_ms;
}

static gint64
ucv_usage_clamp(UcvUsageWide value)
{
	return value > (UcvUsageWide)G_MAXINT64 ? G_MAXINT64 : (gint64)value;
}

gint64
ucv_usage_for(const UcvProduct *product, guint replicas, gint64 running_ms)
{
	UcvUsageWide rate, whole, started;

	g_return_val_if_fail(product != NULL, 0);

	if (running_ms <= 0 || product->price <= 0)
		return 0;
	rate = (UcvUsageWide)product->price * replicas;
	if (product->period_ms <= 0)
		return ucv_usage_clamp(rate);
	whole = (UcvUsageWide)(running_ms / product->period_ms);
	/* a whole period at a rate past the range is past it too */
	if (whole > 0 && rate > (UcvUsageWide)G_MAXINT64)
		return G_MAXINT64;
	started = (UcvUsageWide)(running_ms % product->period_ms) * rate /
		  (UcvUsageWide)product->period_ms;
	return ucv_usage_clamp(whole * rate + started);
}
