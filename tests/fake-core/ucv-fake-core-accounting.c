/* The fake Core's accounting: reportUsage and chargeCredits, checked as Core checks them and
 * recorded per job, with answers that can be held back to model a slow or stuck Core. */
#include "config.h"

#include "ucv-fake-core-private.h"

#include <string.h>

#define UCV_FAKE_CORE_JOB_SCOPE "job-"

typedef struct {
	gint64 newest;   /* newest absolute usage, -1 before the first */
	gint64 highest;  /* highest absolute usage so far, -1 before the first */
	guint reports;   /* items, absolute and delta */
	guint decreases; /* absolute reports lower than an earlier one */
} UcvFakeCoreUsage;

typedef struct {
	gint64 charged; /* units × periods over the accepted chargeIds */
	guint charges;  /* accepted chargeIds */
	guint repeats;  /* chargeIds sent again after they were accepted */
} UcvFakeCoreCharges;

void
ucv_fake_core_accounting_init(UcvFakeCore *self)
{
	self->held = g_ptr_array_new_with_free_func(g_object_unref);
	self->usage = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	self->charges = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	self->charge_ids = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
}

void
ucv_fake_core_accounting_finalize(UcvFakeCore *self)
{
	g_ptr_array_unref(self->held);
	g_hash_table_unref(self->usage);
	g_hash_table_unref(self->charges);
	g_hash_table_unref(self->charge_ids);
}

/* ---- holding answers ---- */

/* Called from a handler, before libsoup sends what it set: pausing there keeps the answer. */
static void
ucv_fake_core_hold_if_stalled(UcvFakeCore *self, SoupServerMessage *msg)
{
	if (!self->accounting_stalled)
		return;
	soup_server_message_pause(msg);
	g_ptr_array_add(self->held, g_object_ref(msg));
}

/* A held message whose connection closed has no I/O left to resume (libsoup refuses to unpause
 * it); one whose client left unnoticed is resumed and libsoup drops it when the write fails. */
static void
ucv_fake_core_release_held(UcvFakeCore *self)
{
	for (guint i = 0; i < self->held->len; i++) {
		SoupServerMessage *msg = g_ptr_array_index(self->held, i);

		if (soup_server_message_get_socket(msg) != NULL)
			soup_server_message_unpause(msg);
	}
	/* libsoup keeps what it still has to send */
	g_ptr_array_set_size(self->held, 0);
}

void
ucv_fake_core_drop_held_accounting(UcvFakeCore *self)
{
	g_ptr_array_set_size(self->held, 0);
}

/* ---- JSON ---- */

static gboolean
ucv_fake_core_nonempty(const gchar *text)
{
	return text != NULL && *text != '\0';
}

static JsonObject *
ucv_fake_core_object_member(JsonObject *obj, const gchar *name)
{
	JsonNode *node = json_object_get_member(obj, name);

	return node != NULL && JSON_NODE_HOLDS_OBJECT(node) ? json_node_get_object(node) : NULL;
}

static gboolean
ucv_fake_core_has_boolean(JsonObject *obj, const gchar *name)
{
	JsonNode *node = json_object_get_member(obj, name);

	return node != NULL && JSON_NODE_HOLDS_VALUE(node) &&
	       json_node_get_value_type(node) == G_TYPE_BOOLEAN;
}

/* json-glib keeps JSON integers as gint64 and numbers with a fraction or exponent as doubles,
 * which Core's int64 fields refuse. */
static gboolean
ucv_fake_core_int_member(JsonObject *obj, const gchar *name, gint64 *value)
{
	JsonNode *node = json_object_get_member(obj, name);

	if (node == NULL || !JSON_NODE_HOLDS_VALUE(node) ||
	    json_node_get_value_type(node) != G_TYPE_INT64)
		return FALSE;
	*value = json_node_get_int(node);
	return TRUE;
}

static void
ucv_fake_core_add_id_object(JsonBuilder *builder, const gchar *id)
{
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "id");
	json_builder_add_string_value(builder, id);
	json_builder_end_object(builder);
}

