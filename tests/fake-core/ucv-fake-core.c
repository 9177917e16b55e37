/* A fake UCloud/Core for tests: provider token refresh and job control calls on loopback. */
#include "config.h"

#include "ucv-fake-core-private.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

#include "model/ucv-error.h"

#define UCV_FAKE_CORE_DEFAULT_PROVIDER    "example"
#define UCV_FAKE_CORE_DEFAULT_LIFETIME_S  600
#define UCV_FAKE_CORE_CORE_TOKEN_LIFETIME 600

G_DEFINE_TYPE(UcvFakeCore, ucv_fake_core, G_TYPE_OBJECT)

enum { SIGNAL_UPDATE_RECEIVED, SIGNAL_LAST };
static guint signals[SIGNAL_LAST] = {0};

UcvFakeCoreUpdate *
ucv_fake_core_update_copy(const UcvFakeCoreUpdate *update)
{
	UcvFakeCoreUpdate *copy = g_new0(UcvFakeCoreUpdate, 1);

	copy->job_id = g_strdup(update->job_id);
	copy->state = g_strdup(update->state);
	copy->status = g_strdup(update->status);
	copy->new_time_allocation_ms = update->new_time_allocation_ms;
	copy->json = g_strdup(update->json);
	copy->received_us = update->received_us;
	copy->sequence = update->sequence;
	return copy;
}

void
ucv_fake_core_update_free(UcvFakeCoreUpdate *update)
{
	if (update == NULL)
		return;
	g_free(update->job_id);
	g_free(update->state);
	g_free(update->status);
	g_free(update->json);
	g_free(update);
}

G_DEFINE_BOXED_TYPE(UcvFakeCoreUpdate, ucv_fake_core_update, ucv_fake_core_update_copy,
		    ucv_fake_core_update_free)

/* ---- HTTP helpers ---- */

void
ucv_fake_core_reply(SoupServerMessage *msg, guint status, const gchar *json)
{
	soup_server_message_set_status(msg, status, NULL);
	soup_server_message_set_response(msg, "application/json", SOUP_MEMORY_COPY, json,
					 strlen(json));
}

void
ucv_fake_core_reply_node(SoupServerMessage *msg, guint status, JsonNode *node)
{
	g_autofree gchar *json = json_to_string(node, FALSE);

	ucv_fake_core_reply(msg, status, json);
}

void
ucv_fake_core_reply_error(SoupServerMessage *msg, guint status, const gchar *why)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autoptr(JsonNode) node = NULL;

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "statusCode");
	json_builder_add_int_value(builder, status);
	json_builder_set_member_name(builder, "why");
	json_builder_add_string_value(builder, why);
	json_builder_set_member_name(builder, "errorCode");
	json_builder_add_null_value(builder);
	json_builder_end_object(builder);
	node = json_builder_get_root(builder);
	ucv_fake_core_reply_node(msg, status, node);
}

static JsonNode *
ucv_fake_core_parse_body(SoupServerMessage *msg, GError **error)
{
	SoupMessageBody *body = soup_server_message_get_request_body(msg);
	g_autoptr(GBytes) bytes = soup_message_body_flatten(body);
	g_autoptr(JsonParser) parser = json_parser_new();
	gsize len = 0;
	const gchar *data = g_bytes_get_data(bytes, &len);

	if (!json_parser_load_from_data(parser, data != NULL ? data : "", len, error))
		return NULL;
	if (json_parser_get_root(parser) == NULL) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_INVALID, "empty body");
		return NULL;
	}
	return json_node_copy(json_parser_get_root(parser));
}

JsonArray *
ucv_fake_core_items(JsonNode *body)
{
	JsonObject *obj;
	JsonNode *items;

	if (!JSON_NODE_HOLDS_OBJECT(body))
		return NULL;
	obj = json_node_get_object(body);
	items = json_object_get_member(obj, "items");
	if (items == NULL || !JSON_NODE_HOLDS_ARRAY(items))
		return NULL;
	return json_node_get_array(items);
}

