/* Reads the site's products file: ProductV2 compute products, checked strictly at startup. */
#include "config.h"

#include "ucv-product.h"

#include "ucv-error.h"
#include "ucv-json.h"

static gboolean
ucv_product_check_type(JsonObject *root, GError **error)
{
	g_autofree gchar *type = NULL;

	if (!ucv_json_read_string(root, "type", &type, UCV_ERROR_CONFIG, error))
		return FALSE;
	/* products registered through the older API carry no type; they are compute by context */
	if (type != NULL && g_strcmp0(type, "compute") != 0) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_CONFIG,
			    "type is \"%s\", but only compute products are supported", type);
		return FALSE;
	}
	return TRUE;
}

static gboolean
ucv_product_parse_category(UcvProduct *self, JsonObject *root, GError **error)
{
	JsonNode *node = ucv_json_member(root, "category");
	JsonObject *category;

	if (node == NULL || !JSON_NODE_HOLDS_OBJECT(node)) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_CONFIG,
				    "category must be an object with a name");
		return FALSE;
	}
	category = json_node_get_object(node);
	if (!ucv_json_read_string(category, "name", &self->category, UCV_ERROR_CONFIG, error) ||
	    !ucv_json_read_string(category, "provider", &self->provider, UCV_ERROR_CONFIG, error) ||
	    !ucv_json_read_string(category, "accountingFrequency", &self->accounting_frequency,
				  UCV_ERROR_CONFIG, error)) {
		g_prefix_error(error, "category: ");
		return FALSE;
	}
	if (self->category == NULL || self->category[0] == '\0') {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_CONFIG, "category has no name");
		return FALSE;
	}
	return TRUE;
}

static gboolean
ucv_product_parse_resources(UcvProduct *self, JsonObject *root, GError **error)
{
	gint64 cpu = 0, memory = 0, gpu = 0;

	if (!ucv_json_read_int_strict(root, "cpu", 1, G_MAXINT32, &cpu, UCV_ERROR_CONFIG, error) ||
	    !ucv_json_read_int_strict(root, "memoryInGigs", 1, G_MAXINT32, &memory,
				      UCV_ERROR_CONFIG, error) ||
	    !ucv_json_read_int_strict(root, "gpu", 0, G_MAXINT32, &gpu, UCV_ERROR_CONFIG, error))
		return FALSE;
	if (cpu < 1 || memory < 1) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_CONFIG,
				    "cpu and memoryInGigs must be at least 1");
		return FALSE;
	}
	self->cpu = (guint)cpu;
	self->memory_gigs = (guint)memory;
	self->gpu = (guint)gpu;
	return TRUE;
}

static gboolean
ucv_product_parse_price(UcvProduct *self, JsonObject *root, GError **error)
{
	/* ProductV2 calls it price; older registrations call it pricePerUnit */
	const gchar *name = ucv_json_member(root, "price") != NULL ? "price" : "pricePerUnit";

	return ucv_json_read_int_strict(root, name, 0, G_MAXINT64, &self->price, UCV_ERROR_CONFIG,
					error);
}

/* UCloud's accounting frequencies; a product without one is charged by the minute, as UCloud's
 * compute products usually are. */
static gboolean
ucv_product_parse_frequency(UcvProduct *self, GError **error)
{
	static const struct {
		const gchar *name;
		gint64 period_ms;
	} frequencies[] = {
		{"PERIODIC_MINUTE", 60 * 1000},
		{"PERIODIC_HOUR", 3600 * 1000},
		{"PERIODIC_DAY", 24 * 3600 * 1000},
		{"ONCE", 0},
	};

	if (self->accounting_frequency == NULL)
		self->accounting_frequency = g_strdup("PERIODIC_MINUTE");
	for (guint i = 0; i < G_N_ELEMENTS(frequencies); i++) {
		if (g_strcmp0(self->accounting_frequency, frequencies[i].name) == 0) {
			self->period_ms = frequencies[i].period_ms;
			return TRUE;
		}
	}
	g_set_error(error, UCV_ERROR, UCV_ERROR_CONFIG,
		    "accountingFrequency must be PERIODIC_MINUTE, PERIODIC_HOUR, PERIODIC_DAY or "
		    "ONCE, not \"%s\"",
		    self->accounting_frequency);
	return FALSE;
}

static void
ucv_product_clear(gpointer data)
{
	UcvProduct *self = data;

	g_free(self->name);
	g_free(self->category);
	g_free(self->provider);
	g_free(self->description);
	g_free(self->accounting_frequency);
	g_free(self->json);
}

