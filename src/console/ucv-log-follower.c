/* A log file followed like `tail -F`: a backlog of whole lines, then whatever is appended, across
 * rotation and truncation, read from the main loop one chunk at a time. */
#define G_LOG_DOMAIN "ucv-console"

#include "config.h"

#include "ucv-log-follower.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "console/ucv-utf8-chunker.h"

/* A read leaves room for the 3 bytes of a character the chunker holds back, so that valid text
 * comes out in one piece; only U+FFFD standing in for single bytes makes it longer. */
#define READ_CHUNK (UCV_LOG_FOLLOWER_OUTPUT_MAX - 3)

/* About 64 KiB per main loop iteration: a huge backlog does not hold up the rest of the daemon. */
#define READS_PER_ITERATION 4

/* File monitor events can be missed (the directory replaced, an overflowing inotify queue): a
 * slow poll catches up with them. */
#define POLL_SECONDS 2

/* The file monitor's default of 800 ms between change events is slow for a console. */
#define MONITOR_RATE_LIMIT_MS 100

struct _UcvLogFollower {
	GObject parent_instance;
	gchar *path;
	gsize backlog_bytes;
	UcvUtf8Chunker *chunker;
	guint8 *buffer; /* READ_CHUNK bytes: the only copy of the file held */
	GFileMonitor *monitor;
	guint poll_id;
	guint read_id;
	gint fd; /* -1 while no file is open */
	dev_t dev;
	ino_t ino;
	goffset offset;    /* where the next read starts */
	goffset scan_from; /* while below scan_end, the line break that starts the backlog is sought
			    */
	goffset scan_end;
	gboolean draining; /* a new file has the path: the open one is read to its end first */
	gboolean open_error_logged;
	gboolean started;
	gboolean paused;
	gboolean finishing;
	gboolean stopped;
};

enum { SIGNAL_OUTPUT, SIGNAL_FINISHED, SIGNAL_LAST };
static guint signals[SIGNAL_LAST] = {0};

G_DEFINE_TYPE(UcvLogFollower, ucv_log_follower, G_TYPE_OBJECT)

static gboolean
can_read(UcvLogFollower *self)
{
	return self->started && !self->stopped && !self->paused;
}

/* The length of the next piece of `text`, cut before the character the size limit falls in. */
static gsize
piece_length(const gchar *text, gsize len)
{
	gsize n = UCV_LOG_FOLLOWER_OUTPUT_MAX;

	if (len <= n)
		return len;
	while (((guchar)text[n] & 0xc0) == 0x80)
		n--;
	return n;
}

/* Each piece goes out NUL-terminated: the byte after it is set aside while it is emitted. */
static void
emit_text(UcvLogFollower *self, gchar *text, gsize len)
{
	while (len > 0 && !self->stopped) {
		gsize n = piece_length(text, len);
		gchar after = text[n];

		text[n] = '\0';
		g_signal_emit(self, signals[SIGNAL_OUTPUT], 0, text, (guint64)n);
		text[n] = after;
		text += n;
		len -= n;
	}
}

static void
emit_bytes(UcvLogFollower *self, const guint8 *data, gsize len)
{
	gsize text_len = 0;
	g_autofree gchar *text = ucv_utf8_chunker_push(self->chunker, data, len, &text_len);

	emit_text(self, text, text_len);
}

static void
close_file(UcvLogFollower *self)
{
	if (self->fd >= 0)
		close(self->fd);
	self->fd = -1;
	self->draining = FALSE;
	self->scan_end = 0;
}

/* Reads from the last `backlog_bytes` of a file of `size` bytes, starting after a line break;
 * scanning from the byte before the window keeps a line that begins exactly at it. */
static void
start_backlog(UcvLogFollower *self, goffset size)
{
	if ((guint64)size <= self->backlog_bytes)
		return;
	self->offset = size - (goffset)self->backlog_bytes;
	self->scan_from = self->offset - 1;
	self->scan_end = size;
}

/* FALSE when the file is not there (yet): that is waited for, not an error. */
static gboolean
open_file(UcvLogFollower *self, gboolean with_backlog)
{
	struct stat st;
	gint fd = open(self->path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0) {
		gint saved_errno = errno;

		if (fd >= 0)
			close(fd);
		/* logged once, not on every poll, until the file can be opened */
		if (saved_errno != ENOENT && !self->open_error_logged)
			g_warning("cannot open log %s: %s", self->path, g_strerror(saved_errno));
		self->open_error_logged = saved_errno != ENOENT;
		return FALSE;
	}
	self->open_error_logged = FALSE;
	self->fd = fd;
	self->dev = st.st_dev;
	self->ino = st.st_ino;
	self->offset = 0;
	if (with_backlog)
		start_backlog(self, st.st_size);
	return TRUE;
}

