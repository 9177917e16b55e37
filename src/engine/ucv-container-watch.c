/* The running ranks of DOCKER jobs: each container host's agent channel, its greeting (in time
 * and of this provider's version), the container's output into the job's logs, and its exit. */
#define G_LOG_DOMAIN "ucv-engine"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/ucv-agent-version.h"
#include "container/ucv-agent-channel.h"
#include "container/ucv-agent-shell.h"
#include "container/ucv-oci-config.h"
#include "engine/ucv-container-watch.h"
#include "engine/ucv-engine-private.h"
#include "engine/ucv-job-files.h"
#include "model/ucv-error.h"

/* How much of the console log a failure quotes: the agent's last words. */
#define UCV_CONSOLE_TAIL_BYTES 2048

struct _UcvContainerRank {
	UcvEngine *engine; /* not a reference: runs never outlive their engine */
	UcvJobRun *run;    /* not a reference: the run owns this */
	guint rank;
	UcvAgentChannel *channel;
	GCancellable *cancellable;
	guint hello_source;
	gboolean greeted;
	guint last_shell; /* the latest shell channel number handed out; the next is one more */
	gboolean exited;
	gint exit_code;
	gint log_fd;  /* the host's copy, which follow reads */
	gint work_fd; /* /work/stdout-<rank>.log, as the job sees it */
};

static void
container_rank_free(UcvContainerRank *self)
{
	g_cancellable_cancel(self->cancellable);
	g_clear_object(&self->cancellable);
	g_clear_handle_id(&self->hello_source, g_source_remove);
	if (self->channel != NULL) {
		g_signal_handlers_disconnect_by_data(self->channel, self);
		ucv_agent_channel_close(self->channel);
		g_clear_object(&self->channel);
	}
	if (self->log_fd >= 0)
		close(self->log_fd);
	if (self->work_fd >= 0)
		close(self->work_fd);
	g_free(self);
}

/* The end of the rank's console log, for a failure's status. */
static gchar *
console_tail(UcvContainerRank *self)
{
	const UcvConfig *config = self->engine->config;
	g_autofree gchar *path =
		ucv_job_files_console_log(config->state_dir, self->run->job_id, self->rank);
	g_autofree gchar *text = NULL;
	gsize len = 0;
	const gchar *start;

	if (!g_file_get_contents(path, &text, &len, NULL) || len == 0)
		return g_strdup(_("(the console log is empty)"));
	start = len > UCV_CONSOLE_TAIL_BYTES ? text + len - UCV_CONSOLE_TAIL_BYTES : text;
	return g_utf8_make_valid(start, -1);
}

/* The container host cannot run the job: it fails, and its machines go. */
static void
container_rank_fail(UcvContainerRank *self, const gchar *status)
{
	UcvEngine *engine = self->engine;
	UcvJobRun *run = self->run;

	if (run->terminating)
		return;
	ucv_job_log(G_LOG_LEVEL_WARNING, run->job_id, NULL, "job %s rank %u: %s", run->job_id,
		    self->rank, status);
	ucv_engine_set_state(engine, run->job_id, UCV_JOB_STATE_FAILURE, status);
	ucv_engine_queue_cleanup(engine, run, UCV_JOB_STATE_FAILURE, status);
}

static gboolean
on_hello_timeout(gpointer user_data)
{
	UcvContainerRank *self = user_data;
	g_autofree gchar *tail = console_tail(self);
	g_autofree gchar *status = g_strdup_printf(
		_("The container host did not start within %u s; its console ended with: %s"),
		self->engine->config->agent_timeout_s, tail);

	self->hello_source = 0;
	container_rank_fail(self, status);
	return G_SOURCE_REMOVE;
}

static void
on_hello(UcvAgentChannel *channel, guint protocol, const gchar *version, gpointer user_data)
{
	UcvContainerRank *self = user_data;
	g_autofree gchar *status = NULL;

	g_clear_handle_id(&self->hello_source, g_source_remove);
	if (g_strcmp0(version, UCV_AGENT_VERSION) != 0) {
		status = g_strdup_printf(_("The container host's agent is version %s, but this "
					   "provider needs version %s; the site must install the "
					   "container host built with the provider"),
					 version, UCV_AGENT_VERSION);
		container_rank_fail(self, status);
		return;
	}
	self->greeted = TRUE;
	ucv_job_log(G_LOG_LEVEL_INFO, self->run->job_id, NULL,
		    "job %s rank %u: container host agent %s", self->run->job_id, self->rank,
		    version);
}