const gchar *
ucv_fake_core_string_member(JsonObject *obj, const gchar *name)
{
	JsonNode *node = json_object_get_member(obj, name);

	if (node == NULL || !JSON_NODE_HOLDS_VALUE(node) ||
	    json_node_get_value_type(node) != G_TYPE_STRING)
		return NULL;
	return json_node_get_string(node);
}

JsonObject *
ucv_fake_core_object_element(JsonArray *array, guint i)
{
	JsonNode *node = json_array_get_element(array, i);

	return JSON_NODE_HOLDS_OBJECT(node) ? json_node_get_object(node) : NULL;
}

/* ---- tokens ---- */

static gchar *
ucv_fake_core_mint_access_token(UcvFakeCore *self)
{
	gchar *token = ucv_test_signer_mint_provider_token(self->signer, self->provider_id,
							   self->token_lifetime_s);
	gint64 *expiry = g_new(gint64, 1);

	*expiry = g_get_real_time() / G_USEC_PER_SEC + self->token_lifetime_s;
	g_hash_table_insert(self->access_tokens, g_strdup(token), expiry);
	return token;
}

static gboolean
ucv_fake_core_authorized(UcvFakeCore *self, SoupServerMessage *msg)
{
	SoupMessageHeaders *headers = soup_server_message_get_request_headers(msg);
	const gchar *auth = soup_message_headers_get_one(headers, "Authorization");
	const gint64 *expiry;

	if (auth == NULL || !g_str_has_prefix(auth, "Bearer "))
		return FALSE;
	expiry = g_hash_table_lookup(self->access_tokens, auth + strlen("Bearer "));
	if (expiry == NULL)
		return FALSE;
	return *expiry > g_get_real_time() / G_USEC_PER_SEC;
}

/* ---- endpoints ---- */

static void
ucv_fake_core_handle_refresh(UcvFakeCore *self, SoupServerMessage *msg, GHashTable *query,
			     JsonNode *body)
{
	JsonArray *items = ucv_fake_core_items(body);
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autoptr(JsonNode) reply = NULL;

	self->refresh_count++;
	if (items == NULL || json_array_get_length(items) == 0) {
		ucv_fake_core_reply_error(msg, SOUP_STATUS_BAD_REQUEST, "Bad request");
		return;
	}
	for (guint i = 0; i < json_array_get_length(items); i++) {
		JsonObject *item = ucv_fake_core_object_element(items, i);
		const gchar *token =
			item != NULL ? ucv_fake_core_string_member(item, "refreshToken") : NULL;

		if (g_strcmp0(token, self->refresh_token) != 0) {
			ucv_fake_core_reply_error(msg, SOUP_STATUS_UNAUTHORIZED, "Unauthorized");
			return;
		}
	}

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "responses");
	json_builder_begin_array(builder);
	for (guint i = 0; i < json_array_get_length(items); i++) {
		g_autofree gchar *access = ucv_fake_core_mint_access_token(self);

		json_builder_begin_object(builder);
		json_builder_set_member_name(builder, "accessToken");
		json_builder_add_string_value(builder, access);
		json_builder_set_member_name(builder, "csrfToken");
		json_builder_add_string_value(builder, "");
		json_builder_end_object(builder);
	}
	json_builder_end_array(builder);
	json_builder_end_object(builder);
	reply = json_builder_get_root(builder);
	ucv_fake_core_reply_node(msg, SOUP_STATUS_OK, reply);
}

static gboolean
ucv_fake_core_valid_state(const gchar *state)
{
	const gchar *states[] = {"IN_QUEUE", "RUNNING", "CANCELING", "SUCCESS",
				 "FAILURE",  "EXPIRED", "SUSPENDED"};

	for (guint i = 0; i < G_N_ELEMENTS(states); i++) {
		if (g_strcmp0(state, states[i]) == 0)
			return TRUE;
	}
	return FALSE;
}

