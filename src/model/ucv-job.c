/* Parses Core's Job JSON (documented and current form) into a UcvJob, tolerating null and extras.
 */
#include "config.h"

#include "ucv-job.h"

#include <string.h>

#include "ucv-error.h"
#include "ucv-json.h"

/* Job ids become parts of libvirt domain names and file paths. */
#define UCV_JOB_ID_MAX_LENGTH 64

/* 300 years is far beyond any allocation and keeps the millisecond arithmetic in range. */

static const gchar *const ucv_job_state_names[] = {
	[UCV_JOB_STATE_IN_QUEUE] = "IN_QUEUE",   [UCV_JOB_STATE_RUNNING] = "RUNNING",
	[UCV_JOB_STATE_CANCELING] = "CANCELING", [UCV_JOB_STATE_SUCCESS] = "SUCCESS",
	[UCV_JOB_STATE_FAILURE] = "FAILURE",     [UCV_JOB_STATE_EXPIRED] = "EXPIRED",
	[UCV_JOB_STATE_SUSPENDED] = "SUSPENDED",
};

static const gchar *const ucv_backend_names[] = {
	[UCV_BACKEND_UNKNOWN] = "UNKNOWN", [UCV_BACKEND_VIRTUAL_MACHINE] = "VIRTUAL_MACHINE",
	[UCV_BACKEND_DOCKER] = "DOCKER",   [UCV_BACKEND_NATIVE] = "NATIVE",
	[UCV_BACKEND_OTHER] = "OTHER",
};

const gchar *
ucv_job_state_to_string(UcvJobState state)
{
	if ((guint)state >= G_N_ELEMENTS(ucv_job_state_names))
		return NULL;
	return ucv_job_state_names[state];
}

gboolean
ucv_job_state_from_string(const gchar *str, UcvJobState *state)
{
	for (guint i = 0; i < G_N_ELEMENTS(ucv_job_state_names); i++) {
		if (g_strcmp0(str, ucv_job_state_names[i]) == 0) {
			if (state != NULL)
				*state = (UcvJobState)i;
			return TRUE;
		}
	}
	return FALSE;
}

gboolean
ucv_job_state_is_final(UcvJobState state)
{
	return state == UCV_JOB_STATE_SUCCESS || state == UCV_JOB_STATE_FAILURE ||
	       state == UCV_JOB_STATE_EXPIRED;
}

const gchar *
ucv_backend_to_string(UcvBackend backend)
{
	if ((guint)backend >= G_N_ELEMENTS(ucv_backend_names))
		return NULL;
	return ucv_backend_names[backend];
}

static UcvBackend
ucv_backend_from_string(const gchar *str)
{
	if (str == NULL)
		return UCV_BACKEND_UNKNOWN;
	for (guint i = UCV_BACKEND_VIRTUAL_MACHINE; i < UCV_BACKEND_OTHER; i++) {
		if (g_strcmp0(str, ucv_backend_names[i]) == 0)
			return (UcvBackend)i;
	}
	return UCV_BACKEND_OTHER;
}

static gboolean
ucv_job_id_is_safe(const gchar *id)
{
	gsize len = strlen(id);

	/* the first character is alphanumeric so "." and ".." and option-like ids are impossible */
	if (len == 0 || len > UCV_JOB_ID_MAX_LENGTH || !g_ascii_isalnum(id[0]))
		return FALSE;
	for (gsize i = 0; i < len; i++) {
		if (!g_ascii_isalnum(id[i]) && id[i] != '.' && id[i] != '_' && id[i] != '-')
			return FALSE;
	}
	return TRUE;
}

static gboolean
ucv_job_parse_id(UcvJob *self, JsonObject *root, GError **error)
{
	if (!ucv_json_read_string(root, "id", &self->id, UCV_ERROR_INVALID, error))
		return FALSE;
	if (self->id == NULL) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_INVALID, "the job has no id");
		return FALSE;
	}
	if (!ucv_job_id_is_safe(self->id)) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_INVALID,
				    "job id must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' "
				    "and '-', starting with a letter or digit");
		return FALSE;
	}
	return TRUE;
}

static gboolean
ucv_job_parse_owner(UcvJob *self, JsonObject *root, GError **error)
{
	JsonObject *owner = NULL;

	if (!ucv_json_read_int(root, "createdAt", 0, G_MAXINT64, &self->created_at_ms,
			       UCV_ERROR_INVALID, error))
		return FALSE;
	if (!ucv_json_read_object(root, "owner", &owner, UCV_ERROR_INVALID, error))
		return FALSE;
	if (!ucv_json_read_string(owner, "createdBy", &self->created_by, UCV_ERROR_INVALID, error))
		return FALSE;
	if (!ucv_json_read_string(owner, "project", &self->project, UCV_ERROR_INVALID, error))
		return FALSE;
	return TRUE;
}

