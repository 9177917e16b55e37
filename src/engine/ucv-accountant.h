/* Reports what each job used to Core, exactly once in effect: absolute usage (report-usage) or
 * one charge per period with a fixed id (charge-credits), from the store's durable record, so a
 * crash, a restart or a Core outage only delays a report. */
#pragma once

#include <gio/gio.h>

#include "engine/ucv-store.h"
#include "ucloud/ucv-core-client.h"

G_BEGIN_DECLS

typedef enum {
	UCV_ACCOUNTING_NONE,
	UCV_ACCOUNTING_REPORT_USAGE,
	UCV_ACCOUNTING_CHARGE_CREDITS,
} UcvAccountingMode;

/* The config's [ucloud] accounting: report-usage, charge-credits or none. */
gboolean ucv_accounting_mode_from_string(const gchar *name, UcvAccountingMode *mode);

#define UCV_TYPE_ACCOUNTANT (ucv_accountant_get_type())
G_DECLARE_FINAL_TYPE(UcvAccountant, ucv_accountant, UCV, ACCOUNTANT, GObject)

/* `products` (UcvProduct) price the jobs; reports go out every `interval_s` seconds. */
UcvAccountant *ucv_accountant_new(UcvStore *store, UcvCoreClient *core, GPtrArray *products,
				  UcvAccountingMode mode, guint interval_s);
/* Reports now (what the record holds since the last run) and then every interval. */
void ucv_accountant_start(UcvAccountant *self);
/* Reports soon, e.g. because a job ended: its final usage goes out without waiting. */
void ucv_accountant_kick(UcvAccountant *self);

/* Signals:
 * "wallet-locked" (const gchar *job_id): Core says the wallet paying for the job, which has not
 *   ended, is locked (a report answered false, insufficientFunds or 402); emitted for every
 *   such answer, so the engine may act again after a restart.
 * "round-finished" (): a round of reports is over, whatever came of it (tests). */

G_END_DECLS