/* Writes all of `data`; a failed copy is logged, never fatal: the other copy may still work. */
static void
write_copy(UcvContainerRank *self, gint *fd, GBytes *data)
{
	gsize len = 0;
	const guint8 *bytes = g_bytes_get_data(data, &len);

	while (*fd >= 0 && len > 0) {
		gssize n = write(*fd, bytes, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ucv_job_log(G_LOG_LEVEL_WARNING, self->run->job_id, NULL,
				    "job %s rank %u: cannot write its output: %s",
				    self->run->job_id, self->rank, g_strerror(errno));
			close(*fd);
			*fd = -1;
			return;
		}
		bytes += n;
		len -= n;
	}
}

static void
on_output(UcvAgentChannel *channel, guint stream, GBytes *data, gpointer user_data)
{
	UcvContainerRank *self = user_data;

	/* UCloud's convention: stdout and stderr of a rank in one log */
	write_copy(self, &self->log_fd, data);
	write_copy(self, &self->work_fd, data);
}

static void
on_exited(UcvAgentChannel *channel, gint code, gpointer user_data)
{
	UcvContainerRank *self = user_data;

	self->exited = TRUE;
	self->exit_code = code;
	ucv_job_log(G_LOG_LEVEL_MESSAGE, self->run->job_id, NULL,
		    "job %s rank %u: the container exited with code %d", self->run->job_id,
		    self->rank, code);
}

static void
on_closed(UcvAgentChannel *channel, const gchar *reason, gpointer user_data)
{
	UcvContainerRank *self = user_data;
	g_autofree gchar *status = NULL;

	/* a clean hang-up is the machine powering off: libvirt tells the rest */
	if (reason == NULL)
		return;
	status = g_strdup_printf(_("The container host broke the agent protocol: %s"), reason);
	container_rank_fail(self, status);
}

static void
on_connected(GObject *source, GAsyncResult *res, gpointer user_data)
{
	UcvContainerRank *self = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvAgentChannel) channel = ucv_agent_channel_connect_finish(res, &error);

	if (channel == NULL) {
		/* the rank is gone already, or the machine stopped before its socket appeared */
		if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
			return;
		ucv_job_log(G_LOG_LEVEL_WARNING, self->run->job_id, NULL,
			    "job %s rank %u: no agent channel: %s", self->run->job_id, self->rank,
			    error->message);
		return;
	}
	self->channel = g_steal_pointer(&channel);
	g_signal_connect(self->channel, "hello", G_CALLBACK(on_hello), self);
	g_signal_connect(self->channel, "output", G_CALLBACK(on_output), self);
	g_signal_connect(self->channel, "exited", G_CALLBACK(on_exited), self);
	g_signal_connect(self->channel, "closed", G_CALLBACK(on_closed), self);
	ucv_agent_channel_start(self->channel);
}

/* The job's copy of the output: opened once, before the container can touch /work, and never
 * through a link or onto anything but a regular file, whatever the job puts there later. */