/* ---- reportUsage ---- */

static const gchar *
ucv_fake_core_check_owner(JsonObject *owner)
{
	const gchar *type = owner != NULL ? ucv_fake_core_string_member(owner, "type") : NULL;

	if (g_strcmp0(type, "user") == 0)
		return ucv_fake_core_nonempty(ucv_fake_core_string_member(owner, "username"))
			       ? NULL
			       : "A user owner needs a username";
	if (g_strcmp0(type, "project") == 0)
		return ucv_fake_core_nonempty(ucv_fake_core_string_member(owner, "projectId"))
			       ? NULL
			       : "A project owner needs a projectId";
	return "owner.type must be \"user\" or \"project\"";
}

/* description and its scope may be null or absent; Core only needs them to be what they say. */
static const gchar *
ucv_fake_core_check_description(JsonObject *item)
{
	JsonNode *node = json_object_get_member(item, "description");
	JsonObject *description;
	JsonNode *scope;

	if (node == NULL || JSON_NODE_HOLDS_NULL(node))
		return NULL;
	if (!JSON_NODE_HOLDS_OBJECT(node))
		return "description must be an object";
	description = json_node_get_object(node);
	scope = json_object_get_member(description, "scope");
	if (scope != NULL && !JSON_NODE_HOLDS_NULL(scope) &&
	    ucv_fake_core_string_member(description, "scope") == NULL)
		return "description.scope must be a string";
	return NULL;
}

/* What Core refuses to read (400) in one UsageReportItem, or NULL. */
static const gchar *
ucv_fake_core_check_usage_item(JsonObject *item)
{
	JsonObject *category;
	const gchar *why;
	gint64 usage = 0;

	if (item == NULL)
		return "item is not an object";
	if (!ucv_fake_core_has_boolean(item, "isDeltaCharge"))
		return "isDeltaCharge must be a boolean";
	why = ucv_fake_core_check_owner(ucv_fake_core_object_member(item, "owner"));
	if (why != NULL)
		return why;
	category = ucv_fake_core_object_member(item, "categoryIdV2");
	if (category == NULL ||
	    !ucv_fake_core_nonempty(ucv_fake_core_string_member(category, "name")) ||
	    !ucv_fake_core_nonempty(ucv_fake_core_string_member(category, "provider")))
		return "categoryIdV2 needs a name and a provider";
	if (!ucv_fake_core_int_member(item, "usage", &usage))
		return "usage must be an integer";
	return ucv_fake_core_check_description(item);
}

/* What Core forbids (403) in a readable item, or NULL. */
static const gchar *
ucv_fake_core_refuse_usage_item(UcvFakeCore *self, JsonObject *item)
{
	JsonObject *category = ucv_fake_core_object_member(item, "categoryIdV2");
	gint64 usage = 0;

	if (g_strcmp0(ucv_fake_core_string_member(category, "provider"), self->provider_id) != 0)
		return "You cannot report usage for this product";
	ucv_fake_core_int_member(item, "usage", &usage);
	if (!json_object_get_boolean_member(item, "isDeltaCharge") && usage < 0)
		return "Absolute usage cannot be negative";
	return NULL;
}

static const gchar *
ucv_fake_core_usage_scope(JsonObject *item)
{
	JsonObject *description = ucv_fake_core_object_member(item, "description");

	return description != NULL ? ucv_fake_core_string_member(description, "scope") : NULL;
}

static UcvFakeCoreUsage *
ucv_fake_core_usage_entry(UcvFakeCore *self, const gchar *key)
{
	UcvFakeCoreUsage *entry = g_hash_table_lookup(self->usage, key);

	if (entry == NULL) {
		entry = g_new0(UcvFakeCoreUsage, 1);
		entry->newest = -1;
		entry->highest = -1;
		g_hash_table_insert(self->usage, g_strdup(key), entry);
	}
	return entry;
}