/* Checks one {id, update} item the way Core does; returns the reason it would be refused. */
static const gchar *
ucv_fake_core_check_update_item(UcvFakeCore *self, JsonObject *item, guint *status)
{
	JsonNode *update_node;
	JsonObject *update;
	JsonNode *node;
	const gchar *id;

	*status = SOUP_STATUS_BAD_REQUEST;
	if (item == NULL)
		return "item is not an object";
	id = ucv_fake_core_string_member(item, "id");
	if (id == NULL || *id == '\0')
		return "item has no id";
	update_node = json_object_get_member(item, "update");
	if (update_node == NULL || !JSON_NODE_HOLDS_OBJECT(update_node))
		return "item has no update object";
	update = json_node_get_object(update_node);
	node = json_object_get_member(update, "timestamp");
	if (node != NULL && JSON_NODE_HOLDS_NULL(node))
		return "timestamp must not be null";
	node = json_object_get_member(update, "state");
	if (node != NULL && !JSON_NODE_HOLDS_NULL(node) &&
	    !ucv_fake_core_valid_state(ucv_fake_core_string_member(update, "state")))
		return "unknown job state";
	if (g_hash_table_contains(self->forgotten_jobs, id)) {
		*status = SOUP_STATUS_NOT_FOUND;
		return "Unknown job";
	}
	return NULL;
}

static UcvFakeCoreUpdate *
ucv_fake_core_record_item(UcvFakeCore *self, JsonObject *item, gint64 now_us)
{
	UcvFakeCoreUpdate *update = g_new0(UcvFakeCoreUpdate, 1);
	JsonNode *update_node = json_object_get_member(item, "update");
	JsonObject *obj = json_node_get_object(update_node);
	JsonNode *alloc = json_object_get_member(obj, "newTimeAllocation");

	update->job_id = g_strdup(ucv_fake_core_string_member(item, "id"));
	update->state = g_strdup(ucv_fake_core_string_member(obj, "state"));
	update->status = g_strdup(ucv_fake_core_string_member(obj, "status"));
	update->new_time_allocation_ms = -1;
	if (alloc != NULL && JSON_NODE_HOLDS_VALUE(alloc))
		update->new_time_allocation_ms = json_node_get_int(alloc);
	update->json = json_to_string(update_node, FALSE);
	update->received_us = now_us;
	update->sequence = self->sequence++;
	g_ptr_array_add(self->updates, update);
	return update;
}

static void
ucv_fake_core_handle_update(UcvFakeCore *self, SoupServerMessage *msg, GHashTable *query,
			    JsonNode *body)
{
	JsonArray *items = ucv_fake_core_items(body);
	gint64 now_us = g_get_real_time();
	guint first = self->updates->len;

	if (self->fail_count > 0) {
		self->fail_count--;
		ucv_fake_core_reply_error(msg, self->fail_status, "Injected failure");
		return;
	}
	if (items == NULL) {
		ucv_fake_core_reply_error(msg, SOUP_STATUS_BAD_REQUEST, "Bad request");
		return;
	}
	for (guint i = 0; i < json_array_get_length(items); i++) {
		guint status = 0;
		const gchar *why = ucv_fake_core_check_update_item(
			self, ucv_fake_core_object_element(items, i), &status);

		if (why != NULL) {
			ucv_fake_core_reply_error(msg, status, why);
			return;
		}
	}
	for (guint i = 0; i < json_array_get_length(items); i++)
		ucv_fake_core_record_item(self, ucv_fake_core_object_element(items, i), now_us);
	ucv_fake_core_reply(msg, SOUP_STATUS_OK, "{}");

	/* after answering, so a handler that iterates the loop cannot reorder the record */
	for (guint i = first; i < self->updates->len; i++)
		g_signal_emit(self, signals[SIGNAL_UPDATE_RECEIVED], 0,
			      g_ptr_array_index(self->updates, i));
}

