/* UCloud's two accounting calls: reportUsage (current Core: absolute usage per scope) and
 * chargeCredits (documented: one charge per period, identified so a repeat is harmless). */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define UCV_REPORT_USAGE_PATH   "/api/accounting/v2/reportUsage"
#define UCV_CHARGE_CREDITS_PATH "/api/jobs/control/chargeCredits"

/* One job's absolute usage so far, in its product's accounting units. */
typedef struct {
	const gchar *job_id;
	const gchar *created_by; /* the job's owner.createdBy */
	const gchar *project;    /* the job's project; NULL for a personal workspace */
	const gchar *category;   /* the product's category name */
	const gchar *provider;   /* the product's provider id */
	gint64 usage;
} UcvUsageReport;

/* {"items":[…]} with the scope "job-<id>" for each report. */
gchar *ucv_usage_reports_to_json(const UcvUsageReport *reports, guint n_reports);
/* Reads {"responses":[bool…]}: accepted[i] FALSE means the wallet behind report i is locked.
 * Fails unless there is exactly one boolean per report. */
gboolean ucv_usage_reports_parse_answer(JsonNode *answer, guint n_reports, gboolean *accepted,
					GError **error);

/* The periods first..last (counted from 1) of one job, one charge item each. */
typedef struct {
	const gchar *job_id;
	gint64 first_period;
	gint64 last_period;
	guint units; /* the job's machines */
} UcvCreditCharge;

/* "job-<id>-period-<n>": the same period always has the same id, so Core charges it once. */
gchar *ucv_credit_charge_id(const gchar *job_id, gint64 period);
gchar *ucv_credit_charge_to_json(const UcvCreditCharge *charge);
/* Reads {"insufficientFunds":[{"id"}…],"duplicateCharges":[…]}: *insufficient when the job is
 * listed as having insufficient funds (duplicates were charged before: they count as done). */
gboolean ucv_credit_charge_parse_answer(JsonNode *answer, const gchar *job_id,
					gboolean *insufficient, GError **error);

G_END_DECLS
