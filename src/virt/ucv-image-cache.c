/* Base images: site-local names, and http(s) URLs downloaded once into <image-dir>/cache. */
#define G_LOG_DOMAIN "ucv-virt"

#include "config.h"

#include "ucv-image-cache.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gunixoutputstream.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <string.h>
#include <unistd.h>

#include "model/ucv-error.h"

#define UCV_IMAGE_SUFFIX       ".qcow2"
#define UCV_DOWNLOAD_TIMEOUT_S 120
#define UCV_QCOW2_MAGIC        "QFI\xfb"
#define UCV_QCOW2_MAGIC_LEN    4

struct _UcvImageCache {
	GObject parent_instance;
	gchar *image_dir;
	gchar *cache_dir;
	SoupSession *session;
	GHashTable *downloads; /* url -> UcvDownload, one per URL however many ask */
	GCancellable *cancellable;
};

G_DEFINE_TYPE(UcvImageCache, ucv_image_cache, G_TYPE_OBJECT)

typedef struct {
	gchar *path;
	gchar *format;
} UcvImageResult;

static void
ucv_image_result_free(UcvImageResult *result)
{
	g_free(result->path);
	g_free(result->format);
	g_free(result);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(UcvImageResult, ucv_image_result_free)

static UcvImageResult *
ucv_image_result_new(const gchar *path, const gchar *format)
{
	UcvImageResult *result = g_new0(UcvImageResult, 1);

	result->path = g_strdup(path);
	result->format = g_strdup(format);
	return result;
}

/* One download in flight; owned by self->downloads and freed when it is removed there. */
typedef struct {
	UcvImageCache *self;
	gchar *url;
	gchar *label; /* the URL without credentials or query, fit for logs and messages */
	gchar *path;
	gchar *part_path;
	GPtrArray *waiters; /* GTask */
	GOutputStream *out;
	goffset expected;
} UcvDownload;

static void
ucv_download_free(UcvDownload *dl)
{
	g_free(dl->url);
	g_free(dl->label);
	g_free(dl->path);
	g_free(dl->part_path);
	g_ptr_array_unref(dl->waiters);
	g_clear_object(&dl->out);
	g_free(dl);
}

/* qcow2 images announce themselves; anything else is handed to QEMU as raw. */
static gboolean
ucv_image_detect_format(const gchar *path, gchar **format, GError **error)
{
	gchar magic[UCV_QCOW2_MAGIC_LEN] = {0};
	ssize_t n;
	int fd;

	fd = g_open(path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0) {
		int errsv = errno;
		g_set_error(error, UCV_ERROR,
			    errsv == ENOENT ? UCV_ERROR_NOT_FOUND : UCV_ERROR_FAILED,
			    "cannot open %s: %s", path, g_strerror(errsv));
		return FALSE;
	}
	n = read(fd, magic, sizeof(magic));
	g_close(fd, NULL);
	if (n == UCV_QCOW2_MAGIC_LEN && memcmp(magic, UCV_QCOW2_MAGIC, UCV_QCOW2_MAGIC_LEN) == 0)
		*format = g_strdup("qcow2");
	else
		*format = g_strdup("raw");
	return TRUE;
}

static void
ucv_detect_thread(GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
	const gchar *path = task_data;
	g_autofree gchar *format = NULL;
	GError *error = NULL;

	if (!ucv_image_detect_format(path, &format, &error)) {
		g_task_return_error(task, error);
		return;
	}
	g_task_return_pointer(task, ucv_image_result_new(path, format),
			      (GDestroyNotify)ucv_image_result_free);
}

static void
ucv_image_cache_detect(GTask *task, const gchar *path)
{
	g_task_set_task_data(task, g_strdup(path), g_free);
	g_task_run_in_thread(task, ucv_detect_thread);
}

/* A bare name may not reach outside the image directory: no '/', no leading '.'. */
static gboolean
ucv_image_name_is_valid(const gchar *name)
{
	if (name[0] == '\0' || name[0] == '.')
		return FALSE;
	for (const gchar *p = name; *p != '\0'; p++) {
		if (!g_ascii_isalnum(*p) && *p != '.' && *p != '_' && *p != '-')
			return FALSE;
	}
	return TRUE;
}

static void
ucv_image_cache_ensure_name(UcvImageCache *self, GTask *task, const gchar *name)
{
	g_autofree gchar *file = NULL;
	g_autofree gchar *path = NULL;

	if (!ucv_image_name_is_valid(name)) {
		g_task_return_new_error(task, UCV_ERROR, UCV_ERROR_INVALID,
					"'%s' is not a valid image name", name);
		return;
	}
	file = g_strconcat(name, UCV_IMAGE_SUFFIX, NULL);
	path = g_build_filename(self->image_dir, file, NULL);
	if (!g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
		g_task_return_new_error(task, UCV_ERROR, UCV_ERROR_NOT_FOUND,
					"image '%s' is not available on this provider", name);
		return;
	}
	ucv_image_cache_detect(task, path);
}

/* Every waiter gets the same outcome; the entry goes away before anyone hears of it. */
static void
ucv_download_complete(UcvDownload *dl, UcvImageResult *result, const GError *error)
{
	UcvImageCache *self = dl->self;
	g_autoptr(GPtrArray) waiters = g_ptr_array_ref(dl->waiters);
	g_autofree gchar *url = g_strdup(dl->url);

	if (error != NULL) {
		g_info("%s", error->message);
		if (dl->part_path != NULL)
			g_unlink(dl->part_path);
	}
	g_hash_table_remove(self->downloads, url);
	for (guint i = 0; i < waiters->len; i++) {
		GTask *task = g_ptr_array_index(waiters, i);
		if (error != NULL)
			g_task_return_error(task, g_error_copy(error));
		else
			g_task_return_pointer(task,
					      ucv_image_result_new(result->path, result->format),
					      (GDestroyNotify)ucv_image_result_free);
	}
}

static void
ucv_download_fail(UcvDownload *dl, UcvError code, const gchar *what, const GError *cause)
{
	g_autoptr(GError) error = NULL;

	if (dl->out != NULL)
		g_output_stream_close(dl->out, NULL, NULL);
	error = g_error_new(UCV_ERROR, code, "cannot download %s: %s%s%s", dl->label, what,
			    cause != NULL ? ": " : "", cause != NULL ? cause->message : "");
	ucv_download_complete(dl, NULL, error);
}

/* The rename itself must reach the disk, or a crash could bring back neither name. */
static void
ucv_fsync_dir(const gchar *path)
{
	int fd = g_open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);

	if (fd < 0)
		return;
	if (fsync(fd) != 0)
		g_debug("cannot sync %s: %s", path, g_strerror(errno));
	g_close(fd, NULL);
}

