/* Accounting rounds: every interval (and soon after a job ends) the jobs whose usage Core has
 * not fully acknowledged are priced from the store's running stretches and reported, one call
 * at a time. */
#include "config.h"

#define G_LOG_DOMAIN "ucv-accounting"

#include "ucv-accountant.h"

#include "engine/ucv-job-log.h"
#include "model/ucv-error.h"
#include "model/ucv-usage.h"
#include "ucloud/ucv-accounting-calls.h"

/* items per call: Core's own providers send at most 500 */
#define UCV_ACCOUNTING_MAX_ITEMS 500

/* One job of the round in progress, priced when the round started. */
typedef struct {
	UcvJobUsage *usage;
	UcvProduct *product;
	gint64 amount; /* report-usage: the absolute usage; charge-credits: whole periods */
} UcvMeteredJob;

struct _UcvAccountant {
	GObject parent_instance;
	UcvStore *store;
	UcvCoreClient *core;
	GPtrArray *products;
	UcvAccountingMode mode;
	guint interval_s;
	GCancellable *cancellable;
	guint tick_source;
	guint kick_source;
	gboolean running;   /* a round is in progress */
	gboolean again;     /* asked for while a round ran: another follows at once */
	gboolean core_away; /* the last call could not reach Core (said once in the log) */
	/* warnings of this round and the one before: one repeated every round is logged once */
	GHashTable *warned_now;
	GHashTable *warned_before;
	GPtrArray *round;   /* UcvMeteredJob of the round in progress */
	guint next;         /* the first job of the round not yet done */
	guint batch_end;    /* report-usage: jobs [next, batch_end) are in flight */
	gint64 last_period; /* charge-credits: the last period in flight */
};

G_DEFINE_TYPE(UcvAccountant, ucv_accountant, G_TYPE_OBJECT)

enum { SIGNAL_WALLET_LOCKED, SIGNAL_ROUND_FINISHED, SIGNAL_LAST };
static guint signals[SIGNAL_LAST] = {0};

static void ucv_accountant_continue(UcvAccountant *self);

gboolean
ucv_accounting_mode_from_string(const gchar *name, UcvAccountingMode *mode)
{
	if (g_strcmp0(name, "report-usage") == 0)
		*mode = UCV_ACCOUNTING_REPORT_USAGE;
	else if (g_strcmp0(name, "charge-credits") == 0)
		*mode = UCV_ACCOUNTING_CHARGE_CREDITS;
	else if (g_strcmp0(name, "none") == 0)
		*mode = UCV_ACCOUNTING_NONE;
	else
		return FALSE;
	return TRUE;
}

static void
ucv_metered_job_free(UcvMeteredJob *metered)
{
	ucv_job_usage_free(metered->usage);
	ucv_product_unref(metered->product);
	g_free(metered);
}

/* A warning about a job (NULL: about accounting as a whole), unless the round before gave the
 * same one: a trouble that lasts (a product gone, Core refusing a report) is said once, not every
 * interval, and said again if it comes back after a round without it. */
static void G_GNUC_PRINTF(3, 4)
	ucv_accountant_warn(UcvAccountant *self, const gchar *job_id, const gchar *format, ...)
{
	g_autofree gchar *text = NULL;
	va_list args;

	va_start(args, format);
	text = g_strdup_vprintf(format, args);
	va_end(args);
	if (!g_hash_table_contains(self->warned_before, text))
		ucv_job_log(G_LOG_LEVEL_WARNING, job_id != NULL ? job_id : "", NULL, "%s", text);
	else
		g_debug("%s", text);
	g_hash_table_add(self->warned_now, g_steal_pointer(&text));
}

/* Prices one job; NULL when its product is gone from the products file (said in the log). */
static UcvMeteredJob *
ucv_accountant_meter(UcvAccountant *self, UcvJobUsage *usage)
{
	UcvProduct *product = ucv_product_list_find(self->products, usage->job->product_id);
	UcvMeteredJob *metered;

	if (product == NULL) {
		ucv_accountant_warn(self, usage->job->id,
				    "job %s: product %s is not in the products file any more: its "
				    "usage cannot be priced",
				    usage->job->id, usage->job->product_id);
		ucv_job_usage_free(usage);
		return NULL;
	}
	metered = g_new0(UcvMeteredJob, 1);
	metered->usage = usage;
	metered->product = ucv_product_ref(product);
	metered->amount = self->mode == UCV_ACCOUNTING_REPORT_USAGE
				  ? ucv_usage_for(product, usage->job->replicas, usage->running_ms)
				  : ucv_usage_whole_periods(product, usage->running_ms);
	return metered;
}