static gboolean
ucv_job_parse_product(UcvJob *self, JsonObject *spec, GError **error)
{
	JsonObject *product = NULL;

	if (!ucv_json_read_object(spec, "product", &product, UCV_ERROR_INVALID, error))
		return FALSE;
	if (!ucv_json_read_string(product, "id", &self->product_id, UCV_ERROR_INVALID, error))
		return FALSE;
	if (!ucv_json_read_string(product, "category", &self->product_category, UCV_ERROR_INVALID,
				  error))
		return FALSE;
	if (!ucv_json_read_string(product, "provider", &self->product_provider, UCV_ERROR_INVALID,
				  error))
		return FALSE;
	return TRUE;
}

static gboolean
ucv_job_parse_application(UcvJob *self, JsonObject *spec, GError **error)
{
	JsonObject *app = NULL;

	if (!ucv_json_read_object(spec, "application", &app, UCV_ERROR_INVALID, error))
		return FALSE;
	if (!ucv_json_read_string(app, "name", &self->app_name, UCV_ERROR_INVALID, error))
		return FALSE;
	if (!ucv_json_read_string(app, "version", &self->app_version, UCV_ERROR_INVALID, error))
		return FALSE;
	return TRUE;
}

static gboolean
ucv_job_parse_replicas(UcvJob *self, JsonObject *spec, GError **error)
{
	gint64 replicas = 1;

	if (!ucv_json_read_int(spec, "replicas", 0, G_MAXINT32, &replicas, UCV_ERROR_INVALID,
			       error))
		return FALSE;
	self->replicas = (guint)replicas;
	return TRUE;
}

static gboolean
ucv_job_parse_time_allocation(UcvJob *self, JsonObject *spec, GError **error)
{
	return ucv_json_read_duration(spec, "timeAllocation", &self->time_allocation_ms,
				      UCV_ERROR_INVALID, error);
}

/* The VM disk size the user chose: the integer parameter diskSize, in GiB. */
static gboolean
ucv_job_parse_parameters(UcvJob *self, JsonObject *spec, GError **error)
{
	JsonObject *parameters = NULL;
	JsonObject *disk = NULL;

	if (!ucv_json_read_object(spec, "parameters", &parameters, UCV_ERROR_INVALID, error) ||
	    !ucv_json_read_object(parameters, "diskSize", &disk, UCV_ERROR_INVALID, error) ||
	    !ucv_json_read_int(disk, "value", 1, G_MAXINT32, &self->disk_size_gib,
			       UCV_ERROR_INVALID, error)) {
		g_prefix_error(error, "parameters: ");
		return FALSE;
	}
	return TRUE;
}

/* The job's init script travels as a label. */
static gboolean
ucv_job_parse_labels(UcvJob *self, JsonObject *spec, GError **error)
{
	JsonObject *labels = NULL;

	if (!ucv_json_read_object(spec, "labels", &labels, UCV_ERROR_INVALID, error) ||
	    !ucv_json_read_string(labels, "ucloud.dk/init-script", &self->init_script,
				  UCV_ERROR_INVALID, error)) {
		g_prefix_error(error, "labels: ");
		return FALSE;
	}
	return TRUE;
}

static gboolean
ucv_job_parse_specification(UcvJob *self, JsonObject *root, GError **error)
{
	JsonObject *spec = NULL;

	if (!ucv_json_read_object(root, "specification", &spec, UCV_ERROR_INVALID, error))
		return FALSE;
	if (spec == NULL)
		return TRUE;
	if (!ucv_job_parse_product(self, spec, error) ||
	    !ucv_job_parse_application(self, spec, error) ||
	    !ucv_json_read_string(spec, "name", &self->name, UCV_ERROR_INVALID, error) ||
	    !ucv_json_read_string(spec, "hostname", &self->hostname, UCV_ERROR_INVALID, error) ||
	    !ucv_job_parse_replicas(self, spec, error) ||
	    !ucv_job_parse_time_allocation(self, spec, error) ||
	    !ucv_job_parse_parameters(self, spec, error) ||
	    !ucv_job_parse_labels(self, spec, error) ||
	    !ucv_json_read_bool(spec, "sshEnabled", &self->ssh_enabled, UCV_ERROR_INVALID, error)) {
		g_prefix_error(error, "specification: ");
		return FALSE;
	}
	return TRUE;
}

/* Walks resolvedApplication.invocation.tool.tool.description, any link of which may be missing. */
static gboolean
ucv_job_find_tool_description(JsonObject *app, JsonObject **description, GError **error)
{
	const gchar *path[] = {"invocation", "tool", "tool", "description"};
	JsonObject *obj = app;

	*description = NULL;
	for (guint i = 0; i < G_N_ELEMENTS(path) && obj != NULL; i++) {
		if (!ucv_json_read_object(obj, path[i], &obj, UCV_ERROR_INVALID, error))
			return FALSE;
	}
	*description = obj;
	return TRUE;
}