/* Only a complete, durable file gets the final name, so a crash never leaves a usable half. */
static void
ucv_download_commit_thread(GTask *task, gpointer source, gpointer task_data,
			   GCancellable *cancellable)
{
	UcvDownload *dl = task_data;
	g_autofree gchar *format = NULL;
	GError *error = NULL;
	int fd = g_unix_output_stream_get_fd(G_UNIX_OUTPUT_STREAM(dl->out));

	if (fsync(fd) != 0) {
		g_task_return_new_error(task, UCV_ERROR, UCV_ERROR_FAILED, "fsync: %s",
					g_strerror(errno));
		return;
	}
	if (!g_output_stream_close(dl->out, NULL, &error)) {
		g_task_return_error(task, error);
		return;
	}
	if (g_rename(dl->part_path, dl->path) != 0) {
		g_task_return_new_error(task, UCV_ERROR, UCV_ERROR_FAILED, "rename: %s",
					g_strerror(errno));
		return;
	}
	ucv_fsync_dir(dl->self->cache_dir);
	if (!ucv_image_detect_format(dl->path, &format, &error)) {
		g_task_return_error(task, error);
		return;
	}
	g_task_return_pointer(task, ucv_image_result_new(dl->path, format),
			      (GDestroyNotify)ucv_image_result_free);
}

static void
ucv_download_committed_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	UcvDownload *dl = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvImageResult) result = g_task_propagate_pointer(G_TASK(res), &error);

	if (result == NULL) {
		ucv_download_fail(dl, UCV_ERROR_FAILED, "cannot store the image", error);
		return;
	}
	g_info("downloaded %s to %s (%s)", dl->label, result->path, result->format);
	g_clear_pointer(&dl->part_path, g_free);
	ucv_download_complete(dl, result, NULL);
}

