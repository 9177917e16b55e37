/* Delivers the outbox to Core one entry at a time, in order, backing off while Core is away. */
#include "config.h"

#define G_LOG_DOMAIN "ucv-outbox"

#include "ucv-outbox-sender.h"

#include "model/ucv-error.h"

#define UCV_OUTBOX_UPDATE_PATH        "/api/jobs/control/update"
#define UCV_OUTBOX_BACKOFF_INITIAL_MS 500
#define UCV_OUTBOX_BACKOFF_MAX_MS     30000

struct _UcvOutboxSender {
	GObject parent_instance;
	UcvStore *store;
	UcvCoreClient *client;
	GCancellable *cancellable;
	guint backoff_initial_ms;
	guint backoff_max_ms;
	guint backoff_ms; /* the next wait, doubled after every failure */
	guint retry_id;
	gboolean sending;
	gint64 inflight_seq;
	gchar *inflight_job_id;
};

G_DEFINE_TYPE(UcvOutboxSender, ucv_outbox_sender, G_TYPE_OBJECT)

enum { SIGNAL_IDLE, SIGNAL_LAST };

static guint signals[SIGNAL_LAST] = {0};

static void ucv_outbox_sender_send_next(UcvOutboxSender *self);

static gboolean
ucv_outbox_sender_retry_cb(gpointer user_data)
{
	UcvOutboxSender *self = user_data;

	self->retry_id = 0;
	ucv_outbox_sender_send_next(self);
	return G_SOURCE_REMOVE;
}

static void
ucv_outbox_sender_back_off(UcvOutboxSender *self)
{
	guint delay = self->backoff_ms;

	g_debug("retrying the outbox in %u ms", delay);
	self->backoff_ms = MIN(self->backoff_ms * 2, self->backoff_max_ms);
	self->retry_id = g_timeout_add(delay, ucv_outbox_sender_retry_cb, self);
}

/* {"items":[{"id":<job_id>,"update":<update_json>}]}; NULL if the stored update is not JSON. */
static gchar *
ucv_outbox_sender_build_body(const UcvOutboxEntry *entry, GError **error)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autoptr(JsonNode) update = json_from_string(entry->update_json, error);
	g_autoptr(JsonNode) root = NULL;

	if (update == NULL)
		return NULL;
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "items");
	json_builder_begin_array(builder);
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "id");
	json_builder_add_string_value(builder, entry->job_id);
	json_builder_set_member_name(builder, "update");
	json_builder_add_value(builder, g_steal_pointer(&update));
	json_builder_end_object(builder);
	json_builder_end_array(builder);
	json_builder_end_object(builder);
	root = json_builder_get_root(builder);
	return json_to_string(root, FALSE);
}

/* Drops the entry in flight and moves on to the next one. */
static void
ucv_outbox_sender_advance(UcvOutboxSender *self)
{
	g_autoptr(GError) error = NULL;

	if (!ucv_store_outbox_remove(self->store, self->inflight_seq, &error)) {
		/* Core has it; a duplicate after the retry is harmless, a gap is not */
		g_warning("cannot remove delivered outbox entry: %s", error->message);
		ucv_outbox_sender_back_off(self);
		return;
	}
	ucv_outbox_sender_send_next(self);
}

static void
ucv_outbox_sender_sent_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) reply =
		ucv_core_client_post_finish(UCV_CORE_CLIENT(source), res, &error);
	UcvOutboxSender *self = user_data;

	/* cancelled only in dispose: self may be gone */
	if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return;
	self->sending = FALSE;
	if (error == NULL) {
		self->backoff_ms = self->backoff_initial_ms;
		ucv_outbox_sender_advance(self);
		return;
	}
	if (g_error_matches(error, UCV_ERROR, UCV_ERROR_NOT_FOUND)) {
		self->backoff_ms = self->backoff_initial_ms;
		g_log_structured(
			G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "UCV_JOB_ID", self->inflight_job_id,
			"MESSAGE",
			"Core does not know job %s: dropping its update #%" G_GINT64_FORMAT,
			self->inflight_job_id, self->inflight_seq);
		ucv_outbox_sender_advance(self);
		return;
	}
	g_message("delivering update #%" G_GINT64_FORMAT " for job %s failed, retrying: %s",
		  self->inflight_seq, self->inflight_job_id, error->message);
	ucv_outbox_sender_back_off(self);
}