UcvProduct *
ucv_product_new_from_json(JsonNode *node, GError **error)
{
	g_autoptr(UcvProduct) self = NULL;
	JsonObject *root;

	g_return_val_if_fail(node != NULL, NULL);

	if (!JSON_NODE_HOLDS_OBJECT(node)) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_CONFIG,
				    "a product must be a JSON object");
		return NULL;
	}
	root = json_node_get_object(node);
	self = g_atomic_rc_box_new0(UcvProduct);
	if (!ucv_json_read_string(root, "name", &self->name, UCV_ERROR_CONFIG, error))
		return NULL;
	if (self->name == NULL || self->name[0] == '\0') {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_CONFIG, "the product has no name");
		return NULL;
	}
	if (!ucv_product_check_type(root, error) ||
	    !ucv_product_parse_category(self, root, error) ||
	    !ucv_json_read_string(root, "description", &self->description, UCV_ERROR_CONFIG,
				  error) ||
	    !ucv_product_parse_resources(self, root, error) ||
	    !ucv_product_parse_price(self, root, error)) {
		g_prefix_error(error, "product \"%s\": ", self->name);
		return NULL;
	}
	if (self->accounting_frequency == NULL &&
	    !ucv_json_read_string(root, "accountingFrequency", &self->accounting_frequency,
				  UCV_ERROR_CONFIG, error))
		return NULL;
	if (!ucv_product_parse_frequency(self, error)) {
		g_prefix_error(error, "product \"%s\": ", self->name);
		return NULL;
	}
	self->json = json_to_string(node, FALSE);
	return g_steal_pointer(&self);
}

UcvProduct *
ucv_product_ref(UcvProduct *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return g_atomic_rc_box_acquire(self);
}

void
ucv_product_unref(UcvProduct *self)
{
	g_return_if_fail(self != NULL);
	g_atomic_rc_box_release_full(self, ucv_product_clear);
}

static gboolean
ucv_product_list_add(GPtrArray *list, GHashTable *names, JsonNode *node, guint index,
		     GError **error)
{
	g_autoptr(UcvProduct) product = ucv_product_new_from_json(node, error);

	if (product == NULL) {
		g_prefix_error(error, "entry %u: ", index + 1);
		return FALSE;
	}
	if (!g_hash_table_add(names, g_strdup(product->name))) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_CONFIG,
			    "entry %u: product \"%s\" is listed twice", index + 1, product->name);
		return FALSE;
	}
	g_ptr_array_add(list, g_steal_pointer(&product));
	return TRUE;
}

GPtrArray *
ucv_product_list_parse(const gchar *json, gsize len, GError **error)
{
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GPtrArray) list =
		g_ptr_array_new_with_free_func((GDestroyNotify)ucv_product_unref);
	g_autoptr(GHashTable) names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_autoptr(GError) error_local = NULL;
	JsonNode *root;
	JsonArray *array;

	if (!json_parser_load_from_data(parser, json, (gssize)len, &error_local)) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_CONFIG, "malformed JSON: %s",
			    error_local->message);
		return NULL;
	}
	root = json_parser_get_root(parser);
	if (root == NULL || !JSON_NODE_HOLDS_ARRAY(root)) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_CONFIG,
				    "the products file must hold a JSON array of products");
		return NULL;
	}
	array = json_node_get_array(root);
	for (guint i = 0; i < json_array_get_length(array); i++) {
		if (!ucv_product_list_add(list, names, json_array_get_element(array, i), i, error))
			return NULL;
	}
	return g_steal_pointer(&list);
}

GPtrArray *
ucv_product_list_load(const gchar *path, GError **error)
{
	g_autofree gchar *contents = NULL;
	g_autoptr(GError) error_local = NULL;
	gsize len = 0;
	GPtrArray *list;

	if (!g_file_get_contents(path, &contents, &len, &error_local)) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_CONFIG, "cannot read the products file: %s",
			    error_local->message);
		return NULL;
	}
	list = ucv_product_list_parse(contents, len, error);
	if (list == NULL)
		g_prefix_error(error, "%s: ", path);
	return list;
}

UcvProduct *
ucv_product_list_find(GPtrArray *products, const gchar *product_id)
{
	g_return_val_if_fail(products != NULL, NULL);

	for (guint i = 0; i < products->len; i++) {
		UcvProduct *product = g_ptr_array_index(products, i);
		if (g_strcmp0(product->name, product_id) == 0)
			return product;
	}
	return NULL;
}
