/* What a machine is told on its first boot: hostname, the owner's SSH keys, the init script. */
#define G_LOG_DOMAIN "ucv-engine"

#include "config.h"

#include "engine/ucv-engine-private.h"
#include "engine/ucv-job-files.h"
#include "virt/ucv-seed.h"

gchar *
ucv_engine_hostname_for(UcvJob *job, guint rank)
{
	g_autofree gchar *name = NULL;

	if (job->hostname != NULL && ucv_seed_hostname_is_valid(job->hostname))
		name = job->replicas > 1 ? g_strdup_printf("%s-%u", job->hostname, rank)
					 : g_strdup(job->hostname);
	if (name == NULL || !ucv_seed_hostname_is_valid(name)) {
		g_free(name);
		/* job ids may hold '.' and '_', which a hostname label may not */
		name = g_strdup_printf("j%s-%u", job->id, rank);
		g_strcanon(name, G_CSET_A_2_Z G_CSET_a_2_z G_CSET_DIGITS "-", '-');
		if (strlen(name) > 63)
			name[63] = '\0';
	}
	return g_steal_pointer(&name);
}

/* {"items":[{"specification":{"key":…}},…]}: the keys, in order. */
static GStrv
keys_from_page(JsonNode *page)
{
	g_autoptr(GStrvBuilder) keys = g_strv_builder_new();
	JsonObject *root =
		page != NULL && JSON_NODE_HOLDS_OBJECT(page) ? json_node_get_object(page) : NULL;
	JsonNode *items = root != NULL ? json_object_get_member(root, "items") : NULL;
	JsonArray *array =
		items != NULL && JSON_NODE_HOLDS_ARRAY(items) ? json_node_get_array(items) : NULL;

	for (guint i = 0; array != NULL && i < json_array_get_length(array); i++) {
		JsonNode *item = json_array_get_element(array, i);
		JsonObject *spec = NULL;
		const gchar *key;

		if (!JSON_NODE_HOLDS_OBJECT(item))
			continue;
		spec = json_object_get_object_member(json_node_get_object(item), "specification");
		key = spec != NULL ? json_object_get_string_member_with_default(spec, "key", NULL)
				   : NULL;
		if (key != NULL)
			g_strv_builder_add(keys, key);
	}
	return g_strv_builder_end(keys);
}

static void
on_keys_browsed(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) page =
		ucv_core_client_post_finish(UCV_CORE_CLIENT(source), res, &error);

	if (page == NULL && error != NULL) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	g_task_return_pointer(task, keys_from_page(page), (GDestroyNotify)g_strfreev);
}

void
ucv_engine_fetch_ssh_keys_async(UcvEngine *self, UcvJob *job, GCancellable *cancellable,
				GAsyncReadyCallback callback, gpointer user_data)
{
	GTask *task = g_task_new(self, cancellable, callback, user_data);
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autoptr(JsonNode) body = NULL;
	g_autofree gchar *text = NULL;

	if (!job->ssh_enabled) {
		g_task_return_pointer(task, g_new0(gchar *, 1), (GDestroyNotify)g_strfreev);
		g_object_unref(task);
		return;
	}
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "jobId");
	json_builder_add_string_value(builder, job->id);
	json_builder_set_member_name(builder, "owner");
	json_builder_add_boolean_value(builder, TRUE);
	json_builder_set_member_name(builder, "itemsPerPage");
	json_builder_add_int_value(builder, 250);
	json_builder_end_object(builder);
	body = json_builder_get_root(builder);
	text = json_to_string(body, FALSE);
	ucv_core_client_post_async(self->core, "/api/jobs/control/browseSshKeys", text, cancellable,
				   on_keys_browsed, task);
}

GStrv
ucv_engine_fetch_ssh_keys_finish(UcvEngine *self, GAsyncResult *res, GError **error)
{
	return g_task_propagate_pointer(G_TASK(res), error);
}

void
ucv_engine_write_seed_async(UcvEngine *self, UcvJob *job, guint rank, GStrv ssh_keys,
			    GCancellable *cancellable, GAsyncReadyCallback callback,
			    gpointer user_data)
{
	g_autofree gchar *instance_id = g_strdup_printf("ucloud-%s-%u", job->id, rank);
	g_autofree gchar *hostname = ucv_engine_hostname_for(job, rank);
	g_autofree gchar *path = ucv_job_files_seed(self->config->state_dir, job->id, rank);
	UcvSeedSpec spec = {
		.instance_id = instance_id,
		.hostname = hostname,
		.ssh_keys = (const gchar *const *)ssh_keys,
		.user_data = job->init_script,
	};

	ucv_seed_write_async(&spec, path, cancellable, callback, user_data);
}