static void
ucv_fake_core_handle_browse_ssh_keys(UcvFakeCore *self, SoupServerMessage *msg, GHashTable *query,
				     JsonNode *body)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autoptr(JsonNode) reply = NULL;

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "itemsPerPage");
	json_builder_add_int_value(builder, 250);
	json_builder_set_member_name(builder, "items");
	json_builder_begin_array(builder);
	for (guint i = 0; i < self->ssh_keys->len; i++)
		json_builder_add_value(builder,
				       json_node_copy(g_ptr_array_index(self->ssh_keys, i)));
	json_builder_end_array(builder);
	json_builder_set_member_name(builder, "next");
	json_builder_add_null_value(builder);
	json_builder_end_object(builder);
	reply = json_builder_get_root(builder);
	ucv_fake_core_reply_node(msg, SOUP_STATUS_OK, reply);
}

static void
ucv_fake_core_handle_retrieve(UcvFakeCore *self, SoupServerMessage *msg, GHashTable *query,
			      JsonNode *body)
{
	const gchar *id = query != NULL ? g_hash_table_lookup(query, "id") : NULL;
	const gchar *job = id != NULL ? g_hash_table_lookup(self->jobs, id) : NULL;

	if (job == NULL) {
		ucv_fake_core_reply_error(msg, SOUP_STATUS_NOT_FOUND, "Not found");
		return;
	}
	ucv_fake_core_reply(msg, SOUP_STATUS_OK, job);
}

static const struct {
	const gchar *method;
	const gchar *path;
	gboolean needs_token;
	UcvFakeCoreHandler func;
} ucv_fake_core_routes[] = {
	{"POST", "/auth/providers/refresh", FALSE, ucv_fake_core_handle_refresh},
	{"POST", "/api/jobs/control/update", TRUE, ucv_fake_core_handle_update},
	{"POST", "/api/jobs/control/browseSshKeys", TRUE, ucv_fake_core_handle_browse_ssh_keys},
	{"GET", "/api/jobs/control/retrieve", TRUE, ucv_fake_core_handle_retrieve},
	{"POST", "/api/accounting/v2/reportUsage", TRUE, ucv_fake_core_handle_report_usage},
	{"POST", "/api/jobs/control/chargeCredits", TRUE, ucv_fake_core_handle_charge_credits},
};

static void
ucv_fake_core_dispatch(SoupServer *server, SoupServerMessage *msg, const char *path,
		       GHashTable *query, gpointer user_data)
{
	UcvFakeCore *self = UCV_FAKE_CORE(user_data);
	const gchar *method = soup_server_message_get_method(msg);
	g_autoptr(JsonNode) body = NULL;
	g_autoptr(GError) error = NULL;

	for (guint i = 0; i < G_N_ELEMENTS(ucv_fake_core_routes); i++) {
		if (g_strcmp0(path, ucv_fake_core_routes[i].path) != 0)
			continue;
		if (g_strcmp0(method, ucv_fake_core_routes[i].method) != 0) {
			ucv_fake_core_reply_error(msg, SOUP_STATUS_METHOD_NOT_ALLOWED,
						  "Method not allowed");
			return;
		}
		if (ucv_fake_core_routes[i].func == ucv_fake_core_handle_update)
			self->update_calls++;
		if (ucv_fake_core_routes[i].needs_token && !ucv_fake_core_authorized(self, msg)) {
			ucv_fake_core_reply_error(msg, SOUP_STATUS_UNAUTHORIZED, "Unauthorized");
			return;
		}
		if (g_strcmp0(method, "POST") == 0) {
			body = ucv_fake_core_parse_body(msg, &error);
			if (body == NULL) {
				ucv_fake_core_reply_error(msg, SOUP_STATUS_BAD_REQUEST,
							  error->message);
				return;
			}
		}
		ucv_fake_core_routes[i].func(self, msg, query, body);
		return;
	}
	ucv_fake_core_reply_error(msg, SOUP_STATUS_NOT_FOUND, "Not found");
}

/* ---- listening ---- */

static void
ucv_fake_core_request_started_cb(SoupServer *server, SoupServerMessage *msg, gpointer user_data)
{
	UcvFakeCore *self = UCV_FAKE_CORE(user_data);
	GSocket *socket = soup_server_message_get_socket(msg);

	for (guint i = self->connections->len; i > 0; i--) {
		if (g_socket_is_closed(g_ptr_array_index(self->connections, i - 1)))
			g_ptr_array_remove_index_fast(self->connections, i - 1);
	}
	if (socket != NULL && !g_ptr_array_find(self->connections, socket, NULL))
		g_ptr_array_add(self->connections, g_object_ref(socket));
}