/* One chunk of the search for the backlog's first line break. Without one in the whole window,
 * the backlog starts where the window does, in the middle of a line. */
static gboolean
scan_step(UcvLogFollower *self)
{
	gsize want = (gsize)MIN(self->scan_end - self->scan_from, (goffset)READ_CHUNK);
	gssize n = pread(self->fd, self->buffer, want, self->scan_from);
	const guint8 *line_break;

	if (n < 0 && errno == EINTR)
		return TRUE;
	if (n <= 0) {
		self->scan_end = 0;
		return TRUE;
	}
	line_break = memchr(self->buffer, '\n', (gsize)n);
	if (line_break != NULL) {
		self->offset = self->scan_from + (line_break - self->buffer) + 1;
		self->scan_end = 0;
		return TRUE;
	}
	self->scan_from += n;
	if (self->scan_from >= self->scan_end)
		self->scan_end = 0;
	return TRUE;
}

/* virtlogd rotates by renaming the file and creating a new one under the same path. */
static gboolean
was_replaced(UcvLogFollower *self)
{
	struct stat st;

	if (stat(self->path, &st) < 0)
		return FALSE;
	return st.st_dev != self->dev || st.st_ino != self->ino;
}

static gboolean
was_truncated(UcvLogFollower *self)
{
	struct stat st;

	return fstat(self->fd, &st) == 0 && st.st_size < self->offset;
}

/* At the end of the open file: moves on to a new file under the path, or starts a truncated one
 * over. FALSE when neither happened, so there is nothing to read for now. */
static gboolean
at_end_of_file(UcvLogFollower *self)
{
	if (self->draining) {
		close_file(self);
		return open_file(self, FALSE);
	}
	if (was_replaced(self)) {
		/* the old file may have grown between the last read and its rename: once more */
		g_debug("log %s was rotated", self->path);
		self->draining = TRUE;
		return TRUE;
	}
	if (was_truncated(self)) {
		g_debug("log %s was truncated", self->path);
		self->offset = 0;
		return TRUE;
	}
	return FALSE;
}

static gboolean
read_chunk(UcvLogFollower *self)
{
	gssize n = pread(self->fd, self->buffer, READ_CHUNK, self->offset);

	if (n < 0 && errno == EINTR)
		return TRUE;
	if (n < 0) {
		/* tried again on the next event or poll */
		g_warning("cannot read log %s: %s", self->path, g_strerror(errno));
		return FALSE;
	}
	if (n == 0)
		return at_end_of_file(self);
	self->offset += n;
	emit_bytes(self, self->buffer, (gsize)n);
	return TRUE;
}

/* One step of at most one chunk; FALSE when there is nothing more to read for now. */
static gboolean
read_step(UcvLogFollower *self)
{
	if (self->fd < 0)
		return open_file(self, FALSE);
	if (self->scan_end > 0)
		return scan_step(self);
	return read_chunk(self);
}

/* Releases the file and every source; no signal follows. */
static void
stop_watching(UcvLogFollower *self)
{
	self->stopped = TRUE;
	g_clear_handle_id(&self->read_id, g_source_remove);
	g_clear_handle_id(&self->poll_id, g_source_remove);
	if (self->monitor != NULL) {
		g_signal_handlers_disconnect_by_data(self->monitor, self);
		g_file_monitor_cancel(self->monitor);
		g_clear_object(&self->monitor);
	}
	close_file(self);
}

/* The end of the file was reached after ucv_log_follower_finish(). */
static void
emit_finished(UcvLogFollower *self)
{
	gsize rest_len = 0;
	g_autofree gchar *rest = ucv_utf8_chunker_flush(self->chunker, &rest_len);

	emit_text(self, rest, rest_len);
	if (self->stopped)
		return;
	stop_watching(self);
	g_signal_emit(self, signals[SIGNAL_FINISHED], 0);
}

static gboolean
read_idle_cb(gpointer user_data)
{
	/* a handler may drop the owner's last reference */
	g_autoptr(UcvLogFollower) self = g_object_ref(user_data);

	for (guint i = 0; i < READS_PER_ITERATION; i++) {
		/* handlers may pause or stop the follower between two reads */
		if (!can_read(self)) {
			self->read_id = 0;
			return G_SOURCE_REMOVE;
		}
		if (!read_step(self)) {
			self->read_id = 0;
			if (self->finishing)
				emit_finished(self);
			return G_SOURCE_REMOVE;
		}
	}
	return G_SOURCE_CONTINUE;
}

