/* The open display sessions of every job, so that all of a job's close when it stops running. */
#define G_LOG_DOMAIN "ucv-console"

#include "config.h"

#include "ucv-console-hub.h"

#define JOB_ID_KEY "ucv-console-job-id"

struct _UcvConsoleHub {
	GObject parent_instance;
	GHashTable *jobs; /* job id -> GPtrArray of UcvVncProxy */
};

G_DEFINE_TYPE(UcvConsoleHub, ucv_console_hub, G_TYPE_OBJECT)

static void
on_session_finished(UcvVncProxy *session, UcvConsoleHub *self)
{
	const gchar *job_id = g_object_get_data(G_OBJECT(session), JOB_ID_KEY);
	GPtrArray *sessions = g_hash_table_lookup(self->jobs, job_id);

	g_signal_handlers_disconnect_by_data(session, self);
	if (sessions == NULL)
		return;
	/* the last reference may be the array's: the job id goes with it */
	if (sessions->len == 1 && g_ptr_array_index(sessions, 0) == session) {
		g_hash_table_remove(self->jobs, job_id);
		return;
	}
	g_ptr_array_remove(sessions, session);
}

void
ucv_console_hub_add(UcvConsoleHub *self, const gchar *job_id, UcvVncProxy *session)
{
	GPtrArray *sessions;

	g_return_if_fail(UCV_IS_CONSOLE_HUB(self));
	g_return_if_fail(job_id != NULL);

	if (ucv_vnc_proxy_is_finished(session))
		return;
	sessions = g_hash_table_lookup(self->jobs, job_id);
	if (sessions == NULL) {
		sessions = g_ptr_array_new_with_free_func(g_object_unref);
		g_hash_table_insert(self->jobs, g_strdup(job_id), sessions);
	}
	g_object_set_data_full(G_OBJECT(session), JOB_ID_KEY, g_strdup(job_id), g_free);
	g_ptr_array_add(sessions, g_object_ref(session));
	g_signal_connect(session, "finished", G_CALLBACK(on_session_finished), self);
}

void
ucv_console_hub_close_job(UcvConsoleHub *self, const gchar *job_id, const gchar *reason)
{
	GPtrArray *sessions;
	g_autoptr(GPtrArray) closing = NULL;

	g_return_if_fail(UCV_IS_CONSOLE_HUB(self));

	sessions = g_hash_table_lookup(self->jobs, job_id);
	if (sessions == NULL)
		return;
	/* stopping one changes the array under the loop: walk a copy */
	closing = g_ptr_array_copy(sessions, (GCopyFunc)(void (*)(void))g_object_ref, NULL);
	g_ptr_array_set_free_func(closing, g_object_unref);
	for (guint i = 0; i < closing->len; i++)
		ucv_vnc_proxy_stop(g_ptr_array_index(closing, i), UCV_WS_CLOSE_GOING_AWAY, reason);
}

guint
ucv_console_hub_count(UcvConsoleHub *self, const gchar *job_id)
{
	GPtrArray *sessions;

	g_return_val_if_fail(UCV_IS_CONSOLE_HUB(self), 0);
	sessions = g_hash_table_lookup(self->jobs, job_id);
	return sessions != NULL ? sessions->len : 0;
}

static void
ucv_console_hub_dispose(GObject *object)
{
	UcvConsoleHub *self = UCV_CONSOLE_HUB(object);
	g_autoptr(GList) job_ids = g_hash_table_get_keys(self->jobs);

	/* the daemon stops: every browser is told, every display closed */
	for (GList *l = job_ids; l != NULL; l = l->next) {
		g_autofree gchar *job_id = g_strdup(l->data);
		ucv_console_hub_close_job(self, job_id, "the provider is stopping");
	}
	g_hash_table_remove_all(self->jobs);
	G_OBJECT_CLASS(ucv_console_hub_parent_class)->dispose(object);
}

static void
ucv_console_hub_finalize(GObject *object)
{
	g_hash_table_unref(UCV_CONSOLE_HUB(object)->jobs);
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
	self->jobs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					   (GDestroyNotify)g_ptr_array_unref);
}

UcvConsoleHub *
ucv_console_hub_new(void)
{
	return g_object_new(UCV_TYPE_CONSOLE_HUB, NULL);
}
