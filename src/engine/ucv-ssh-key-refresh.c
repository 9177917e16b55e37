/* New SSH keys of a user reach the cloud-init seeds of their machines without stopping them. */
#define G_LOG_DOMAIN "ucv-engine"

#include "config.h"

#include "engine/ucv-engine-private.h"
#include "engine/ucv-job-files.h"
#include "virt/ucv-seed.h"

typedef struct {
	UcvEngine *engine;
	UcvJobRun *run;
	UcvJob *job;
	GStrv keys; /* NULL until known: sent by Core, or fetched for this job */
	guint rank;
	guint rewritten;
} UcvKeyRefresh;

static void
key_refresh_free(UcvKeyRefresh *helper)
{
	g_object_unref(helper->engine);
	g_clear_pointer(&helper->run, ucv_job_run_unref);
	g_clear_pointer(&helper->job, ucv_job_unref);
	g_strfreev(helper->keys);
	g_free(helper);
}

static void
key_refresh_finish(UcvKeyRefresh *helper)
{
	UcvJobRun *run = g_steal_pointer(&helper->run);
	UcvEngine *engine = g_object_ref(helper->engine);

	if (helper->rewritten > 0)
		ucv_job_log(G_LOG_LEVEL_MESSAGE, run->job_id, NULL,
			    "job %s: SSH keys renewed in the seed of %u machine(s)", run->job_id,
			    helper->rewritten);
	key_refresh_free(helper);
	ucv_engine_finish_op(engine, run);
	g_object_unref(engine);
}

static void key_refresh_next_rank(UcvKeyRefresh *helper);

static void
on_seed_rewritten(GObject *source, GAsyncResult *res, gpointer user_data)
{
	UcvKeyRefresh *helper = user_data;
	g_autoptr(GError) error = NULL;

	if (!ucv_seed_write_finish(res, &error)) {
		if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
			key_refresh_finish(helper);
			return;
		}
		/* the old seed is still whole (it is replaced by a rename), and still boots */
		ucv_job_log(G_LOG_LEVEL_WARNING, helper->job->id, NULL,
			    "job %s: cannot renew the SSH keys of rank %u: %s", helper->job->id,
			    helper->rank, error->message);
	} else {
		helper->rewritten++;
	}
	helper->rank++;
	key_refresh_next_rank(helper);
}

/* Only seeds that exist are rewritten: a rank not provisioned yet fetches the keys itself. */
static void
key_refresh_next_rank(UcvKeyRefresh *helper)
{
	const gchar *state_dir = helper->engine->config->state_dir;

	for (; helper->rank < helper->job->replicas; helper->rank++) {
		g_autofree gchar *seed =
			ucv_job_files_seed(state_dir, helper->job->id, helper->rank);

		if (helper->run->terminating)
			break;
		if (!g_file_test(seed, G_FILE_TEST_IS_REGULAR))
			continue;
		ucv_engine_write_seed_async(helper->engine, helper->job, helper->rank, helper->keys,
					    helper->run->cancellable, on_seed_rewritten, helper);
		return;
	}
	key_refresh_finish(helper);
}

static void
on_keys_fetched(GObject *source, GAsyncResult *res, gpointer user_data)
{
	UcvKeyRefresh *helper = user_data;
	g_autoptr(GError) error = NULL;

	helper->keys = ucv_engine_fetch_ssh_keys_finish(helper->engine, res, &error);
	if (helper->keys == NULL) {
		/* keep the keys the seeds have rather than write none */
		if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
			ucv_job_log(G_LOG_LEVEL_WARNING, helper->job->id, NULL,
				    "job %s: cannot fetch the owner's SSH keys: %s",
				    helper->job->id,
				    error != NULL ? error->message : "empty answer");
		key_refresh_finish(helper);
		return;
	}
	key_refresh_next_rank(helper);
}

static void
op_refresh_keys(UcvJobRun *run, gpointer user_data)
{
	UcvKeyRefresh *helper = user_data;
	g_autoptr(UcvStoredJob) stored =
		ucv_store_lookup_job(helper->engine->store, run->job_id, NULL);

	helper->run = run;
	/* the job may have ended, or be ending, while this waited for its turn */
	if (stored == NULL || ucv_job_state_is_final(stored->state) || stored->terminating ||
	    run->terminating || !stored->job->ssh_enabled) {
		key_refresh_finish(helper);
		return;
	}
	helper->job = ucv_job_ref(stored->job);
	if (helper->keys != NULL) {
		key_refresh_next_rank(helper);
		return;
	}
	ucv_engine_fetch_ssh_keys_async(helper->engine, helper->job, run->cancellable,
					on_keys_fetched, helper);
}

/* The keys Core sent that can go into a seed, in order; NULL stays NULL (fetch them). */
static GStrv
usable_keys(const gchar *username, const gchar *const *keys)
{
	g_autoptr(GStrvBuilder) usable = g_strv_builder_new();

	if (keys == NULL)
		return NULL;
	for (guint i = 0; keys[i] != NULL; i++) {
		g_autofree gchar *key = ucv_seed_normalize_ssh_key(keys[i]);

		if (key == NULL) {
			/* a line break in a key could start new cloud-config; the key stays out
			 * of the log */
			g_warning("keyUploaded for %s: key %u is not a single-line ssh-, ecdsa- or "
				  "sk- public key; left out",
				  username, i);
			continue;
		}
		g_strv_builder_add(usable, key);
	}
	return g_strv_builder_end(usable);
}

static gboolean
job_wants_keys_of(UcvStoredJob *stored, const gchar *username)
{
	return !ucv_job_state_is_final(stored->state) && !stored->terminating &&
	       stored->job->ssh_enabled && g_strcmp0(stored->job->created_by, username) == 0;
}

gboolean
ucv_engine_refresh_ssh_keys(UcvEngine *self, const gchar *username, const gchar *const *keys,
			    guint *n_jobs, GError **error)
{
	g_autoptr(GPtrArray) jobs = NULL;
	g_auto(GStrv) usable = NULL;
	guint queued = 0;

	g_return_val_if_fail(UCV_IS_ENGINE(self), FALSE);
	g_return_val_if_fail(username != NULL, FALSE);

	jobs = ucv_store_list_jobs(self->store, UCV_STORE_JOBS_ACTIVE, error);
	if (jobs == NULL)
		return FALSE;
	usable = usable_keys(username, keys);
	for (guint i = 0; i < jobs->len; i++) {
		UcvStoredJob *stored = g_ptr_array_index(jobs, i);
		UcvKeyRefresh *helper;

		if (!job_wants_keys_of(stored, username))
			continue;
		helper = g_new0(UcvKeyRefresh, 1);
		helper->engine = g_object_ref(self);
		helper->keys = g_strdupv(usable);
		ucv_job_run_enqueue(ucv_engine_get_run(self, stored->job->id), op_refresh_keys,
				    helper, (GDestroyNotify)key_refresh_free);
		queued++;
	}
	g_debug("keyUploaded for %s: %u job(s) to renew", username, queued);
	if (n_jobs != NULL)
		*n_jobs = queued;

	/* success */
	return TRUE;
}