static void
ucv_download_spliced_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	UcvDownload *dl = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(GTask) task = NULL;
	gssize n;

	n = g_output_stream_splice_finish(G_OUTPUT_STREAM(source), res, &error);
	if (n < 0) {
		ucv_download_fail(dl, UCV_ERROR_UNAVAILABLE, "the transfer broke off", error);
		return;
	}
	if (dl->expected >= 0 && n != dl->expected) {
		ucv_download_fail(dl, UCV_ERROR_UNAVAILABLE, "the transfer was incomplete", NULL);
		return;
	}
	task = g_task_new(dl->self, NULL, ucv_download_committed_cb, dl);
	g_task_set_task_data(task, dl, NULL);
	g_task_run_in_thread(task, ucv_download_commit_thread);
}

static gboolean
ucv_download_open_part(UcvDownload *dl, GError **error)
{
	int fd;

	if (g_mkdir_with_parents(dl->self->cache_dir, 0755) != 0) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_FAILED, "cannot create %s: %s",
			    dl->self->cache_dir, g_strerror(errno));
		return FALSE;
	}
	dl->part_path =
		g_strdup_printf("%s.part-%08x%08x", dl->path, g_random_int(), g_random_int());
	fd = g_open(dl->part_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_FAILED, "cannot create %s: %s",
			    dl->part_path, g_strerror(errno));
		g_clear_pointer(&dl->part_path, g_free);
		return FALSE;
	}
	dl->out = g_unix_output_stream_new(fd, TRUE);
	return TRUE;
}

static UcvError
ucv_http_status_error(guint status)
{
	if (status == SOUP_STATUS_NOT_FOUND || status == SOUP_STATUS_GONE ||
	    status == SOUP_STATUS_FORBIDDEN || status == SOUP_STATUS_UNAUTHORIZED)
		return UCV_ERROR_NOT_FOUND;
	return UCV_ERROR_UNAVAILABLE;
}

static void
ucv_download_sent_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	UcvDownload *dl = user_data;
	SoupMessage *msg = soup_session_get_async_result_message(SOUP_SESSION(source), res);
	g_autoptr(GInputStream) in = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *what = NULL;
	SoupMessageHeaders *headers;
	guint status;

	in = soup_session_send_finish(SOUP_SESSION(source), res, &error);
	if (in == NULL) {
		ucv_download_fail(dl, UCV_ERROR_UNAVAILABLE, "the request failed", error);
		return;
	}
	status = soup_message_get_status(msg);
	if (!SOUP_STATUS_IS_SUCCESSFUL(status)) {
		what = g_strdup_printf("HTTP %u %s", status, soup_message_get_reason_phrase(msg));
		g_input_stream_close(in, NULL, NULL);
		ucv_download_fail(dl, ucv_http_status_error(status), what, NULL);
		return;
	}
	headers = soup_message_get_response_headers(msg);
	dl->expected = soup_message_headers_get_encoding(headers) == SOUP_ENCODING_CONTENT_LENGTH
			       ? soup_message_headers_get_content_length(headers)
			       : -1;
	if (!ucv_download_open_part(dl, &error)) {
		g_input_stream_close(in, NULL, NULL);
		ucv_download_fail(dl, UCV_ERROR_FAILED, "cannot store the image", error);
		return;
	}
	g_output_stream_splice_async(dl->out, in, G_OUTPUT_STREAM_SPLICE_CLOSE_SOURCE,
				     G_PRIORITY_LOW, dl->self->cancellable, ucv_download_spliced_cb,
				     dl);
}

static gchar *
ucv_url_label(GUri *uri)
{
	return g_uri_to_string_partial(uri, G_URI_HIDE_USERINFO | G_URI_HIDE_QUERY |
						    G_URI_HIDE_FRAGMENT);
}

static void
ucv_image_cache_download(UcvImageCache *self, GTask *task, const gchar *url, GUri *uri)
{
	g_autofree gchar *hash = g_compute_checksum_for_string(G_CHECKSUM_SHA256, url, -1);
	g_autofree gchar *path = g_build_filename(self->cache_dir, hash, NULL);
	g_autoptr(SoupMessage) msg = NULL;
	UcvDownload *dl;

	if (g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
		ucv_image_cache_detect(task, path);
		return;
	}
	dl = g_hash_table_lookup(self->downloads, url);
	if (dl != NULL) {
		g_ptr_array_add(dl->waiters, g_object_ref(task));
		return;
	}
	dl = g_new0(UcvDownload, 1);
	dl->self = self;
	dl->url = g_strdup(url);
	dl->label = ucv_url_label(uri);
	dl->path = g_steal_pointer(&path);
	dl->expected = -1;
	dl->waiters = g_ptr_array_new_with_free_func(g_object_unref);
	g_ptr_array_add(dl->waiters, g_object_ref(task));
	g_hash_table_insert(self->downloads, g_strdup(url), dl);

	g_info("downloading %s", dl->label);
	msg = soup_message_new_from_uri(SOUP_METHOD_GET, uri);
	soup_session_send_async(self->session, msg, G_PRIORITY_LOW, self->cancellable,
				ucv_download_sent_cb, dl);
}

