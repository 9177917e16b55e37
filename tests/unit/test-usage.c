/* The usage formula: price × machines × running time in the product's periods, never more. */
#include "config.h"

#include "model/ucv-error.h"
#include "model/ucv-usage.h"

static UcvProduct *
product_with(gint64 price, const gchar *frequency)
{
	g_autofree gchar *json = g_strdup_printf(
		"{\"type\":\"compute\",\"name\":\"p\",\"category\":{\"name\":\"c\",\"provider\":"
		"\"x\",\"accountingFrequency\":\"%s\"},\"price\":%" G_GINT64_FORMAT
		",\"cpu\":1,\"memoryInGigs\":1,\"gpu\":0}",
		frequency, price);
	g_autoptr(JsonNode) node = json_from_string(json, NULL);
	g_autoptr(GError) error = NULL;
	UcvProduct *product = ucv_product_new_from_json(node, &error);

	g_assert_no_error(error);
	return product;
}

static void
test_usage_per_minute(void)
{
	g_autoptr(UcvProduct) product = product_with(3, "PERIODIC_MINUTE");

	g_assert_cmpint(product->period_ms, ==, 60000);
	g_assert_cmpint(ucv_usage_for(product, 1, 0), ==, 0);
	g_assert_cmpint(ucv_usage_for(product, 1, -5000), ==, 0);
	g_assert_cmpint(ucv_usage_for(product, 1, 60000), ==, 3);
	/* 90 s of 2 machines at 3 a minute: 9, and a part of a unit is not charged */
	g_assert_cmpint(ucv_usage_for(product, 2, 90000), ==, 9);
	g_assert_cmpint(ucv_usage_for(product, 1, 79999), ==, 3);
	g_assert_cmpint(ucv_usage_for(product, 1, 80000), ==, 4);
	g_assert_cmpint(ucv_usage_whole_periods(product, 119999), ==, 1);
	g_assert_cmpint(ucv_usage_whole_periods(product, 120000), ==, 2);
	g_assert_cmpint(ucv_usage_whole_periods(product, 0), ==, 0);
}

static void
test_usage_hour_and_day(void)
{
	g_autoptr(UcvProduct) hourly = product_with(60, "PERIODIC_HOUR");
	g_autoptr(UcvProduct) daily = product_with(24, "PERIODIC_DAY");

	g_assert_cmpint(ucv_usage_for(hourly, 1, 60 * 1000), ==, 1);
	g_assert_cmpint(ucv_usage_for(hourly, 4, 30 * 60 * 1000), ==, 120);
	g_assert_cmpint(ucv_usage_for(daily, 1, 3600 * 1000), ==, 1);
	g_assert_cmpint(ucv_usage_whole_periods(daily, 25 * 3600 * 1000), ==, 1);
}

static void
test_usage_once(void)
{
	g_autoptr(UcvProduct) product = product_with(500, "ONCE");

	g_assert_cmpint(product->period_ms, ==, 0);
	g_assert_cmpint(ucv_usage_for(product, 2, 0), ==, 0);
	g_assert_cmpint(ucv_usage_for(product, 2, 1), ==, 1000);
	g_assert_cmpint(ucv_usage_for(product, 2, 365LL * 24 * 3600 * 1000), ==, 1000);
	g_assert_cmpint(ucv_usage_whole_periods(product, 1), ==, 1);
}

static void
test_usage_saturates(void)
{
	g_autoptr(UcvProduct) product = product_with(G_MAXINT64 / 2, "PERIODIC_MINUTE");

	g_assert_cmpint(ucv_usage_for(product, 1000, 3600 * 1000), ==, G_MAXINT64);
	g_assert_cmpint(ucv_usage_for(product, 1, 30000), ==, G_MAXINT64 / 4);
}

static void
test_usage_free_product(void)
{
	g_autoptr(UcvProduct) product = product_with(0, "PERIODIC_MINUTE");

	g_assert_cmpint(ucv_usage_for(product, 8, 3600 * 1000), ==, 0);
}

static void
test_product_frequency_checked(void)
{
	const gchar *json = "{\"type\":\"compute\",\"name\":\"p\",\"category\":{\"name\":\"c\","
			    "\"provider\":\"x\",\"accountingFrequency\":\"PERIODIC_WEEK\"},"
			    "\"price\":1,\"cpu\":1,\"memoryInGigs\":1,\"gpu\":0}";
	const gchar *bare = "{\"type\":\"compute\",\"name\":\"p\",\"category\":{\"name\":\"c\","
			    "\"provider\":\"x\"},\"price\":1,\"cpu\":1,\"memoryInGigs\":1,"
			    "\"gpu\":0}";
	g_autoptr(JsonNode) node = json_from_string(json, NULL);
	g_autoptr(JsonNode) bare_node = json_from_string(bare, NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvProduct) product = ucv_product_new_from_json(node, &error);
	g_autoptr(UcvProduct) minutely = NULL;

	g_assert_null(product);
	g_assert_error(error, UCV_ERROR, UCV_ERROR_CONFIG);
	g_assert_nonnull(strstr(error->message, "PERIODIC_WEEK"));
	g_clear_error(&error);
	/* UCloud's compute products are charged by the minute unless they say otherwise */
	minutely = ucv_product_new_from_json(bare_node, &error);
	g_assert_no_error(error);
	g_assert_cmpint(minutely->period_ms, ==, 60000);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/usage/per-minute", test_usage_per_minute);
	g_test_add_func("/usage/hour-and-day", test_usage_hour_and_day);
	g_test_add_func("/usage/once", test_usage_once);
	g_test_add_func("/usage/saturates", test_usage_saturates);
	g_test_add_func("/usage/free-product", test_usage_free_product);
	g_test_add_func("/usage/frequency-checked", test_product_frequency_checked);
	return g_test_run();
}
