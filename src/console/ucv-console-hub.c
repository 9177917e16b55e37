/* Per kind, job id → the job's sessions; a session leaves when it finishes. */
#define G_LOG_DOMAIN "ucv-console"

#include "config.h"

#include "ucv-console-hub.h"

#define JOB_ID_KEY "ucv-console-job-id"
#define N_KINDS    2

struct _UcvConsoleHub {
	GObject parent_instance;
	GHashTable *jobs[N_KINDS]; /* job id -> GPtrArray of UcvConsoleSession */
};

G_DEFINE_TYPE(UcvConsoleHub, ucv_console_hub, G_TYPE_OBJECT)

static void
on_session_finished(UcvConsoleSession *session, UcvConsoleHub *self)
{
	const gchar *job_id = g_object_get_data(G_OBJECT(session), JOB_ID_KEY);

	g_signal_handlers_disconnect_by_data(session, self);
	for (guint kind = 0; kind < N_KINDS; kind++) {
		GPtrArray *sessions = g_hash_table_lookup(self->jobs[kind], job_id);
		if (sessions == NULL)
			continue;
		/* the last reference may be the array's: the job id goes with it */
		if (sessions->len == 1 && g_ptr_array_index(sessions, 0) == session) {
			g_hash_table_remove(self->jobs[kind], job_id);
			return;
		}
		if (g_ptr_array_remove(sessions, session))
			return;
	}
}

void
ucv_console_hub_add(UcvConsoleHub *self, const gchar *job_id, UcvConsoleKind kind,
		    UcvConsoleSession *session)
{
	GPtrArray *sessions;

	g_return_if_fail(UCV_IS_CONSOLE_HUB(self));
	g_return_if_fail(job_id != NULL);
	g_return_if_fail(kind < N_KINDS);

	if (ucv_console_session_is_finished(session))
		return;
	sessions = g_hash_table_lookup(self->jobs[kind], job_id);
	if (sessions == NULL) {
		sessions = g_ptr_array_new_with_free_func(g_object_unref);
		g_hash_table_insert(self->jobs[kind], g_strdup(job_id), sessions);
	}
	g_object_set_data_full(G_OBJECT(session), JOB_ID_KEY, g_strdup(job_id), g_free);
	g_ptr_array_add(sessions, g_object_ref(session));
	g_signal_connect(session, "finished", G_CALLBACK(on_session_finished), self);
}

void
ucv_console_hub_stop_job(UcvConsoleHub *self, const gchar *job_id, UcvConsoleKind kind,
			 const gchar *reason)
{
	GPtrArray *sessions;
	g_autoptr(GPtrArray) stopping = NULL;

	g_return_if_fail(UCV_IS_CONSOLE_HUB(self));
	g_return_if_fail(kind < N_KINDS);

	sessions = g_hash_table_lookup(self->jobs[kind], job_id);
	if (sessions == NULL)
		return;
	/* stopping one changes the array under the loop: walk a copy */
	stopping = g_ptr_array_copy(sessions, (GCopyFunc)(void (*)(void))g_object_ref, NULL);
	g_ptr_array_set_free_func(stopping, g_object_unref);
	for (guint i = 0; i < stopping->len; i++)
		ucv_console_session_stop(g_ptr_array_index(stopping, i), reason);
}

guint
ucv_console_hub_count(UcvConsoleHub *self, const gchar *job_id, UcvConsoleKind kind)
{
	GPtrArray *sessions;

	g_return_val_if_fail(UCV_IS_CONSOLE_HUB(self), 0);
	g_return_val_if_fail(kind < N_KINDS, 0);
	sessions = g_hash_table_lookup(self->jobs[kind], job_id);
	return sessions != NULL ? sessions->len : 0;
}

UcvConsoleSession *
ucv_console_hub_find(UcvConsoleHub *self, const gchar *job_id, UcvConsoleKind kind,
		     UcvConsoleMatchFunc match, gpointer user_data)
{
	GPtrArray *sessions;

	g_return_val_if_fail(UCV_IS_CONSOLE_HUB(self), NULL);
	g_return_val_if_fail(kind < N_KINDS, NULL);
	sessions = g_hash_table_lookup(self->jobs[kind], job_id);
	for (guint i = 0; sessions != NULL && i < sessions->len; i++) {
		UcvConsoleSession *session = g_ptr_array_index(sessions, i);
		if (!ucv_console_session_is_finished(session) && match(session, user_data))
			return session;
	}
	return NULL;
}

static void
ucv_console_hub_dispose(GObject *object)
{
	UcvConsoleHub *self = UCV_CONSOLE_HUB(object);

	/* the daemon stops: every client is told, every console closed */
	for (guint kind = 0; kind < N_KINDS; kind++) {
		g_autoptr(GList) job_ids = g_hash_table_get_keys(self->jobs[kind]);
		for (GList *l = job_ids; l != NULL; l = l->next) {
			g_autofree gchar *job_id = g_strdup(l->data);
			ucv_console_hub_stop_job(self, job_id, kind, "the provider is stopping");
		}
		g_hash_table_remove_all(self->jobs[kind]);
	}
	G_OBJECT_CLASS(ucv_console_hub_parent_class)->dispose(object);
}

static void
ucv_console_hub_finalize(GObject *object)
{
	UcvConsoleHub *self = UCV_CONSOLE_HUB(object);

	for (guint kind = 0; kind < N_KINDS; kind++)
		g_hash_table_unref(self->jobs[kind]);
	G_OBJECT_CLASS(ucv_console_hub_parent_class)->finalize(object);
}

static void
ucv_console_hub_class_init(UcvConsoleHubClass *klass)
{
	G_OBJECT_CLASS(klass)->dispose = ucv_console_hub_dispose;
	G_OBJECT_CLASS(klass)->finalize = ucv_console_hub_finalize;
}

static void
ucv_console_hub_init(UcvConsoleHub *self)
{
	for (guint kind = 0; kind < N_KINDS; kind++)
		self->jobs[kind] = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
							 (GDestroyNotify)g_ptr_array_unref);
}

UcvConsoleHub *
ucv_console_hub_new(void)
{
	return g_object_new(UCV_TYPE_CONSOLE_HUB, NULL);
}
