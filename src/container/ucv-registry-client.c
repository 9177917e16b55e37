/* The registry client: manifests (through an index to linux/amd64) and blobs (written aside and
 * kept only when their digest matches), each fetched as a registry call (ucv-registry-call.c). */
#define G_LOG_DOMAIN "ucv-container"

#include "config.h"

#include "ucv-registry-client.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>

#include "container/ucv-registry-call.h"
#include "model/ucv-error.h"

#define MAX_MANIFEST (4 * 1024 * 1024)
/* an index leads to a manifest; anything deeper is a loop */
#define MAX_HOPS 2

static const gchar *const manifest_types = UCV_MEDIA_OCI_INDEX
	", " UCV_MEDIA_DOCKER_LIST ", " UCV_MEDIA_OCI_MANIFEST ", " UCV_MEDIA_DOCKER_MANIFEST;

struct _UcvRegistryClient {
	GObject parent_instance;
	SoupSession *session;
	GStrv insecure;
	GHashTable *tokens; /* "registry/repository" -> bearer token */
};

G_DEFINE_TYPE(UcvRegistryClient, ucv_registry_client, G_TYPE_OBJECT)

static gchar *
registry_url(UcvRegistryClient *self, const UcvImageRef *ref, const gchar *kind,
	     const gchar *reference)
{
	gboolean insecure = self->insecure != NULL &&
			    g_strv_contains((const gchar *const *)self->insecure, ref->registry);

	return g_strdup_printf("%s://%s/v2/%s/%s/%s", insecure ? "http" : "https", ref->registry,
			       ref->repository, kind, reference);
}

/* Manifests
 * ---------------------------------------------------------------------------------------------- */

static void on_manifest_body(GTask *task);

static void
request_manifest(GTask *task, const gchar *reference)
{
	UcvRegistryCall *call = g_task_get_task_data(task);

	g_free(call->url);
	call->url = registry_url(call->client, call->ref, "manifests", reference);
	call->accept = manifest_types;
	g_clear_pointer(&call->sink.buffer, g_byte_array_unref);
	call->sink.buffer = g_byte_array_new();
	call->sink.received = 0;
	call->sink.max_bytes = MAX_MANIFEST;
	call->done = on_manifest_body;
	ucv_registry_call_send(g_object_ref(task));
}

static void
on_manifest_body(GTask *task)
{
	UcvRegistryCall *call = g_task_get_task_data(task);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *index_choice = NULL;
	UcvImageManifest *manifest =
		ucv_image_manifest_parse((const gchar *)call->sink.buffer->data,
					 call->sink.buffer->len, &index_choice, &error);

	if (manifest == NULL && index_choice != NULL && ++call->hops < MAX_HOPS) {
		request_manifest(task, index_choice);
		return;
	}
	if (manifest == NULL) {
		if (error == NULL)
			g_set_error_literal(&error, UCV_ERROR, UCV_ERROR_INVALID,
					    "the registry's index leads to another index");
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	/* asked for by digest: the answer must be that very manifest */
	if (call->ref->digest != NULL && call->hops == 0 &&
	    g_strcmp0(manifest->digest, call->ref->digest) != 0) {
		ucv_image_manifest_free(manifest);
		g_task_return_new_error(task, UCV_ERROR, UCV_ERROR_INVALID,
					"the registry's manifest does not match the digest %s",
					call->ref->digest);
		return;
	}
	g_task_return_pointer(task, manifest, (GDestroyNotify)ucv_image_manifest_free);
}

void
ucv_registry_client_get_manifest_async(UcvRegistryClient *self, const UcvImageRef *ref,
				       GCancellable *cancellable, GAsyncReadyCallback callback,
				       gpointer user_data)
{
	g_autoptr(GTask) task = NULL;

	g_return_if_fail(UCV_IS_REGISTRY_CLIENT(self));
	g_return_if_fail(ref != NULL);

	task = g_task_new(self, cancellable, callback, user_data);
	g_task_set_source_tag(task, ucv_registry_client_get_manifest_async);
	g_task_set_task_data(task, ucv_registry_call_new(self, ref),
			     (GDestroyNotify)ucv_registry_call_free);
	request_manifest(task, ucv_image_ref_get_reference(ref));
}

UcvImageManifest *
ucv_registry_client_get_manifest_finish(UcvRegistryClient *self, GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(res, self), NULL);
	return g_task_propagate_pointer(G_TASK(res), error);
}

/* Blobs
 * ---------------------------------------------------------------------------------------------- */