static void
ucv_fake_core_close_connections(UcvFakeCore *self)
{
	for (guint i = 0; i < self->connections->len; i++) {
		GSocket *socket = g_ptr_array_index(self->connections, i);

		if (!g_socket_is_closed(socket))
			g_socket_shutdown(socket, TRUE, TRUE, NULL);
	}
	g_ptr_array_set_size(self->connections, 0);
}

static void
ucv_fake_core_stop_server(UcvFakeCore *self)
{
	if (self->server == NULL)
		return;
	soup_server_disconnect(self->server);
	ucv_fake_core_close_connections(self);
	ucv_fake_core_drop_held_accounting(self);
	g_clear_object(&self->server);
}

static gboolean
ucv_fake_core_start_server(UcvFakeCore *self, guint port, GError **error)
{
	g_autoptr(SoupServer) server = soup_server_new("server-header", "ucv-fake-core", NULL);
	GSList *uris;

	soup_server_add_handler(server, NULL, ucv_fake_core_dispatch, self, NULL);
	g_signal_connect(server, "request-started", G_CALLBACK(ucv_fake_core_request_started_cb),
			 self);
	if (!soup_server_listen_local(server, port, SOUP_SERVER_LISTEN_IPV4_ONLY, error)) {
		g_prefix_error(error, "fake Core cannot listen on 127.0.0.1:%u: ", port);
		return FALSE;
	}
	uris = soup_server_get_uris(server);
	self->port = uris != NULL ? (guint)g_uri_get_port(uris->data) : port;
	g_slist_free_full(uris, (GDestroyNotify)g_uri_unref);
	self->server = g_steal_pointer(&server);
	return TRUE;
}

gboolean
ucv_fake_core_listen(UcvFakeCore *self, guint port, GError **error)
{
	g_return_val_if_fail(UCV_IS_FAKE_CORE(self), FALSE);
	g_return_val_if_fail(self->server == NULL, FALSE);

	if (!ucv_fake_core_start_server(self, port, error))
		return FALSE;
	g_free(self->url);
	self->url = g_strdup_printf("http://127.0.0.1:%u", self->port);
	self->down = FALSE;
	return TRUE;
}

gboolean
ucv_fake_core_set_down(UcvFakeCore *self, gboolean down, GError **error)
{
	g_return_val_if_fail(UCV_IS_FAKE_CORE(self), FALSE);
	g_return_val_if_fail(self->port != 0, FALSE);

	if (down == self->down)
		return TRUE;
	if (down) {
		ucv_fake_core_stop_server(self);
		self->down = TRUE;
		return TRUE;
	}
	if (!ucv_fake_core_start_server(self, self->port, error))
		return FALSE;
	self->down = FALSE;
	return TRUE;
}

gboolean
ucv_fake_core_get_down(UcvFakeCore *self)
{
	g_return_val_if_fail(UCV_IS_FAKE_CORE(self), FALSE);
	return self->down;
}

const gchar *
ucv_fake_core_get_url(UcvFakeCore *self)
{
	g_return_val_if_fail(UCV_IS_FAKE_CORE(self), NULL);
	return self->url;
}

guint
ucv_fake_core_get_port(UcvFakeCore *self)
{
	g_return_val_if_fail(UCV_IS_FAKE_CORE(self), 0);
	return self->port;
}

/* ---- state files ---- */

static gboolean
ucv_fake_core_load_signer(UcvFakeCore *self, GError **error)
{
	g_autofree gchar *key_path = g_build_filename(self->state_dir, "core-key.pem", NULL);
	g_autofree gchar *pub_path = g_build_filename(self->state_dir, "ucloud-public-key", NULL);
	g_autofree gchar *pub = NULL;

	if (g_file_test(key_path, G_FILE_TEST_EXISTS)) {
		self->signer = ucv_test_signer_new_from_file(key_path, error);
		if (self->signer == NULL)
			return FALSE;
	} else {
		self->signer = ucv_test_signer_new(error);
		if (self->signer == NULL)
			return FALSE;
		if (!ucv_test_signer_save(self->signer, key_path, error))
			return FALSE;
	}
	pub = ucv_test_signer_get_public_key_base64(self->signer);
	return g_file_set_contents_full(pub_path, pub, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0644,
					error);
}