/* resolvedApplication.invocation: how a DOCKER tool's process runs and what it serves. Any link
 * may be missing (the readers take NULL objects as absent). */
static gboolean
ucv_job_parse_invocation(UcvJob *self, JsonObject *app, GError **error)
{
	JsonObject *invocation = NULL;
	JsonObject *container = NULL;
	JsonObject *web = NULL;
	JsonObject *vnc = NULL;
	gint64 port = 0;
	gint64 vnc_port = 0;

	if (!ucv_json_read_object(app, "invocation", &invocation, UCV_ERROR_INVALID, error) ||
	    !ucv_json_read_object(invocation, "container", &container, UCV_ERROR_INVALID, error) ||
	    !ucv_json_read_bool(container, "runAsRoot", &self->run_as_root, UCV_ERROR_INVALID,
				error) ||
	    !ucv_json_read_string(invocation, "applicationType", &self->application_type,
				  UCV_ERROR_INVALID, error) ||
	    !ucv_json_read_object(invocation, "web", &web, UCV_ERROR_INVALID, error) ||
	    !ucv_json_read_int(web, "port", 1, 65535, &port, UCV_ERROR_INVALID, error) ||
	    !ucv_json_read_object(invocation, "vnc", &vnc, UCV_ERROR_INVALID, error) ||
	    !ucv_json_read_int(vnc, "port", 1, 65535, &vnc_port, UCV_ERROR_INVALID, error) ||
	    !ucv_json_read_string(vnc, "password", &self->vnc_password, UCV_ERROR_INVALID, error))
		return FALSE;
	self->web_port = (guint)port;
	self->vnc_port = (guint)vnc_port;
	return TRUE;
}

static gboolean
ucv_job_parse_status(UcvJob *self, JsonObject *root, GError **error)
{
	JsonObject *status = NULL;
	JsonObject *app = NULL;
	JsonObject *description = NULL;

	if (!ucv_json_read_object(root, "status", &status, UCV_ERROR_INVALID, error) ||
	    !ucv_json_read_object(status, "resolvedApplication", &app, UCV_ERROR_INVALID, error) ||
	    !ucv_job_find_tool_description(app, &description, error) ||
	    !ucv_json_read_string(description, "backend", &self->backend_name, UCV_ERROR_INVALID,
				  error) ||
	    !ucv_json_read_string(description, "image", &self->image, UCV_ERROR_INVALID, error) ||
	    !ucv_job_parse_invocation(self, app, error)) {
		g_prefix_error(error, "status: ");
		return FALSE;
	}
	self->app_resolved = app != NULL;
	self->backend = ucv_backend_from_string(self->backend_name);
	return TRUE;
}

static void
ucv_job_clear(gpointer data)
{
	UcvJob *self = data;

	g_free(self->id);
	g_free(self->created_by);
	g_free(self->project);
	g_free(self->product_id);
	g_free(self->product_category);
	g_free(self->product_provider);
	g_free(self->app_name);
	g_free(self->app_version);
	g_free(self->name);
	g_free(self->hostname);
	g_free(self->backend_name);
	g_free(self->image);
	g_free(self->application_type);
	g_free(self->vnc_password);
	g_free(self->init_script);
	g_free(self->json);
}

UcvJob *
ucv_job_new_from_json(JsonNode *node, GError **error)
{
	g_autoptr(UcvJob) self = NULL;
	JsonObject *root;

	g_return_val_if_fail(node != NULL, NULL);

	if (!JSON_NODE_HOLDS_OBJECT(node)) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_INVALID,
				    "a job must be a JSON object");
		return NULL;
	}
	root = json_node_get_object(node);
	self = g_atomic_rc_box_new0(UcvJob);
	self->replicas = 1;
	if (!ucv_job_parse_id(self, root, error))
		return NULL;
	if (!ucv_job_parse_owner(self, root, error))
		return NULL;
	if (!ucv_job_parse_specification(self, root, error))
		return NULL;
	if (!ucv_job_parse_status(self, root, error))
		return NULL;
	self->json = json_to_string(node, FALSE);
	return g_steal_pointer(&self);
}

UcvJob *
ucv_job_new_from_string(const gchar *json, GError **error)
{
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) error_local = NULL;

	g_return_val_if_fail(json != NULL, NULL);

	if (!json_parser_load_from_data(parser, json, -1, &error_local)) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID, "malformed JSON: %s",
			    error_local->message);
		return NULL;
	}
	if (json_parser_get_root(parser) == NULL) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_INVALID, "empty JSON document");
		return NULL;
	}
	return ucv_job_new_from_json(json_parser_get_root(parser), error);
}

UcvJob *
ucv_job_ref(UcvJob *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return g_atomic_rc_box_acquire(self);
}

void
ucv_job_unref(UcvJob *self)
{
	g_return_if_fail(self != NULL);
	g_atomic_rc_box_release_full(self, ucv_job_clear);
}