/* "job-<id>" scopes name jobs and are kept under the id; other scopes under their full name.
 * An item without a scope is charged by Core but cannot be told apart here. */
static void
ucv_fake_core_record_usage(UcvFakeCore *self, JsonObject *item)
{
	const gchar *scope = ucv_fake_core_usage_scope(item);
	UcvFakeCoreUsage *entry;
	gint64 usage = 0;

	if (scope == NULL)
		return;
	if (g_str_has_prefix(scope, UCV_FAKE_CORE_JOB_SCOPE))
		scope += strlen(UCV_FAKE_CORE_JOB_SCOPE);
	entry = ucv_fake_core_usage_entry(self, scope);
	entry->reports++;
	/* a delta adds to the wallet and says nothing about the job's total */
	if (json_object_get_boolean_member(item, "isDeltaCharge"))
		return;
	ucv_fake_core_int_member(item, "usage", &usage);
	/* an absolute report is the job's total so far, which can only grow */
	if (usage < entry->highest)
		entry->decreases++;
	entry->newest = usage;
	entry->highest = MAX(entry->highest, usage);
}

/* Core reads the whole call before acting, then handles its items one by one: a forbidden item
 * ends the call, and the items before it stay applied. */
static void
ucv_fake_core_answer_report_usage(UcvFakeCore *self, SoupServerMessage *msg, JsonNode *body)
{
	JsonArray *items = ucv_fake_core_items(body);
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autoptr(JsonNode) reply = NULL;

	if (items == NULL) {
		ucv_fake_core_reply_error(msg, SOUP_STATUS_BAD_REQUEST, "Bad request");
		return;
	}
	for (guint i = 0; i < json_array_get_length(items); i++) {
		const gchar *why =
			ucv_fake_core_check_usage_item(ucv_fake_core_object_element(items, i));

		if (why != NULL) {
			ucv_fake_core_reply_error(msg, SOUP_STATUS_BAD_REQUEST, why);
			return;
		}
	}

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "responses");
	json_builder_begin_array(builder);
	for (guint i = 0; i < json_array_get_length(items); i++) {
		JsonObject *item = ucv_fake_core_object_element(items, i);
		const gchar *why = ucv_fake_core_refuse_usage_item(self, item);

		if (why != NULL) {
			ucv_fake_core_reply_error(msg, SOUP_STATUS_FORBIDDEN, why);
			return;
		}
		/* a locked wallet still takes the usage; `false` only says it is over its quota */
		ucv_fake_core_record_usage(self, item);
		json_builder_add_boolean_value(builder, !self->wallet_locked);
	}
	json_builder_end_array(builder);
	json_builder_end_object(builder);
	reply = json_builder_get_root(builder);
	ucv_fake_core_reply_node(msg, SOUP_STATUS_OK, reply);
}

void
ucv_fake_core_handle_report_usage(UcvFakeCore *self, SoupServerMessage *msg, GHashTable *query,
				  JsonNode *body)
{
	self->usage_calls++;
	ucv_fake_core_answer_report_usage(self, msg, body);
	ucv_fake_core_hold_if_stalled(self, msg);
}

/* ---- chargeCredits ---- */

/* What Core refuses (400) in one {id, chargeId, units, periods}, or NULL. */
static const gchar *
ucv_fake_core_check_charge_item(JsonObject *item)
{
	gint64 units = 0;
	gint64 periods = 0;

	if (item == NULL)
		return "item is not an object";
	if (!ucv_fake_core_nonempty(ucv_fake_core_string_member(item, "id")))
		return "item has no id";
	if (!ucv_fake_core_nonempty(ucv_fake_core_string_member(item, "chargeId")))
		return "item has no chargeId";
	if (!ucv_fake_core_int_member(item, "units", &units) || units < 1)
		return "units must be a positive integer";
	if (!ucv_fake_core_int_member(item, "periods", &periods) || periods < 1)
		return "periods must be a positive integer";
	return NULL;
}