/* Reads happen in an idle source, so signals never come from inside a call of the owner's. */
static void
schedule_read(UcvLogFollower *self)
{
	if (self->read_id != 0 || !can_read(self))
		return;
	self->read_id = g_idle_add(read_idle_cb, self);
}

static void
monitor_changed_cb(GFileMonitor *monitor, GFile *file, GFile *other, GFileMonitorEvent event,
		   gpointer user_data)
{
	schedule_read(UCV_LOG_FOLLOWER(user_data));
}

static gboolean
poll_cb(gpointer user_data)
{
	schedule_read(UCV_LOG_FOLLOWER(user_data));
	return G_SOURCE_CONTINUE;
}

/* The monitor watches the path, not the open file: it reports the file's creation after a
 * rotation too. Without it the poll still delivers, only later. */
static void
watch_path(UcvLogFollower *self)
{
	g_autoptr(GFile) file = g_file_new_for_path(self->path);
	g_autoptr(GError) error = NULL;

	self->monitor = g_file_monitor_file(file, G_FILE_MONITOR_NONE, NULL, &error);
	if (self->monitor == NULL) {
		g_debug("cannot monitor log %s, polling only: %s", self->path, error->message);
		return;
	}
	g_file_monitor_set_rate_limit(self->monitor, MONITOR_RATE_LIMIT_MS);
	g_signal_connect(self->monitor, "changed", G_CALLBACK(monitor_changed_cb), self);
}

void
ucv_log_follower_start(UcvLogFollower *self)
{
	g_return_if_fail(UCV_IS_LOG_FOLLOWER(self));
	g_return_if_fail(!self->started);

	self->started = TRUE;
	if (self->stopped)
		return;
	/* only a file that is there now has a backlog: one that appears later is all new output */
	open_file(self, TRUE);
	watch_path(self);
	self->poll_id = g_timeout_add_seconds(POLL_SECONDS, poll_cb, self);
	schedule_read(self);
}

void
ucv_log_follower_set_paused(UcvLogFollower *self, gboolean paused)
{
	g_return_if_fail(UCV_IS_LOG_FOLLOWER(self));

	self->paused = paused;
	schedule_read(self);
}

void
ucv_log_follower_finish(UcvLogFollower *self)
{
	g_return_if_fail(UCV_IS_LOG_FOLLOWER(self));
	g_return_if_fail(self->started);

	self->finishing = TRUE;
	schedule_read(self);
}

void
ucv_log_follower_stop(UcvLogFollower *self)
{
	g_return_if_fail(UCV_IS_LOG_FOLLOWER(self));

	stop_watching(self);
}

static void
ucv_log_follower_dispose(GObject *object)
{
	stop_watching(UCV_LOG_FOLLOWER(object));
	G_OBJECT_CLASS(ucv_log_follower_parent_class)->dispose(object);
}

static void
ucv_log_follower_finalize(GObject *object)
{
	UcvLogFollower *self = UCV_LOG_FOLLOWER(object);

	ucv_utf8_chunker_free(self->chunker);
	g_free(self->buffer);
	g_free(self->path);
	G_OBJECT_CLASS(ucv_log_follower_parent_class)->finalize(object);
}

static void
ucv_log_follower_class_init(UcvLogFollowerClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->dispose = ucv_log_follower_dispose;
	object_class->finalize = ucv_log_follower_finalize;
	/* static scope: the text is handed out as it is, NUL bytes and all, and not copied */
	signals[SIGNAL_OUTPUT] = g_signal_new(
		"output", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
		G_TYPE_NONE, 2, G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE, G_TYPE_UINT64);
	signals[SIGNAL_FINISHED] =
		g_signal_new("finished", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
			     NULL, G_TYPE_NONE, 0);
}

static void
ucv_log_follower_init(UcvLogFollower *self)
{
	self->fd = -1;
	self->chunker = ucv_utf8_chunker_new();
	self->buffer = g_malloc(READ_CHUNK);
}

UcvLogFollower *
ucv_log_follower_new(const gchar *path, gsize backlog_bytes)
{
	UcvLogFollower *self;

	g_return_val_if_fail(path != NULL, NULL);

	self = g_object_new(UCV_TYPE_LOG_FOLLOWER, NULL);
	self->path = g_strdup(path);
	self->backlog_bytes = backlog_bytes;
	return self;
}