static gint
open_work_log(const gchar *work_dir, guint rank)
{
	g_autofree gchar *name = g_strdup_printf("stdout-%u.log", rank);
	gint dir_fd = open(work_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	gint fd;
	struct stat st;

	if (dir_fd < 0)
		return -1;
	fd = openat(dir_fd, name,
		    O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
	close(dir_fd);
	if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
open_logs(UcvContainerRank *self)
{
	const UcvConfig *config = self->engine->config;
	g_autofree gchar *log =
		ucv_job_files_stdout_log(config->state_dir, self->run->job_id, self->rank);
	g_autofree gchar *work = ucv_job_files_work_dir(config->state_dir, self->run->job_id);

	self->log_fd = g_open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	self->work_fd = open_work_log(work, self->rank);
	if (self->log_fd < 0 || self->work_fd < 0)
		ucv_job_log(G_LOG_LEVEL_WARNING, self->run->job_id, NULL,
			    "job %s rank %u: cannot open its output logs", self->run->job_id,
			    self->rank);
}

static GHashTable *
run_ranks(UcvJobRun *run)
{
	if (run->containers == NULL)
		run->containers = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
							(GDestroyNotify)container_rank_free);
	return run->containers;
}

void
ucv_engine_container_watch(UcvEngine *self, UcvJobRun *run, guint rank)
{
	const UcvConfig *config = self->config;
	g_autofree gchar *socket = NULL;
	UcvContainerRank *watch;

	if (g_hash_table_contains(run_ranks(run), GUINT_TO_POINTER(rank)))
		return;
	watch = g_new0(UcvContainerRank, 1);
	watch->engine = self;
	watch->run = run;
	watch->rank = rank;
	watch->cancellable = g_cancellable_new();
	g_hash_table_insert(run->containers, GUINT_TO_POINTER(rank), watch);
	open_logs(watch);
	/* the agent greets every new connection, so this holds after a restart as well */
	watch->hello_source =
		g_timeout_add_seconds(config->agent_timeout_s, on_hello_timeout, watch);
	socket = ucv_job_files_agent_socket(config->state_dir, run->job_id, rank);
	ucv_agent_channel_connect_async(socket, config->agent_timeout_s * 1000, watch->cancellable,
					on_connected, watch);
}

void
ucv_engine_container_forget(UcvJobRun *run)
{
	g_clear_pointer(&run->containers, g_hash_table_unref);
}

gboolean
ucv_engine_container_exit_code(UcvJobRun *run, guint rank, gint *code)
{
	UcvContainerRank *watch;

	if (run->containers == NULL)
		return FALSE;
	watch = g_hash_table_lookup(run->containers, GUINT_TO_POINTER(rank));
	if (watch == NULL || !watch->exited)
		return FALSE;
	*code = watch->exit_code;
	return TRUE;
}

static UcvStoredJob *
lookup_job(UcvEngine *self, const gchar *job_id, GError **error)
{
	UcvStoredJob *stored = ucv_store_lookup_job(self->store, job_id, error);

	if (stored == NULL && error != NULL && *error == NULL)
		g_set_error(error, UCV_ERROR, UCV_ERROR_NOT_FOUND,
			    _("Job %s is not known to this provider"), job_id);
	return stored;
}

gboolean
ucv_engine_job_is_container(UcvEngine *self, const gchar *job_id)
{
	g_autoptr(UcvStoredJob) stored = NULL;

	g_return_val_if_fail(UCV_IS_ENGINE(self), FALSE);

	stored = lookup_job(self, job_id, NULL);
	return stored != NULL && stored->job->backend == UCV_BACKEND_DOCKER;
}

/* The rank's channel, if its agent greeted and the channel still works. */
static UcvContainerRank *
ready_rank(UcvEngine *self, const gchar *job_id, guint rank)
{
	UcvJobRun *run = g_hash_table_lookup(self->runs, job_id);
	UcvContainerRank *watch;

	if (run == NULL || run->containers == NULL)
		return NULL;
	watch = g_hash_table_lookup(run->containers, GUINT_TO_POINTER(rank));
	if (watch == NULL || watch->channel == NULL || !watch->greeted ||
	    ucv_agent_channel_is_closed(watch->channel))
		return NULL;
	return watch;
}

UcvTerminal *
ucv_engine_open_container_shell(UcvEngine *self, const gchar *job_id, guint rank, guint16 cols,
				guint16 rows, GError **error)
{
	g_autoptr(UcvStoredJob) stored = NULL;
	UcvContainerRank *watch;
	guint32 uid;

	g_return_val_if_fail(UCV_IS_ENGINE(self), NULL);

	stored = lookup_job(self, job_id, error);
	if (stored == NULL)
		return NULL;
	watch = ready_rank(self, job_id, rank);
	if (stored->job->backend != UCV_BACKEND_DOCKER || watch == NULL) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_UNAVAILABLE,
				    _("The container is not ready for a shell yet"));
		return NULL;
	}
	/* numbers are never reused on a channel, so late frames of an old shell reach nobody */
	watch->last_shell++;
	uid = stored->job->run_as_root ? 0 : UCV_OCI_UCLOUD_UID;
	ucv_job_log(G_LOG_LEVEL_INFO, job_id, NULL, "job %s rank %u: shell %u opened as uid %u",
		    job_id, rank, watch->last_shell, uid);
	return UCV_TERMINAL(
		ucv_agent_shell_new(watch->channel, watch->last_shell, uid, cols, rows));
}