static gchar *
ucv_fake_core_random_token(void)
{
	guint8 bytes[32];

	for (guint i = 0; i < sizeof(bytes); i += 4) {
		guint32 r = g_random_int();

		memcpy(bytes + i, &r, 4);
	}
	return g_compute_checksum_for_data(G_CHECKSUM_SHA256, bytes, sizeof(bytes));
}

static gboolean
ucv_fake_core_load_refresh_token(UcvFakeCore *self, GError **error)
{
	g_autofree gchar *path = g_build_filename(self->state_dir, "refresh-token", NULL);
	g_autofree gchar *contents = NULL;

	if (g_file_test(path, G_FILE_TEST_EXISTS)) {
		if (!g_file_get_contents(path, &contents, NULL, error))
			return FALSE;
		g_strstrip(contents);
		if (*contents != '\0') {
			self->refresh_token = g_steal_pointer(&contents);
			return TRUE;
		}
	}
	self->refresh_token = ucv_fake_core_random_token();
	return g_file_set_contents_full(path, self->refresh_token, -1,
					G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
}

UcvFakeCore *
ucv_fake_core_new(const gchar *state_dir, GError **error)
{
	g_autoptr(UcvFakeCore) self = g_object_new(UCV_TYPE_FAKE_CORE, NULL);

	g_return_val_if_fail(state_dir != NULL, NULL);

	if (g_mkdir_with_parents(state_dir, 0700) != 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "cannot create %s: %s",
			    state_dir, g_strerror(errno));
		return NULL;
	}
	self->state_dir = g_strdup(state_dir);
	if (!ucv_fake_core_load_signer(self, error)) {
		g_prefix_error(error, "fake Core key in %s: ", state_dir);
		return NULL;
	}
	if (!ucv_fake_core_load_refresh_token(self, error)) {
		g_prefix_error(error, "fake Core refresh token in %s: ", state_dir);
		return NULL;
	}
	return g_steal_pointer(&self);
}

const gchar *
ucv_fake_core_get_state_dir(UcvFakeCore *self)
{
	g_return_val_if_fail(UCV_IS_FAKE_CORE(self), NULL);
	return self->state_dir;
}

const gchar *
ucv_fake_core_get_refresh_token(UcvFakeCore *self)
{
	g_return_val_if_fail(UCV_IS_FAKE_CORE(self), NULL);
	return self->refresh_token;
}

gchar *
ucv_fake_core_get_refresh_token_file(UcvFakeCore *self)
{
	g_return_val_if_fail(UCV_IS_FAKE_CORE(self), NULL);
	return g_build_filename(self->state_dir, "refresh-token", NULL);
}

gchar *
ucv_fake_core_get_public_key_file(UcvFakeCore *self)
{
	g_return_val_if_fail(UCV_IS_FAKE_CORE(self), NULL);
	return g_build_filename(self->state_dir, "ucloud-public-key", NULL);
}

UcvTestSigner *
ucv_fake_core_get_signer(UcvFakeCore *self)
{
	g_return_val_if_fail(UCV_IS_FAKE_CORE(self), NULL);
	return self->signer;
}

/* ---- knobs and records ---- */

void
ucv_fake_core_set_provider_id(UcvFakeCore *self, const gchar *provider_id)
{
	g_return_if_fail(UCV_IS_FAKE_CORE(self));
	g_return_if_fail(provider_id != NULL);
	g_free(self->provider_id);
	self->provider_id = g_strdup(provider_id);
}

void
ucv_fake_core_set_token_lifetime(UcvFakeCore *self, gint64 seconds)
{
	g_return_if_fail(UCV_IS_FAKE_CORE(self));
	self->token_lifetime_s = seconds;
}

