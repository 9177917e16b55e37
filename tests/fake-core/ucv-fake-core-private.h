/* What the fake Core's source files share: its instance and the small HTTP and JSON helpers. */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "ucv-fake-core.h"

G_BEGIN_DECLS

struct _UcvFakeCore {
	GObject parent_instance;
	gchar *state_dir;
	UcvTestSigner *signer;
	gchar *refresh_token;
	gchar *provider_id;
	gint64 token_lifetime_s;
	GHashTable *access_tokens; /* token -> gint64 expiry (Unix seconds) */

	SoupServer *server;
	GPtrArray *connections; /* GSocket of every accepted request, closed when going down */
	guint port;
	gchar *url;
	gboolean down;

	GPtrArray *updates; /* UcvFakeCoreUpdate */
	guint sequence;
	GHashTable *forgotten_jobs;
	guint fail_status;
	guint fail_count;
	guint refresh_count;
	guint update_calls;

	GPtrArray *ssh_keys; /* JsonNode */
	GHashTable *jobs;    /* job id -> Job JSON */

	/* accounting, owned by ucv-fake-core-accounting.c */
	gboolean wallet_locked;
	gboolean charge_402;
	gboolean accounting_stalled;
	GPtrArray *held;        /* SoupServerMessage (paused) whose answers wait for un-stalling */
	GHashTable *usage;      /* scope without "job-" -> UcvFakeCoreUsage */
	GHashTable *charges;    /* job id -> UcvFakeCoreCharges */
	GHashTable *charge_ids; /* set of the chargeIds accepted so far */
	guint usage_calls;
};

typedef void (*UcvFakeCoreHandler)(UcvFakeCore *self, SoupServerMessage *msg, GHashTable *query,
				   JsonNode *body);

void ucv_fake_core_reply(SoupServerMessage *msg, guint status, const gchar *json);
void ucv_fake_core_reply_node(SoupServerMessage *msg, guint status, JsonNode *node);
/* A CommonErrorMessage, as Core answers errors. */
void ucv_fake_core_reply_error(SoupServerMessage *msg, guint status, const gchar *why);
/* The "items" array of a BulkRequest, or NULL. */
JsonArray *ucv_fake_core_items(JsonNode *body);
/* A string member, or NULL when it is absent, null or not a string. */
const gchar *ucv_fake_core_string_member(JsonObject *obj, const gchar *name);
/* Element i of the array if it is an object, else NULL. */
JsonObject *ucv_fake_core_object_element(JsonArray *array, guint i);

void ucv_fake_core_accounting_init(UcvFakeCore *self);
void ucv_fake_core_accounting_finalize(UcvFakeCore *self);
/* Forgets the held accounting answers without sending them; called once their connections are
 * closed, so they can no longer be delivered. */
void ucv_fake_core_drop_held_accounting(UcvFakeCore *self);

void ucv_fake_core_handle_report_usage(UcvFakeCore *self, SoupServerMessage *msg, GHashTable *query,
				       JsonNode *body);
void ucv_fake_core_handle_charge_credits(UcvFakeCore *self, SoupServerMessage *msg,
					 GHashTable *query, JsonNode *body);

G_END_DECLS