static UcvFakeCoreCharges *
ucv_fake_core_charges_entry(UcvFakeCore *self, const gchar *job_id)
{
	UcvFakeCoreCharges *entry = g_hash_table_lookup(self->charges, job_id);

	if (entry == NULL) {
		entry = g_new0(UcvFakeCoreCharges, 1);
		g_hash_table_insert(self->charges, g_strdup(job_id), entry);
	}
	return entry;
}

/* Both factors are at least 1; a product past G_MAXINT64 is kept at G_MAXINT64. */
static gint64
ucv_fake_core_saturating_add_product(gint64 sum, gint64 units, gint64 periods)
{
	gint64 product = units > G_MAXINT64 / periods ? G_MAXINT64 : units * periods;

	return sum > G_MAXINT64 - product ? G_MAXINT64 : sum + product;
}

/* A chargeId is charged once: sent again it is a duplicate, whatever the wallet holds now. */
static void
ucv_fake_core_apply_charge(UcvFakeCore *self, JsonObject *item, JsonBuilder *insufficient,
			   JsonBuilder *duplicates)
{
	const gchar *id = ucv_fake_core_string_member(item, "id");
	const gchar *charge_id = ucv_fake_core_string_member(item, "chargeId");
	UcvFakeCoreCharges *entry = ucv_fake_core_charges_entry(self, id);
	gint64 units = 0;
	gint64 periods = 0;

	if (g_hash_table_contains(self->charge_ids, charge_id)) {
		entry->repeats++;
		ucv_fake_core_add_id_object(duplicates, id);
		return;
	}
	if (self->wallet_locked) {
		ucv_fake_core_add_id_object(insufficient, id);
		return;
	}
	ucv_fake_core_int_member(item, "units", &units);
	ucv_fake_core_int_member(item, "periods", &periods);
	g_hash_table_add(self->charge_ids, g_strdup(charge_id));
	entry->charges++;
	entry->charged = ucv_fake_core_saturating_add_product(entry->charged, units, periods);
}

static void
ucv_fake_core_answer_charge_credits(UcvFakeCore *self, SoupServerMessage *msg, JsonNode *body)
{
	JsonArray *items = ucv_fake_core_items(body);
	g_autoptr(JsonBuilder) insufficient = json_builder_new();
	g_autoptr(JsonBuilder) duplicates = json_builder_new();
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autoptr(JsonNode) reply = NULL;

	if (items == NULL) {
		ucv_fake_core_reply_error(msg, SOUP_STATUS_BAD_REQUEST, "Bad request");
		return;
	}
	for (guint i = 0; i < json_array_get_length(items); i++) {
		const gchar *why =
			ucv_fake_core_check_charge_item(ucv_fake_core_object_element(items, i));

		if (why != NULL) {
			ucv_fake_core_reply_error(msg, SOUP_STATUS_BAD_REQUEST, why);
			return;
		}
	}
	if (self->wallet_locked && self->charge_402) {
		ucv_fake_core_reply_error(msg, SOUP_STATUS_PAYMENT_REQUIRED, "Insufficient funds");
		return;
	}

	json_builder_begin_array(insufficient);
	json_builder_begin_array(duplicates);
	for (guint i = 0; i < json_array_get_length(items); i++)
		ucv_fake_core_apply_charge(self, ucv_fake_core_object_element(items, i),
					   insufficient, duplicates);
	json_builder_end_array(insufficient);
	json_builder_end_array(duplicates);

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "insufficientFunds");
	json_builder_add_value(builder, json_builder_get_root(insufficient));
	json_builder_set_member_name(builder, "duplicateCharges");
	json_builder_add_value(builder, json_builder_get_root(duplicates));
	json_builder_end_object(builder);
	reply = json_builder_get_root(builder);
	ucv_fake_core_reply_node(msg, SOUP_STATUS_OK, reply);
}

void
ucv_fake_core_handle_charge_credits(UcvFakeCore *self, SoupServerMessage *msg, GHashTable *query,
				    JsonNode *body)
{
	self->usage_calls++;
	ucv_fake_core_answer_charge_credits(self, msg, body);
	ucv_fake_core_hold_if_stalled(self, msg);
}

