/* The compute products this provider offers, as the site lists them in the products file. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef struct {
	gchar *name;     /* the product id jobs reference */
	gchar *category; /* category.name */
	gchar *provider; /* category.provider */
	gchar *description;
	guint cpu;
	guint memory_gigs;
	guint gpu;
	gint64 price;
	gchar *accounting_frequency; /* e.g. "PERIODIC_MINUTE" */
	gint64 period_ms;            /* the frequency's period; 0 for ONCE (charged once) */
	gchar *json;                 /* the product as written in the file (compact JSON) */
} UcvProduct;

UcvProduct *ucv_product_new_from_json(JsonNode *node, GError **error);
UcvProduct *ucv_product_ref(UcvProduct *self);
void ucv_product_unref(UcvProduct *self);

/* Parses a products file (a JSON array of ProductV2 compute products).
 * Returns a GPtrArray of UcvProduct; fails on duplicates or on non-compute entries. */
GPtrArray *ucv_product_list_load(const gchar *path, GError **error);
GPtrArray *ucv_product_list_parse(const gchar *json, gsize len, GError **error);
/* The product of `products` named `product_id` (not a new reference), or NULL. */
UcvProduct *ucv_product_list_find(GPtrArray *products, const gchar *product_id);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(UcvProduct, ucv_product_unref)

G_END_DECLS