static void
ucv_accountant_finish_round(UcvAccountant *self)
{
	g_clear_pointer(&self->round, g_ptr_array_unref);
	self->running = FALSE;
	g_signal_emit(self, signals[SIGNAL_ROUND_FINISHED], 0);
	if (self->again) {
		self->again = FALSE;
		ucv_accountant_kick(self);
	}
}

static void
ucv_accountant_start_round(UcvAccountant *self)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) usages = NULL;

	if (self->running) {
		self->again = TRUE;
		return;
	}
	usages = ucv_store_list_unsettled_usage(self->store, g_get_real_time() / 1000, &error);
	if (usages == NULL) {
		g_warning("cannot read the usage record: %s", error->message);
		return;
	}
	self->running = TRUE;
	g_hash_table_unref(self->warned_before);
	self->warned_before = g_steal_pointer(&self->warned_now);
	self->warned_now = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	self->round = g_ptr_array_new_with_free_func((GDestroyNotify)ucv_metered_job_free);
	self->next = 0;
	/* the round owns the records from here */
	g_ptr_array_set_free_func(usages, NULL);
	for (guint i = 0; i < usages->len; i++) {
		UcvMeteredJob *metered = ucv_accountant_meter(self, g_ptr_array_index(usages, i));
		if (metered != NULL)
			g_ptr_array_add(self->round, metered);
	}
	ucv_accountant_continue(self);
}

static UcvMeteredJob *
ucv_accountant_round_job(UcvAccountant *self, guint i)
{
	return g_ptr_array_index(self->round, i);
}

/* Core's answer about the wallet behind a job. A locked wallet is remembered (unsuspend is
 * refused while it lasts) and announced while the job has not ended; an open one lifts it. */
static void
ucv_accountant_wallet_answer(UcvAccountant *self, UcvJobUsage *usage, gboolean locked)
{
	g_autoptr(GError) error = NULL;
	const gchar *job_id = usage->job->id;

	if (locked != usage->wallet_locked) {
		if (!ucv_store_set_wallet_locked(self->store, job_id, locked, &error))
			g_warning("job %s: %s", job_id, error->message);
		ucv_job_log(G_LOG_LEVEL_MESSAGE, job_id, NULL,
			    locked ? "job %s: Core says the wallet paying for it is "
				     "locked (insufficient funds)"
				   : "job %s: the wallet paying for it has funds again",
			    job_id);
		usage->wallet_locked = locked;
	}
	if (locked && !ucv_job_state_is_final(usage->state))
		g_signal_emit(self, signals[SIGNAL_WALLET_LOCKED], 0, job_id);
}

static void
ucv_accountant_settle(UcvAccountant *self, UcvJobUsage *usage, gint64 reported,
		      gint64 charged_periods, gboolean settled)
{
	g_autoptr(GError) error = NULL;

	if (!ucv_store_settle_usage(self->store, usage->job->id, reported, charged_periods, settled,
				    &error))
		g_warning("job %s: cannot record acknowledged usage: %s", usage->job->id,
			  error->message);
	usage->reported_usage = MAX(usage->reported_usage, reported);
	usage->charged_periods = MAX(usage->charged_periods, charged_periods);
	/* for the admin: what the job cost, once it is final */
	if (settled && self->mode == UCV_ACCOUNTING_REPORT_USAGE)
		ucv_job_log(G_LOG_LEVEL_MESSAGE, usage->job->id, NULL,
			    "job %s: final usage %" G_GINT64_FORMAT
			    " acknowledged by Core (%" G_GINT64_FORMAT " ms running)",
			    usage->job->id, usage->reported_usage, usage->running_ms);
	else if (settled)
		ucv_job_log(G_LOG_LEVEL_MESSAGE, usage->job->id, NULL,
			    "job %s: all %" G_GINT64_FORMAT
			    " periods charged by Core (%" G_GINT64_FORMAT " ms running)",
			    usage->job->id, usage->charged_periods, usage->running_ms);
}

/* A call failed. Core away ends the round (everything waits for the next one, nothing is lost);
 * a refusal is logged and the round goes on with the next call. */
static gboolean
ucv_accountant_call_failed(UcvAccountant *self, const gchar *call, GError *error)
{
	if (g_error_matches(error, UCV_ERROR, UCV_ERROR_UNAVAILABLE)) {
		if (!self->core_away)
			g_message("Core cannot be reached (%s): usage is reported once it is back",
				  error->message);
		self->core_away = TRUE;
		ucv_accountant_finish_round(self);
		return FALSE;
	}
	ucv_accountant_warn(self, NULL, "Core refused %s: %s; it is sent again in the next round",
			    call, error->message);
	return TRUE;
}

