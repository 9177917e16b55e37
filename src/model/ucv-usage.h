/* What a job's running time costs, in its product's accounting units (UCloud's "usage"). */
#pragma once

#include <glib.h>

#include "ucv-product.h"

G_BEGIN_DECLS

/* price × replicas × running time in the product's periods, rounded down: a part of a unit is
 * never charged. A ONCE product costs price × replicas as soon as the job has run at all.
 * Saturates at G_MAXINT64; negative times count as none. */
gint64 ucv_usage_for(const UcvProduct *product, guint replicas, gint64 running_ms);

/* The whole periods in `running_ms` (what charge-credits charges, one chargeId each); a ONCE
 * product has one period once the job has run. */
gint64 ucv_usage_whole_periods(const UcvProduct *product, gint64 running_ms);

G_END_DECLS
