/* The route table: every call of UCloud's provider API (spec §2) and nothing else. */
#include "config.h"

#include "ucv-routes.h"

#include <glib/gi18n.h>

#include "api/ucv-dynamic-parameters.h"
#include "api/ucv-integration-api.h"
#include "api/ucv-jobs-api.h"
#include "api/ucv-sessions-api.h"
#include "api/ucv-ssh-keys-api.h"
#include "api/ucv-utilization-api.h"

/* Core also polls retrieveProducts of files, ingresses, network IPs, licenses and private
 * networks; those paths are deliberately absent, so they answer 404. */
static const UcvRoute ucv_routes[] = {
	{"POST", "/ucloud/{id}/jobs", ucv_jobs_api_create, TRUE},
	{"GET", "/ucloud/{id}/jobs/retrieveProducts", ucv_jobs_api_retrieve_products, TRUE},
	{"POST", "/ucloud/{id}/jobs/terminate", ucv_jobs_api_terminate, TRUE},
	{"POST", "/ucloud/{id}/jobs/extend", ucv_jobs_api_extend, TRUE},
	{"POST", "/ucloud/{id}/jobs/suspend", ucv_jobs_api_suspend, TRUE},
	{"POST", "/ucloud/{id}/jobs/unsuspend", ucv_jobs_api_unsuspend, TRUE},
	/* the current name and the documented one share a handler */
	{"POST", "/ucloud/{id}/jobs/interactiveSession", ucv_sessions_api_open, TRUE},
	{"POST", "/ucloud/{id}/jobs/openInteractiveSession", ucv_sessions_api_open, TRUE},
	{"POST", "/ucloud/{id}/jobs/verify", ucv_jobs_api_verify, TRUE},
	{"GET", "/ucloud/{id}/jobs/retrieveUtilization", ucv_utilization_api_retrieve, TRUE},
	{"POST", "/ucloud/{id}/jobs/requestDynamicParameters", ucv_dynamic_parameters_request,
	 TRUE},
	{"POST", "/ucloud/{id}/jobs/updateAcl", ucv_jobs_api_update_acl, TRUE},
	{"GET", "/ucloud/{id}/integration/retrieveManifest", ucv_integration_api_retrieve_manifest,
	 TRUE},
	{"POST", "/ucloud/{id}/integration/init", ucv_integration_api_init, TRUE},
	/* a user's key set changed (sent on upload and on delete alike) */
	{"POST", "/ucloud/{id}/ssh/keyUploaded", ucv_ssh_keys_api_key_uploaded, TRUE},
};

struct _UcvRouteTable {
	/* expanded path -> GPtrArray of const UcvRoute* (one per method) */
	GHashTable *paths;
};

static gchar *
ucv_route_expand(const gchar *pattern, const gchar *provider_id)
{
	g_auto(GStrv) parts = g_strsplit(pattern, "{id}", -1);

	return g_strjoinv(provider_id, parts);
}

UcvRouteTable *
ucv_route_table_new(const gchar *provider_id)
{
	UcvRouteTable *self = g_new0(UcvRouteTable, 1);

	g_return_val_if_fail(provider_id != NULL, NULL);

	self->paths = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					    (GDestroyNotify)g_ptr_array_unref);
	for (guint i = 0; i < G_N_ELEMENTS(ucv_routes); i++) {
		g_autofree gchar *path = ucv_route_expand(ucv_routes[i].path, provider_id);
		GPtrArray *routes = g_hash_table_lookup(self->paths, path);

		if (routes == NULL) {
			routes = g_ptr_array_new();
			g_hash_table_insert(self->paths, g_steal_pointer(&path), routes);
		}
		g_ptr_array_add(routes, (gpointer)&ucv_routes[i]);
	}
	return self;
}

void
ucv_route_table_free(UcvRouteTable *self)
{
	if (self == NULL)
		return;
	g_hash_table_unref(self->paths);
	g_free(self);
}

const UcvRoute *
ucv_route_table_lookup(UcvRouteTable *self, const gchar *method, const gchar *path,
		       gboolean *path_known)
{
	GPtrArray *routes = g_hash_table_lookup(self->paths, path);

	*path_known = routes != NULL;
	if (routes == NULL)
		return NULL;
	for (guint i = 0; i < routes->len; i++) {
		const UcvRoute *route = g_ptr_array_index(routes, i);
		if (g_strcmp0(route->method, method) == 0)
			return route;
	}
	return NULL;
}