static void
ucv_accountant_core_answered(UcvAccountant *self)
{
	if (self->core_away)
		g_message("Core answers again: reporting usage");
	self->core_away = FALSE;
}

static void
ucv_accountant_reports_answered(GObject *source, GAsyncResult *res, gpointer user_data)
{
	UcvAccountant *self = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) answer =
		ucv_core_client_post_finish(UCV_CORE_CLIENT(source), res, &error);
	guint n = 0;
	g_autofree gboolean *accepted = NULL;

	/* cancelled only in dispose: self may be gone */
	if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return;
	n = self->batch_end - self->next;
	accepted = g_new0(gboolean, n);
	if (error == NULL)
		ucv_usage_reports_parse_answer(answer, n, accepted, &error);
	if (error != NULL && !ucv_accountant_call_failed(self, "reportUsage", error))
		return;
	if (error == NULL) {
		ucv_accountant_core_answered(self);
		for (guint i = 0; i < n; i++) {
			UcvMeteredJob *metered = ucv_accountant_round_job(self, self->next + i);
			/* Core records the usage even for a locked wallet */
			ucv_accountant_settle(self, metered->usage, metered->amount, 0,
					      metered->usage->complete);
			ucv_accountant_wallet_answer(self, metered->usage, !accepted[i]);
		}
	}
	self->next = self->batch_end;
	ucv_accountant_continue(self);
}

static void
ucv_accountant_send_reports(UcvAccountant *self)
{
	g_autoptr(GArray) reports = g_array_new(FALSE, TRUE, sizeof(UcvUsageReport));
	g_autofree gchar *body = NULL;

	self->batch_end = MIN(self->round->len, self->next + UCV_ACCOUNTING_MAX_ITEMS);
	for (guint i = self->next; i < self->batch_end; i++) {
		UcvMeteredJob *metered = ucv_accountant_round_job(self, i);
		UcvJob *job = metered->usage->job;
		UcvUsageReport report = {
			.job_id = job->id,
			.created_by = job->created_by != NULL ? job->created_by : "",
			.project = job->project,
			.category = metered->product->category,
			.provider = metered->product->provider != NULL ? metered->product->provider
								       : job->product_provider,
			.usage = metered->amount,
		};
		g_array_append_val(reports, report);
	}
	body = ucv_usage_reports_to_json((const UcvUsageReport *)reports->data, reports->len);
	ucv_core_client_post_async(self->core, UCV_REPORT_USAGE_PATH, body, self->cancellable,
				   ucv_accountant_reports_answered, self);
}

static void
ucv_accountant_charge_answered(GObject *source, GAsyncResult *res, gpointer user_data)
{
	UcvAccountant *self = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) answer =
		ucv_core_client_post_finish(UCV_CORE_CLIENT(source), res, &error);
	UcvMeteredJob *metered;
	gboolean insufficient = FALSE;

	if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return;
	metered = ucv_accountant_round_job(self, self->next);
	/* older Core answers a charge it cannot make with 402 */
	if (g_error_matches(error, UCV_ERROR, UCV_ERROR_PAYMENT_REQUIRED)) {
		g_clear_error(&error);
		insufficient = TRUE;
	} else if (error == NULL) {
		ucv_credit_charge_parse_answer(answer, metered->usage->job->id, &insufficient,
					       &error);
	}
	if (error != NULL) {
		if (!ucv_accountant_call_failed(self, "chargeCredits", error))
			return;
		/* refused: this job waits for the next round */
		self->next++;
		ucv_accountant_continue(self);
		return;
	}
	ucv_accountant_core_answered(self);
	/* a charge that found no funds is not made: the same periods go again next round */
	if (!insufficient)
		ucv_accountant_settle(self, metered->usage, 0, self->last_period, FALSE);
	ucv_accountant_wallet_answer(self, metered->usage, insufficient);
	if (insufficient)
		self->next++;
	/* otherwise the same job again, until all of its periods are charged (and an ended one is
	 * settled) */
	ucv_accountant_continue(self);
}

/* Sends the next uncharged periods of the current job; FALSE when it has none (then a job
 * that ended is settled on the spot). */