static void
ucv_image_cache_ensure_url(UcvImageCache *self, GTask *task, const gchar *url)
{
	g_autoptr(GUri) uri = NULL;
	g_autoptr(GError) error = NULL;
	const gchar *scheme;

	uri = g_uri_parse(url, SOUP_HTTP_URI_FLAGS, &error);
	if (uri == NULL) {
		g_task_return_new_error(task, UCV_ERROR, UCV_ERROR_INVALID,
					"the image URL is malformed: %s", error->message);
		return;
	}
	scheme = g_uri_get_scheme(uri);
	if (g_ascii_strcasecmp(scheme, "http") != 0 && g_ascii_strcasecmp(scheme, "https") != 0) {
		g_task_return_new_error(task, UCV_ERROR, UCV_ERROR_INVALID,
					"images can only be fetched over http or https, not %s",
					scheme);
		return;
	}
	if (g_uri_get_host(uri) == NULL || g_uri_get_host(uri)[0] == '\0') {
		g_task_return_new_error(task, UCV_ERROR, UCV_ERROR_INVALID,
					"the image URL names no host");
		return;
	}
	ucv_image_cache_download(self, task, url, uri);
}

void
ucv_image_cache_ensure_async(UcvImageCache *self, const gchar *image, GCancellable *cancellable,
			     GAsyncReadyCallback callback, gpointer user_data)
{
	g_autoptr(GTask) task = NULL;

	g_return_if_fail(UCV_IS_IMAGE_CACHE(self));
	g_return_if_fail(image != NULL);

	task = g_task_new(self, cancellable, callback, user_data);
	g_task_set_source_tag(task, ucv_image_cache_ensure_async);
	if (g_uri_peek_scheme(image) != NULL)
		ucv_image_cache_ensure_url(self, task, image);
	else
		ucv_image_cache_ensure_name(self, task, image);
}

gchar *
ucv_image_cache_ensure_finish(UcvImageCache *self, GAsyncResult *res, gchar **format,
			      GError **error)
{
	g_autoptr(UcvImageResult) result = NULL;

	g_return_val_if_fail(g_task_is_valid(res, self), NULL);

	result = g_task_propagate_pointer(G_TASK(res), error);
	if (result == NULL)
		return NULL;
	if (format != NULL)
		*format = g_steal_pointer(&result->format);
	return g_steal_pointer(&result->path);
}

static void
ucv_image_cache_dispose(GObject *object)
{
	UcvImageCache *self = UCV_IMAGE_CACHE(object);

	g_cancellable_cancel(self->cancellable);
	g_clear_object(&self->session);
	G_OBJECT_CLASS(ucv_image_cache_parent_class)->dispose(object);
}

static void
ucv_image_cache_finalize(GObject *object)
{
	UcvImageCache *self = UCV_IMAGE_CACHE(object);

	g_hash_table_unref(self->downloads);
	g_clear_object(&self->cancellable);
	g_free(self->image_dir);
	g_free(self->cache_dir);
	G_OBJECT_CLASS(ucv_image_cache_parent_class)->finalize(object);
}

static void
ucv_image_cache_class_init(UcvImageCacheClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->dispose = ucv_image_cache_dispose;
	object_class->finalize = ucv_image_cache_finalize;
}

static void
ucv_image_cache_init(UcvImageCache *self)
{
	self->downloads = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
						(GDestroyNotify)ucv_download_free);
	self->cancellable = g_cancellable_new();
	self->session = soup_session_new_with_options("user-agent", "ucloud-virt/" PACKAGE_VERSION,
						      "timeout", UCV_DOWNLOAD_TIMEOUT_S, NULL);
}

UcvImageCache *
ucv_image_cache_new(const gchar *image_dir)
{
	UcvImageCache *self;

	g_return_val_if_fail(image_dir != NULL, NULL);

	self = g_object_new(UCV_TYPE_IMAGE_CACHE, NULL);
	self->image_dir = g_strdup(image_dir);
	self->cache_dir = g_build_filename(image_dir, "cache", NULL);
	return self;
}