static void
ucv_outbox_sender_send(UcvOutboxSender *self, const UcvOutboxEntry *entry)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *body = ucv_outbox_sender_build_body(entry, &error);

	self->inflight_seq = entry->seq;
	g_free(self->inflight_job_id);
	self->inflight_job_id = g_strdup(entry->job_id);
	if (body == NULL) {
		/* it can never be delivered, and keeping it would block every later update */
		g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "UCV_JOB_ID", entry->job_id,
				 "MESSAGE", "dropping unreadable update #%" G_GINT64_FORMAT ": %s",
				 entry->seq, error->message);
		ucv_outbox_sender_advance(self);
		return;
	}
	self->sending = TRUE;
	ucv_core_client_post_async(self->client, UCV_OUTBOX_UPDATE_PATH, body, self->cancellable,
				   ucv_outbox_sender_sent_cb, self);
}

static void
ucv_outbox_sender_send_next(UcvOutboxSender *self)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) entries = ucv_store_outbox_peek(self->store, 1, &error);

	if (entries == NULL) {
		g_warning("cannot read the outbox: %s", error->message);
		ucv_outbox_sender_back_off(self);
		return;
	}
	if (entries->len == 0) {
		g_signal_emit(self, signals[SIGNAL_IDLE], 0);
		return;
	}
	ucv_outbox_sender_send(self, g_ptr_array_index(entries, 0));
}

void
ucv_outbox_sender_kick(UcvOutboxSender *self)
{
	g_return_if_fail(UCV_IS_OUTBOX_SENDER(self));

	/* the running loop re-reads the outbox after every entry, so it picks up new rows */
	if (self->sending || self->retry_id != 0)
		return;
	ucv_outbox_sender_send_next(self);
}

void
ucv_outbox_sender_set_backoff(UcvOutboxSender *self, guint initial_ms, guint max_ms)
{
	g_return_if_fail(UCV_IS_OUTBOX_SENDER(self));
	g_return_if_fail(initial_ms > 0);
	g_return_if_fail(max_ms >= initial_ms);

	self->backoff_initial_ms = initial_ms;
	self->backoff_max_ms = max_ms;
	self->backoff_ms = initial_ms;
}

UcvOutboxSender *
ucv_outbox_sender_new(UcvStore *store, UcvCoreClient *client)
{
	UcvOutboxSender *self;

	g_return_val_if_fail(UCV_IS_STORE(store), NULL);
	g_return_val_if_fail(UCV_IS_CORE_CLIENT(client), NULL);

	self = g_object_new(UCV_TYPE_OUTBOX_SENDER, NULL);
	self->store = g_object_ref(store);
	self->client = g_object_ref(client);
	return self;
}

static void
ucv_outbox_sender_dispose(GObject *object)
{
	UcvOutboxSender *self = UCV_OUTBOX_SENDER(object);

	g_cancellable_cancel(self->cancellable);
	g_clear_handle_id(&self->retry_id, g_source_remove);
	g_clear_object(&self->client);
	g_clear_object(&self->store);
	G_OBJECT_CLASS(ucv_outbox_sender_parent_class)->dispose(object);
}

static void
ucv_outbox_sender_finalize(GObject *object)
{
	UcvOutboxSender *self = UCV_OUTBOX_SENDER(object);

	g_clear_object(&self->cancellable);
	g_free(self->inflight_job_id);
	G_OBJECT_CLASS(ucv_outbox_sender_parent_class)->finalize(object);
}

static void
ucv_outbox_sender_class_init(UcvOutboxSenderClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->dispose = ucv_outbox_sender_dispose;
	object_class->finalize = ucv_outbox_sender_finalize;

	signals[SIGNAL_IDLE] = g_signal_new("idle", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0,
					    NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
ucv_outbox_sender_init(UcvOutboxSender *self)
{
	self->cancellable = g_cancellable_new();
	self->backoff_initial_ms = UCV_OUTBOX_BACKOFF_INITIAL_MS;
	self->backoff_max_ms = UCV_OUTBOX_BACKOFF_MAX_MS;
	self->backoff_ms = UCV_OUTBOX_BACKOFF_INITIAL_MS;
}
