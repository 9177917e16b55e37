/* Core's ssh/keyUploaded: a user's SSH keys changed; the engine renews their machines' seeds. */
#include "config.h"

#include "ucv-ssh-keys-api.h"

#include <glib/gi18n.h>

#include "model/ucv-error.h"
#include "model/ucv-json.h"

/*
 * POST /ucloud/<providerId>/ssh/keyUploaded, with Core's service token like every call.
 *
 * Current Core (Go), in SDU-eScience/UCloud:
 *   provider-integration/shared/pkg/orchestrators/ssh.go declares SshProviderKeyUploaded:
 *   BaseContext "ucloud/PROVIDER_ID/ssh", Operation "keyUploaded", rpc.ConventionUpdate (POST
 *   with a JSON body), RolesService; request SshProviderKeyUploadedRequest
 *     {"username":"<UCloud username>","allKeys":[SshKey,…]}
 *   and SshKey (orchestrators/jobs.go)
 *     {"id":"…","owner":"…","createdAt":<Unix ms>,"fingerprint":"…",
 *      "specification":{"title":"…","key":"<OpenSSH public key>"}};
 *   the answer is util.Empty, i.e. {}.
 *   core2/pkg/orchestrator/ssh.go (sshKeyNotifyProviders) sends it after a key is created AND
 *   after one is deleted, to every provider whose compute products the user may use, with the
 *   user's whole remaining key set (one page of up to 1000) and a ucloud-username header. A user
 *   with no keys left gets "allKeys":null (an empty Go slice). Core only logs a failed call.
 *   The reference provider (provider-integration/im2/pkg/controller/ssh_keys.go,
 *   SshKeyService.OnKeyUploaded) passes username and allKeys on to its integration.
 * Documented (Kotlin) form: SSHKeysProvider(providerId).onKeyUploaded in
 *   backend/app-orchestrator-service/api/src/main/kotlin/SSH.kt (gone from the repository since
 *   "Remove original backend code"): httpUpdate("/ucloud/<id>/ssh", "keyUploaded"), roles
 *   SERVICE, body SSHKeysProviderKeyUploaded {"username","allKeys":[SSHKey]} with allKeys
 *   never null, answer Unit ({}); services/SshKeyService.kt sends it on create and delete too.
 *
 * So both forms are the same body; only "allKeys":null differs. Here username must be a
 * non-empty string without control characters and allKeys, when present, an array of SshKey
 * objects with a string specification.key (anything else is a 400). An absent or null allKeys
 * means each job asks Core for its owner's keys (jobs/control/browseSshKeys, as provisioning
 * does), which is also right for current Core's null (no keys left). The answer, {}, comes at
 * once: the seeds are rewritten in the background (Core allows 5 s per call).
 */

static gboolean
username_is_valid(const gchar *username)
{
	if (username == NULL || username[0] == '\0')
		return FALSE;
	/* it goes into log lines: no line breaks or terminal escapes */
	for (const gchar *p = username; *p != '\0'; p = g_utf8_next_char(p)) {
		if (g_unichar_iscntrl(g_utf8_get_char(p)))
			return FALSE;
	}
	return TRUE;
}

/* specification.key of one SshKey, or NULL. */
static const gchar *
key_of(JsonNode *item)
{
	JsonObject *obj = JSON_NODE_HOLDS_OBJECT(item) ? json_node_get_object(item) : NULL;
	JsonNode *spec = ucv_json_member(obj, "specification");
	JsonNode *key = NULL;

	if (spec != NULL && JSON_NODE_HOLDS_OBJECT(spec))
		key = ucv_json_member(json_node_get_object(spec), "key");
	if (key == NULL || json_node_get_value_type(key) != G_TYPE_STRING)
		return NULL;
	return json_node_get_string(key);
}

/* The keys of allKeys in order; *keys stays NULL when Core did not send them. */
static gboolean
parse_all_keys(JsonObject *root, GStrv *keys, GError **error)
{
	JsonNode *all = ucv_json_member(root, "allKeys");
	g_autoptr(GStrvBuilder) builder = g_strv_builder_new();
	JsonArray *array;

	*keys = NULL;
	if (all == NULL)
		return TRUE;
	if (!JSON_NODE_HOLDS_ARRAY(all)) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_INVALID,
				    _("allKeys must be an array"));
		return FALSE;
	}
	array = json_node_get_array(all);
	for (guint i = 0; i < json_array_get_length(array); i++) {
		const gchar *key = key_of(json_array_get_element(array, i));

		if (key == NULL) {
			g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID,
				    _("allKeys item %u has no specification.key"), i + 1);
			return FALSE;
		}
		g_strv_builder_add(builder, key);
	}
	*keys = g_strv_builder_end(builder);
	return TRUE;
}

JsonNode *
ucv_ssh_keys_api_key_uploaded(UcvApiRequest *request, GError **error)
{
	JsonObject *root = request->body != NULL && JSON_NODE_HOLDS_OBJECT(request->body)
				   ? json_node_get_object(request->body)
				   : NULL;
	g_autofree gchar *username = NULL;
	g_auto(GStrv) keys = NULL;
	JsonNode *node;

	if (root == NULL) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_INVALID,
				    _("the request must be a JSON object with a username"));
		return NULL;
	}
	if (!ucv_json_read_string(root, "username", &username, UCV_ERROR_INVALID, error))
		return NULL;
	if (!username_is_valid(username)) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_INVALID,
				    _("the request has no valid username"));
		return NULL;
	}
	if (!parse_all_keys(root, &keys, error))
		return NULL;
	if (!ucv_engine_refresh_ssh_keys(request->engine, username, (const gchar *const *)keys,
					 NULL, error))
		return NULL;
	node = json_node_new(JSON_NODE_OBJECT);
	json_node_take_object(node, json_object_new());
	return node;
}
