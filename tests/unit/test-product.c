/* Unit tests for the products file. */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>

#include "model/ucv-error.h"
#include "model/ucv-product.h"

/* the example from spec/configuration.md */
static const gchar *example_products =
	"[{\"type\":\"compute\",\"name\":\"example-compute-1\","
	"\"category\":{\"name\":\"example-compute\",\"provider\":\"example\",\"productType\":"
	"\"COMPUTE\",\"accountingUnit\":{\"name\":\"Core\",\"namePlural\":\"Cores\","
	"\"floatingPoint\":false,\"displayFrequencySuffix\":true},"
	"\"accountingFrequency\":\"PERIODIC_MINUTE\"},"
	"\"description\":\"1 vCPU, 2 GiB\",\"price\":1,\"cpu\":1,\"memoryInGigs\":2,\"gpu\":0}]";

static GPtrArray *
parse(const gchar *json, GError **error)
{
	return ucv_product_list_parse(json, strlen(json), error);
}

static void
parse_fails(const gchar *json, const gchar *why_part)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) list = parse(json, &error);

	g_assert_error(error, UCV_ERROR, UCV_ERROR_CONFIG);
	g_assert_null(list);
	if (strstr(error->message, why_part) == NULL)
		g_error("\"%s\" does not mention \"%s\"", error->message, why_part);
}

static void
test_product_example(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) list = parse(example_products, &error);
	UcvProduct *product;

	g_assert_no_error(error);
	g_assert_cmpuint(list->len, ==, 1);
	product = g_ptr_array_index(list, 0);
	g_assert_cmpstr(product->name, ==, "example-compute-1");
	g_assert_cmpstr(product->category, ==, "example-compute");
	g_assert_cmpstr(product->provider, ==, "example");
	g_assert_cmpstr(product->description, ==, "1 vCPU, 2 GiB");
	g_assert_cmpuint(product->cpu, ==, 1);
	g_assert_cmpuint(product->memory_gigs, ==, 2);
	g_assert_cmpuint(product->gpu, ==, 0);
	g_assert_cmpint(product->price, ==, 1);
	g_assert_cmpstr(product->accounting_frequency, ==, "PERIODIC_MINUTE");
	g_assert_nonnull(strstr(product->json, "\"accountingUnit\""));
	g_assert_null(strchr(product->json, '\n'));
}

static void
test_product_untyped_price_per_unit(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) list =
		parse("[{\"name\":\"a\",\"category\":{\"name\":\"c\",\"provider\":\"p\"},"
		      "\"cpu\":4,\"memoryInGigs\":8,\"pricePerUnit\":5,\"gpu\":null},"
		      "{\"name\":\"b\",\"category\":{\"name\":\"c\"},\"cpu\":2,\"memoryInGigs\":4,"
		      "\"price\":null,\"pricePerUnit\":3,\"futureKey\":[1]}]",
		      &error);
	UcvProduct *a, *b;

	g_assert_no_error(error);
	g_assert_cmpuint(list->len, ==, 2);
	a = g_ptr_array_index(list, 0);
	b = g_ptr_array_index(list, 1);
	g_assert_cmpint(a->price, ==, 5);
	g_assert_cmpuint(a->gpu, ==, 0);
	g_assert_cmpuint(a->cpu, ==, 4);
	g_assert_cmpint(b->price, ==, 3);
	g_assert_null(b->provider);
}

static void
test_product_empty(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) list = parse("[]", &error);

	g_assert_no_error(error);
	g_assert_cmpuint(list->len, ==, 0);
}

static void
test_product_invalid(void)
{
	parse_fails("[{\"name\":", "malformed JSON");
	parse_fails("", "array");
	parse_fails("{\"name\":\"a\"}", "array");
	parse_fails("[1]", "object");
	parse_fails("[{\"category\":{\"name\":\"c\"},\"cpu\":1,\"memoryInGigs\":1}]", "no name");
	parse_fails("[{\"name\":\"\",\"category\":{\"name\":\"c\"},\"cpu\":1,\"memoryInGigs\":1}]",
		    "no name");
	parse_fails("[{\"name\":\"a\",\"cpu\":1,\"memoryInGigs\":1}]", "category");
	parse_fails("[{\"name\":\"a\",\"category\":\"c\",\"cpu\":1,\"memoryInGigs\":1}]",
		    "category");
	parse_fails("[{\"name\":\"a\",\"category\":{\"provider\":\"p\"},\"cpu\":1,"
		    "\"memoryInGigs\":1}]",
		    "category has no name");
	parse_fails("[{\"type\":\"storage\",\"name\":\"a\",\"category\":{\"name\":\"c\"},"
		    "\"cpu\":1,\"memoryInGigs\":1}]",
		    "only compute");
	parse_fails("[{\"name\":\"a\",\"category\":{\"name\":\"c\"},\"cpu\":0,\"memoryInGigs\":1}]",
		    "cpu");
	parse_fails("[{\"name\":\"a\",\"category\":{\"name\":\"c\"},\"cpu\":1,\"memoryInGigs\":0}]",
		    "memoryInGigs");
	parse_fails("[{\"name\":\"a\",\"category\":{\"name\":\"c\"},\"memoryInGigs\":1}]", "cpu");
	parse_fails("[{\"name\":\"a\",\"category\":{\"name\":\"c\"},\"cpu\":\"1\","
		    "\"memoryInGigs\":1}]",
		    "cpu");
	parse_fails("[{\"name\":\"a\",\"category\":{\"name\":\"c\"},\"cpu\":1,\"memoryInGigs\":1,"
		    "\"price\":-1}]",
		    "price");
}

static void
test_product_duplicates(void)
{
	parse_fails("[{\"name\":\"a\",\"category\":{\"name\":\"c\"},\"cpu\":1,\"memoryInGigs\":1},"
		    "{\"name\":\"a\",\"category\":{\"name\":\"d\"},\"cpu\":2,\"memoryInGigs\":2}]",
		    "listed twice");
}

static void
test_product_error_names_entry(void)
{
	parse_fails("[{\"name\":\"a\",\"category\":{\"name\":\"c\"},\"cpu\":1,\"memoryInGigs\":1},"
		    "{\"name\":\"b\",\"category\":{\"name\":\"c\"},\"cpu\":1}]",
		    "entry 2: product \"b\"");
}

static void
test_product_load(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *dir = g_dir_make_tmp("ucv-test-XXXXXX", &error);
	g_autofree gchar *path = g_build_filename(dir, "products.json", NULL);
	g_autofree gchar *missing = g_build_filename(dir, "missing.json", NULL);
	g_autoptr(GPtrArray) list = NULL;
	g_autoptr(GPtrArray) none = NULL;

	g_assert_no_error(error);
	g_assert_true(g_file_set_contents(path, example_products, -1, &error));
	list = ucv_product_list_load(path, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(list->len, ==, 1);
	none = ucv_product_list_load(missing, &error);
	g_assert_error(error, UCV_ERROR, UCV_ERROR_CONFIG);
	g_assert_null(none);
	g_unlink(path);
	g_rmdir(dir);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/product/example", test_product_example);
	g_test_add_func("/product/untyped-price-per-unit", test_product_untyped_price_per_unit);
	g_test_add_func("/product/empty", test_product_empty);
	g_test_add_func("/product/invalid", test_product_invalid);
	g_test_add_func("/product/duplicates", test_product_duplicates);
	g_test_add_func("/product/error-names-entry", test_product_error_names_entry);
	g_test_add_func("/product/load", test_product_load);
	return g_test_run();
}