static gboolean
ucv_accountant_send_charge(UcvAccountant *self)
{
	UcvMeteredJob *metered = ucv_accountant_round_job(self, self->next);
	UcvJobUsage *usage = metered->usage;
	UcvCreditCharge charge = {.job_id = usage->job->id, .units = usage->job->replicas};
	g_autofree gchar *body = NULL;

	if (usage->charged_periods >= metered->amount) {
		if (usage->complete)
			ucv_accountant_settle(self, usage, 0, usage->charged_periods, TRUE);
		return FALSE;
	}
	charge.first_period = usage->charged_periods + 1;
	charge.last_period =
		MIN(metered->amount, usage->charged_periods + UCV_ACCOUNTING_MAX_ITEMS);
	self->last_period = charge.last_period;
	body = ucv_credit_charge_to_json(&charge);
	ucv_core_client_post_async(self->core, UCV_CHARGE_CREDITS_PATH, body, self->cancellable,
				   ucv_accountant_charge_answered, self);
	return TRUE;
}

static void
ucv_accountant_continue(UcvAccountant *self)
{
	if (self->mode == UCV_ACCOUNTING_REPORT_USAGE) {
		if (self->next < self->round->len)
			ucv_accountant_send_reports(self);
		else
			ucv_accountant_finish_round(self);
		return;
	}
	for (; self->next < self->round->len; self->next++) {
		if (ucv_accountant_send_charge(self))
			return;
	}
	ucv_accountant_finish_round(self);
}

static gboolean
ucv_accountant_tick(gpointer user_data)
{
	ucv_accountant_start_round(user_data);
	return G_SOURCE_CONTINUE;
}

static gboolean
ucv_accountant_kicked(gpointer user_data)
{
	UcvAccountant *self = user_data;

	self->kick_source = 0;
	ucv_accountant_start_round(self);
	return G_SOURCE_REMOVE;
}

void
ucv_accountant_kick(UcvAccountant *self)
{
	g_return_if_fail(UCV_IS_ACCOUNTANT(self));

	if (self->mode == UCV_ACCOUNTING_NONE || self->kick_source != 0)
		return;
	self->kick_source = g_idle_add(ucv_accountant_kicked, self);
}

void
ucv_accountant_start(UcvAccountant *self)
{
	g_return_if_fail(UCV_IS_ACCOUNTANT(self));

	if (self->mode == UCV_ACCOUNTING_NONE || self->tick_source != 0)
		return;
	self->tick_source = g_timeout_add_seconds(self->interval_s, ucv_accountant_tick, self);
	ucv_accountant_kick(self);
}

UcvAccountant *
ucv_accountant_new(UcvStore *store, UcvCoreClient *core, GPtrArray *products,
		   UcvAccountingMode mode, guint interval_s)
{
	UcvAccountant *self = g_object_new(UCV_TYPE_ACCOUNTANT, NULL);

	self->store = g_object_ref(store);
	self->core = g_object_ref(core);
	self->products = g_ptr_array_ref(products);
	self->mode = mode;
	self->interval_s = MAX(interval_s, 1);
	return self;
}

static void
ucv_accountant_dispose(GObject *object)
{
	UcvAccountant *self = UCV_ACCOUNTANT(object);

	g_cancellable_cancel(self->cancellable);
	g_clear_handle_id(&self->tick_source, g_source_remove);
	g_clear_handle_id(&self->kick_source, g_source_remove);
	g_clear_pointer(&self->round, g_ptr_array_unref);
	g_clear_object(&self->store);
	g_clear_object(&self->core);
	g_clear_pointer(&self->products, g_ptr_array_unref);
	G_OBJECT_CLASS(ucv_accountant_parent_class)->dispose(object);
}

static void
ucv_accountant_finalize(GObject *object)
{
	UcvAccountant *self = UCV_ACCOUNTANT(object);

	g_object_unref(self->cancellable);
	g_hash_table_unref(self->warned_now);
	g_hash_table_unref(self->warned_before);
	G_OBJECT_CLASS(ucv_accountant_parent_class)->finalize(object);
}

static void
ucv_accountant_class_init(UcvAccountantClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->dispose = ucv_accountant_dispose;
	object_class->finalize = ucv_accountant_finalize;
	signals[SIGNAL_WALLET_LOCKED] =
		g_signal_new("wallet-locked", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
			     NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
	signals[SIGNAL_ROUND_FINISHED] =
		g_signal_new("round-finished", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
			     NULL, NULL, G_TYPE_NONE, 0);
}

static void
ucv_accountant_init(UcvAccountant *self)
{
	self->cancellable = g_cancellable_new();
	self->warned_now = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	self->warned_before = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
}