/* ---- knobs and records ---- */

void
ucv_fake_core_set_wallet_locked(UcvFakeCore *self, gboolean locked)
{
	g_return_if_fail(UCV_IS_FAKE_CORE(self));
	self->wallet_locked = locked;
}

void
ucv_fake_core_set_charge_402(UcvFakeCore *self, gboolean use_402)
{
	g_return_if_fail(UCV_IS_FAKE_CORE(self));
	self->charge_402 = use_402;
}

void
ucv_fake_core_set_accounting_stalled(UcvFakeCore *self, gboolean stalled)
{
	g_return_if_fail(UCV_IS_FAKE_CORE(self));
	self->accounting_stalled = stalled;
	if (!stalled)
		ucv_fake_core_release_held(self);
}

guint
ucv_fake_core_get_held_accounting_calls(UcvFakeCore *self)
{
	g_return_val_if_fail(UCV_IS_FAKE_CORE(self), 0);
	return self->held->len;
}

static const UcvFakeCoreUsage *
ucv_fake_core_lookup_usage(UcvFakeCore *self, const gchar *job_id)
{
	return job_id != NULL ? g_hash_table_lookup(self->usage, job_id) : NULL;
}

gint64
ucv_fake_core_get_reported_usage(UcvFakeCore *self, const gchar *job_id)
{
	const UcvFakeCoreUsage *usage;

	g_return_val_if_fail(UCV_IS_FAKE_CORE(self), -1);
	usage = ucv_fake_core_lookup_usage(self, job_id);
	return usage != NULL ? usage->newest : -1;
}

guint
ucv_fake_core_get_usage_reports(UcvFakeCore *self, const gchar *job_id)
{
	const UcvFakeCoreUsage *usage;

	g_return_val_if_fail(UCV_IS_FAKE_CORE(self), 0);
	usage = ucv_fake_core_lookup_usage(self, job_id);
	return usage != NULL ? usage->reports : 0;
}

guint
ucv_fake_core_get_usage_decreases(UcvFakeCore *self, const gchar *job_id)
{
	const UcvFakeCoreUsage *usage;

	g_return_val_if_fail(UCV_IS_FAKE_CORE(self), 0);
	usage = ucv_fake_core_lookup_usage(self, job_id);
	return usage != NULL ? usage->decreases : 0;
}

static const UcvFakeCoreCharges *
ucv_fake_core_lookup_charges(UcvFakeCore *self, const gchar *job_id)
{
	return job_id != NULL ? g_hash_table_lookup(self->charges, job_id) : NULL;
}

gint64
ucv_fake_core_get_charged(UcvFakeCore *self, const gchar *job_id)
{
	const UcvFakeCoreCharges *charges;

	g_return_val_if_fail(UCV_IS_FAKE_CORE(self), 0);
	charges = ucv_fake_core_lookup_charges(self, job_id);
	return charges != NULL ? charges->charged : 0;
}

guint
ucv_fake_core_get_charges(UcvFakeCore *self, const gchar *job_id)
{
	const UcvFakeCoreCharges *charges;

	g_return_val_if_fail(UCV_IS_FAKE_CORE(self), 0);
	charges = ucv_fake_core_lookup_charges(self, job_id);
	return charges != NULL ? charges->charges : 0;
}

guint
ucv_fake_core_get_repeated_charges(UcvFakeCore *self, const gchar *job_id)
{
	const UcvFakeCoreCharges *charges;

	g_return_val_if_fail(UCV_IS_FAKE_CORE(self), 0);
	charges = ucv_fake_core_lookup_charges(self, job_id);
	return charges != NULL ? charges->repeats : 0;
}

guint
ucv_fake_core_get_usage_calls(UcvFakeCore *self)
{
	g_return_val_if_fail(UCV_IS_FAKE_CORE(self), 0);
	return self->usage_calls;
}