static void
on_blob_body(GTask *task)
{
	UcvRegistryCall *call = g_task_get_task_data(task);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *digest =
		g_strconcat("sha256:", g_checksum_get_string(call->sink.checksum), NULL);

	if (!g_output_stream_close(call->sink.file, NULL, &error)) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	if (g_strcmp0(digest, call->blob_digest) != 0) {
		g_task_return_new_error(task, UCV_ERROR, UCV_ERROR_INVALID,
					"the registry sent a blob whose digest is %s, not %s",
					digest, call->blob_digest);
		return;
	}
	if (g_rename(call->temp_path, call->blob_path) != 0) {
		g_task_return_new_error(task, G_IO_ERROR, g_io_error_from_errno(errno),
					"cannot keep the blob as %s: %s", call->blob_path,
					g_strerror(errno));
		return;
	}
	g_clear_pointer(&call->temp_path, g_free);
	g_task_return_boolean(task, TRUE);
}

static gboolean
open_temp_file(UcvRegistryCall *call, GError **error)
{
	g_autoptr(GFile) file = NULL;
	g_autoptr(GFileOutputStream) out = NULL;

	call->temp_path = g_strdup_printf("%s.part-%08x", call->blob_path, g_random_int());
	file = g_file_new_for_path(call->temp_path);
	out = g_file_create(file, G_FILE_CREATE_PRIVATE, NULL, error);
	if (out == NULL) {
		g_clear_pointer(&call->temp_path, g_free);
		return FALSE;
	}
	call->sink.file = G_OUTPUT_STREAM(g_steal_pointer(&out));
	return TRUE;
}

void
ucv_registry_client_fetch_blob_async(UcvRegistryClient *self, const UcvImageRef *ref,
				     const gchar *digest, const gchar *path, guint64 max_bytes,
				     UcvRegistryProgressFunc progress, gpointer progress_data,
				     GCancellable *cancellable, GAsyncReadyCallback callback,
				     gpointer user_data)
{
	g_autoptr(GTask) task = NULL;
	g_autoptr(GError) error = NULL;
	UcvRegistryCall *call;

	g_return_if_fail(UCV_IS_REGISTRY_CLIENT(self));

	task = g_task_new(self, cancellable, callback, user_data);
	g_task_set_source_tag(task, ucv_registry_client_fetch_blob_async);
	if (!ucv_image_ref_is_digest(digest)) {
		g_task_return_new_error(task, UCV_ERROR, UCV_ERROR_INVALID,
					"\"%s\" is not a blob digest", digest);
		return;
	}
	call = ucv_registry_call_new(self, ref);
	g_task_set_task_data(task, call, (GDestroyNotify)ucv_registry_call_free);
	call->blob_digest = g_strdup(digest);
	call->blob_path = g_strdup(path);
	call->url = registry_url(self, ref, "blobs", digest);
	call->sink.max_bytes = max_bytes;
	call->sink.expected = max_bytes;
	call->sink.checksum = g_checksum_new(G_CHECKSUM_SHA256);
	call->sink.progress = progress;
	call->sink.progress_data = progress_data;
	if (!open_temp_file(call, &error)) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	call->done = on_blob_body;
	ucv_registry_call_send(g_steal_pointer(&task));
}

gboolean
ucv_registry_client_fetch_blob_finish(UcvRegistryClient *self, GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(res, self), FALSE);
	return g_task_propagate_boolean(G_TASK(res), error);
}

static void
ucv_registry_client_finalize(GObject *object)
{
	UcvRegistryClient *self = UCV_REGISTRY_CLIENT(object);

	g_object_unref(self->session);
	g_strfreev(self->insecure);
	g_hash_table_unref(self->tokens);
	G_OBJECT_CLASS(ucv_registry_client_parent_class)->finalize(object);
}

static void
ucv_registry_client_class_init(UcvRegistryClientClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = ucv_registry_client_finalize;
}

static void
ucv_registry_client_init(UcvRegistryClient *self)
{
	self->tokens = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
}

SoupSession *
ucv_registry_client_get_session(UcvRegistryClient *self)
{
	return self->session;
}

GHashTable *
ucv_registry_client_get_tokens(UcvRegistryClient *self)
{
	return self->tokens;
}

UcvRegistryClient *
ucv_registry_client_new(const gchar *const *insecure)
{
	UcvRegistryClient *self = g_object_new(UCV_TYPE_REGISTRY_CLIENT, NULL);

	self->session = soup_session_new_with_options("user-agent", "ucloud-virt/" PACKAGE_VERSION,
						      "timeout", 60, NULL);
	self->insecure = g_strdupv((gchar **)insecure);
	return self;
}