void
ucv_fake_core_revoke_access_tokens(UcvFakeCore *self)
{
	g_return_if_fail(UCV_IS_FAKE_CORE(self));
	g_hash_table_remove_all(self->access_tokens);
}

gchar *
ucv_fake_core_mint_core_token(UcvFakeCore *self)
{
	g_return_val_if_fail(UCV_IS_FAKE_CORE(self), NULL);
	return ucv_test_signer_mint_core_token(self->signer, UCV_FAKE_CORE_CORE_TOKEN_LIFETIME);
}

guint
ucv_fake_core_get_refresh_count(UcvFakeCore *self)
{
	g_return_val_if_fail(UCV_IS_FAKE_CORE(self), 0);
	return self->refresh_count;
}

void
ucv_fake_core_forget_job(UcvFakeCore *self, const gchar *job_id)
{
	g_return_if_fail(UCV_IS_FAKE_CORE(self));
	g_hash_table_add(self->forgotten_jobs, g_strdup(job_id));
}

void
ucv_fake_core_fail_updates(UcvFakeCore *self, guint http_status, guint count)
{
	g_return_if_fail(UCV_IS_FAKE_CORE(self));
	self->fail_status = http_status;
	self->fail_count = count;
}

guint
ucv_fake_core_get_update_calls(UcvFakeCore *self)
{
	g_return_val_if_fail(UCV_IS_FAKE_CORE(self), 0);
	return self->update_calls;
}

GPtrArray *
ucv_fake_core_get_updates(UcvFakeCore *self, const gchar *job_id)
{
	GPtrArray *copies =
		g_ptr_array_new_with_free_func((GDestroyNotify)ucv_fake_core_update_free);

	g_return_val_if_fail(UCV_IS_FAKE_CORE(self), copies);
	for (guint i = 0; i < self->updates->len; i++) {
		UcvFakeCoreUpdate *update = g_ptr_array_index(self->updates, i);

		if (job_id == NULL || g_strcmp0(update->job_id, job_id) == 0)
			g_ptr_array_add(copies, ucv_fake_core_update_copy(update));
	}
	return copies;
}

gchar *
ucv_fake_core_get_last_state(UcvFakeCore *self, const gchar *job_id)
{
	g_return_val_if_fail(UCV_IS_FAKE_CORE(self), NULL);
	for (guint i = self->updates->len; i > 0; i--) {
		UcvFakeCoreUpdate *update = g_ptr_array_index(self->updates, i - 1);

		if (update->state != NULL && g_strcmp0(update->job_id, job_id) == 0)
			return g_strdup(update->state);
	}
	return NULL;
}

void
ucv_fake_core_clear_updates(UcvFakeCore *self)
{
	g_return_if_fail(UCV_IS_FAKE_CORE(self));
	g_ptr_array_set_size(self->updates, 0);
}

static gboolean
ucv_fake_core_has_state(UcvFakeCore *self, const gchar *job_id, const gchar *state)
{
	for (guint i = 0; i < self->updates->len; i++) {
		UcvFakeCoreUpdate *update = g_ptr_array_index(self->updates, i);

		if (g_strcmp0(update->job_id, job_id) == 0 && g_strcmp0(update->state, state) == 0)
			return TRUE;
	}
	return FALSE;
}

static gboolean
ucv_fake_core_timeout_cb(gpointer user_data)
{
	gboolean *timed_out = user_data;

	*timed_out = TRUE;
	return G_SOURCE_REMOVE;
}

gboolean
ucv_fake_core_wait_for_state(UcvFakeCore *self, const gchar *job_id, const gchar *state,
			     guint timeout_ms)
{
	GMainContext *context = g_main_context_get_thread_default();
	g_autoptr(GSource) timeout = g_timeout_source_new(timeout_ms);
	gboolean timed_out = FALSE;

	g_return_val_if_fail(UCV_IS_FAKE_CORE(self), FALSE);
	g_source_set_callback(timeout, ucv_fake_core_timeout_cb, &timed_out, NULL);
	g_source_attach(timeout, context);
	while (!ucv_fake_core_has_state(self, job_id, state) && !timed_out)
		g_main_context_iteration(context, TRUE);
	g_source_destroy(timeout);
	return ucv_fake_core_has_state(self, job_id, state);
}

void
ucv_fake_core_add_ssh_key(UcvFakeCore *self, const gchar *title, const gchar *public_key)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autofree gchar *id = NULL;
	g_autofree gchar *fingerprint = NULL;

	g_return_if_fail(UCV_IS_FAKE_CORE(self));
	id = g_strdup_printf("%u", self->ssh_keys->len + 1);
	fingerprint = g_compute_checksum_for_string(G_CHECKSUM_SHA256, public_key, -1);
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "id");
	json_builder_add_string_value(builder, id);
	json_builder_set_member_name(builder, "owner");
	json_builder_add_string_value(builder, "user");
	json_builder_set_member_name(builder, "createdAt");
	json_builder_add_int_value(builder, g_get_real_time() / 1000);
	json_builder_set_member_name(builder, "fingerprint");
	json_builder_add_string_value(builder, fingerprint);
	json_builder_set_member_name(builder, "specification");
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "title");
	json_builder_add_string_value(builder, title);
	json_builder_set_member_name(builder, "key");
	json_builder_add_string_value(builder, public_key);
	json_builder_end_object(builder);
	json_builder_end_object(builder);
	g_ptr_array_add(self->ssh_keys, json_builder_get_root(builder));
}

void
ucv_fake_core_set_job(UcvFakeCore *self, const gchar *job_id, const gchar *job_json)
{
	g_return_if_fail(UCV_IS_FAKE_CORE(self));
	g_hash_table_insert(self->jobs, g_strdup(job_id), g_strdup(job_json));
}

/* ---- GObject ---- */

static void
ucv_fake_core_dispose(GObject *object)
{
	UcvFakeCore *self = UCV_FAKE_CORE(object);

	ucv_fake_core_stop_server(self);
	G_OBJECT_CLASS(ucv_fake_core_parent_class)->dispose(object);
}

static void
ucv_fake_core_finalize(GObject *object)
{
	UcvFakeCore *self = UCV_FAKE_CORE(object);

	g_free(self->state_dir);
	g_clear_object(&self->signer);
	g_free(self->refresh_token);
	g_free(self->provider_id);
	g_hash_table_unref(self->access_tokens);
	g_ptr_array_unref(self->connections);
	g_free(self->url);
	g_ptr_array_unref(self->updates);
	g_hash_table_unref(self->forgotten_jobs);
	g_ptr_array_unref(self->ssh_keys);
	g_hash_table_unref(self->jobs);
	ucv_fake_core_accounting_finalize(self);
	G_OBJECT_CLASS(ucv_fake_core_parent_class)->finalize(object);
}

static void
ucv_fake_core_class_init(UcvFakeCoreClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->dispose = ucv_fake_core_dispose;
	object_class->finalize = ucv_fake_core_finalize;

	/* Emitted for every recorded update item, in order, after the call was answered. */
	signals[SIGNAL_UPDATE_RECEIVED] = g_signal_new(
		"update-received", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
		G_TYPE_NONE, 1, UCV_TYPE_FAKE_CORE_UPDATE | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
ucv_fake_core_init(UcvFakeCore *self)
{
	self->provider_id = g_strdup(UCV_FAKE_CORE_DEFAULT_PROVIDER);
	self->token_lifetime_s = UCV_FAKE_CORE_DEFAULT_LIFETIME_S;
	self->access_tokens = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	self->connections = g_ptr_array_new_with_free_func(g_object_unref);
	self->updates = g_ptr_array_new_with_free_func((GDestroyNotify)ucv_fake_core_update_free);
	self->forgotten_jobs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	self->ssh_keys = g_ptr_array_new_with_free_func((GDestroyNotify)json_node_unref);
	self->jobs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	ucv_fake_core_accounting_init(self);
}
